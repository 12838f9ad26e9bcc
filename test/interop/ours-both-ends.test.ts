// A sanity suite: our client against our server, over WebSocket and HTTP batch.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { clientScenarios } from "./client-scenarios.js";
import { OurApi, ServerState, type Api, type UpstreamLike } from "./our-api.js";
import { VALUE_CASES, WAIT } from "./helpers.js";

/** The upstream our server proxies capabilities from: another server of ours. */
class UpstreamCounter extends CapnWeb.Target {
  constructor(private count: number) {
    super();
  }
  increment(amount = 1) {
    this.count += amount;
    return this.count;
  }
}
class UpstreamApi extends CapnWeb.Target {
  makeCounter(start: number) {
    return new UpstreamCounter(start);
  }
}

let server: CapnWeb.Server;
let upstreamServer: CapnWeb.Server;
let upstream: CapnWeb.Stub<UpstreamLike>;
const states: ServerState[] = [];
const lastState = () => states[states.length - 1]!;

beforeAll(async () => {
  upstreamServer = await CapnWeb.serve({ port: 0, main: new UpstreamApi() });
  upstream = await CapnWeb.connect<UpstreamLike>(upstreamServer.wsUrl);
  server = await CapnWeb.serve({
    port: 0,
    main: () => {
      const state = new ServerState();
      states.push(state);
      return new OurApi(state, () => upstream);
    },
  });
});

afterAll(async () => {
  await server.close();
  CapnWeb.close(upstream);
  await upstreamServer.close();
});

describe.each([{ name: "WebSocket", ws: true }, { name: "HTTP batch", ws: false }])("our client → our server over $name", ({ ws }) => {
  let api: CapnWeb.Stub<Api>;

  beforeEach(async () => {
    api = await CapnWeb.connect<Api>(ws ? server.wsUrl : server.url, { timeout: 5000 });
    if (ws) {
      await api.square(1);
      await expectBaseline();
    }
  });

  afterEach(async () => {
    CapnWeb.close(api);
    await vi.waitFor(() => expect(server.handlers.stats().sessions).toBe(0), WAIT);
  });

  /** The only open server session (WebSocket). */
  function serverSession(): CapnWeb.RpcSession {
    const [live] = [...server.handlers.sessions];
    return live!.session;
  }

  async function expectBaseline(): Promise<void> {
    if (ws) {
      await vi.waitFor(() => {
        expect(CapnWeb.stats(api)).toEqual({ imports: 1, exports: 1 });
        expect(server.handlers.stats()).toEqual({ sessions: 1, imports: 1, exports: 1 });
      }, WAIT);
    } else {
      await vi.waitFor(() => {
        expect(CapnWeb.stats(api)).toEqual({ imports: 0, exports: 0 });
        expect(server.handlers.stats()).toEqual({ sessions: 0, imports: 0, exports: 0 });
      }, WAIT);
    }
  }

  clientScenarios({ ws, api: () => api, expectBaseline, serverExports: () => server.handlers.stats().exports });

  it("a plain call returns the server's answer", async () => {
    expect(await Promise.all([api.square(7), api.add(2, 40)])).toEqual([49, 42]);
    await expectBaseline();
  });

  it("a four-call pipeline resolves in one round trip's worth of messages", async () => {
    const received: string[] = [];
    if (ws) {
      // Watch what the server session receives: four pushes and one pull, nothing in between.
      const session = serverSession();
      const receive = session.receive.bind(session);
      session.receive = (frame: string) => {
        received.push((JSON.parse(frame) as unknown[])[0] as string);
        receive(frame);
      };
    }
    const users = api.users();
    const user = users.get(1);
    const profile = user.profile();
    expect(await profile.name()).toBe("user-1");
    if (ws) expect(received.slice(0, 5)).toEqual(["push", "push", "push", "push", "pull"]);
    CapnWeb.release(users);
    CapnWeb.release(user);
    CapnWeb.release(profile);
    await expectBaseline();
  });

  it.runIf(ws)("a callback passed as an argument is called by the server", async () => {
    expect(await api.callFunction((i: number) => i * 2, 21)).toEqual({ result: 42 });
    await expectBaseline();
  });

  it.runIf(ws)("a callback the server keeps is called later, and given back when released", async () => {
    const events: string[] = [];
    await api.subscribe((event: string) => {
      events.push(event);
      return `ack ${event}`;
    });
    expect(await api.notify("one")).toEqual(["ack one"]);
    expect(events).toEqual(["one"]);
    expect(CapnWeb.stats(api).exports).toBe(2);
    await api.unsubscribeAll();
    await expectBaseline();
  });

  it.runIf(ws)("a returned Target (a Counter) can be called afterwards, and is disposed when released", async () => {
    const counter = await api.makeCounter(2);
    expect(await counter.increment(3)).toBe(5);
    expect(await counter.value).toBe(5);
    const state = lastState();
    CapnWeb.release(counter);
    await expectBaseline();
    expect(state.countersDisposed).toBe(1);
  });

  it.runIf(!ws)("a returned Target (a Counter) is called pipelined in the same batch", async () => {
    const counter = api.makeCounter(2);
    expect(await Promise.all([counter.increment(3), counter.increment(10), counter.value])).toEqual([5, 15, 15]);
    await expectBaseline();
  });

  describe("every value type survives echo(x) both ways", () => {
    it.each(VALUE_CASES.map((c) => [c.name, c] as const))("%s", async (_name, valueCase) => {
      valueCase.check(await api.echo(valueCase.make()));
      const received = lastState().received;
      valueCase.check(received[received.length - 1]);
      await expectBaseline();
    });
  });

  describe("errors thrown by the server", () => {
    it("a CapnWeb.Error(not_found) keeps its type, message and props", async () => {
      const result = await CapnWeb.await(api.notFound());
      expect(result.ok).toBe(false);
      if (result.ok) return;
      const error = result.error as CapnWeb.Error & Record<string, unknown>;
      expect(error).toBeInstanceOf(CapnWeb.Error);
      expect(error.type).toBe("not_found");
      // Our decoder keeps an unknown error class name as the remote name.
      expect(error.name).toBe("CapnWebError");
      expect(error.message).toBe("no such user");
      expect(error.id).toBe(7);
      await expectBaseline();
    });

    it("a plain TypeError is of type remote and keeps its name", async () => {
      const result = await CapnWeb.await(api.throwType());
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error.type).toBe("remote");
      expect(result.error.name).toBe("TypeError");
      expect(result.error.message).toBe("expected a number");
    });

    it("a RangeError with a code prop has .type = code", async () => {
      let caught: unknown;
      try {
        await api.throwRange();
      } catch (error) {
        caught = error;
      }
      const error = caught as CapnWeb.Error & Record<string, unknown>;
      expect(error).toBeInstanceOf(CapnWeb.Error);
      expect(error.type).toBe("out_of_range");
      expect(error.name).toBe("RangeError");
      expect(error.index).toBe(12);
    });
  });

  describe("a capability the server obtained from another connection", () => {
    it("returned as a promise stub, reaches our client", async () => {
      const counter = api.upstreamCounterPromise(5);
      const [stub, viaPipeline] = await Promise.all([counter, counter.increment(1)]);
      expect(viaPipeline).toBe(6);
      expect(typeof stub).toBe("function");
      CapnWeb.release(counter);
      CapnWeb.release(stub);
    });

    it("returned as the whole result after being awaited, reaches our client", async () => {
      // The server method returns a resolved (non-promise) stub; pulling the result must give
      // the capability.
      const counter = api.upstreamCounterResolved(5);
      const [stub, viaPipeline] = await Promise.all([counter, counter.increment(1)]);
      expect(viaPipeline).toBe(6);
      expect(typeof stub).toBe("function");
      CapnWeb.release(counter);
      CapnWeb.release(stub);
    });
  });

  it.runIf(ws)("a callback the server returns as the whole result is our own function again", async () => {
    const back = await api.bounce((x: number) => x * 10);
    expect(await back(2)).toBe(20);
    CapnWeb.release(back);
  });

  it.runIf(ws)("a callback the server returns inside an object is our own function again", async () => {
    const back = await api.bounce({ fn: (x: number) => x * 10 });
    expect(await back.fn(2)).toBe(20);
    CapnWeb.release(back);
  });
});

describe("a main factory gives each connection its own state", () => {
  class Tally extends CapnWeb.Target {
    private total = 0;
    constructor(private readonly transport: string) {
      super();
    }
    add(n: number) {
      this.total += n;
      return this.total;
    }
    kind() {
      return this.transport;
    }
  }
  interface TallyApi {
    add(n: number): number;
    kind(): string;
  }

  let tallyServer: CapnWeb.Server;
  const made: string[] = [];

  beforeAll(async () => {
    tallyServer = await CapnWeb.serve({
      port: 0,
      main: (info: CapnWeb.ConnectionInfo) => {
        made.push(info.transport);
        return new Tally(info.transport);
      },
    });
  });

  afterAll(async () => {
    await tallyServer.close();
  });

  it("two WebSocket connections do not share their main object", async () => {
    made.length = 0;
    const a = await CapnWeb.connect<TallyApi>(tallyServer.wsUrl);
    const b = await CapnWeb.connect<TallyApi>(tallyServer.wsUrl);
    try {
      expect(await a.add(1)).toBe(1);
      expect(await a.add(2)).toBe(3);
      expect(await b.add(10)).toBe(10);
      expect(await a.add(0)).toBe(3);
      expect(await b.kind()).toBe("websocket");
      expect(made).toEqual(["websocket", "websocket"]);
      expect(tallyServer.handlers.stats().sessions).toBe(2);
    } finally {
      CapnWeb.close(a);
      CapnWeb.close(b);
    }
    await vi.waitFor(() => expect(tallyServer.handlers.stats().sessions).toBe(0), WAIT);
  });

  it("each HTTP batch gets a fresh main object; calls in one batch share it", async () => {
    made.length = 0;
    const api = await CapnWeb.connect<TallyApi>(tallyServer.url);
    expect(await Promise.all([api.add(1), api.add(2), api.kind()])).toEqual([1, 3, "http-batch"]);
    expect(await api.add(5)).toBe(5);
    expect(made).toEqual(["http-batch", "http-batch"]);
    CapnWeb.close(api);
  });
});
