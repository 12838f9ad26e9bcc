// Our client against a real capnweb 0.12 server, over WebSocket and HTTP batch.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import { RpcTarget, type RpcStub } from "capnweb";
import * as CapnWeb from "../../src/index.js";
import { LocalCounter, clientScenarios } from "./client-scenarios.js";
import { VALUE_CASES, WAIT, frameKinds, startCapnwebServer, type CapnwebServer, type CapnwebWsSession } from "./helpers.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

// -------------------------------------------------------------------------------------------------
// The capnweb server's main interface

/** What the capnweb server saw, per session. */
class ServerState {
  received: unknown[] = [];
  countersDisposed = 0;
}

class Profile extends RpcTarget {
  constructor(private readonly userId: number) {
    super();
  }
  name() {
    return `user-${this.userId}`;
  }
}

class User extends RpcTarget {
  constructor(private readonly id: number) {
    super();
  }
  profile() {
    return new Profile(this.id);
  }
}

class Users extends RpcTarget {
  get(id: number) {
    return new User(id);
  }
}

class Counter extends RpcTarget {
  private readonly calls: number[] = [];
  constructor(
    private count: number,
    private readonly state: ServerState,
  ) {
    super();
  }
  increment(amount = 1) {
    this.count += amount;
    return this.count;
  }
  get value() {
    return this.count;
  }
  /** Records the order in which calls arrive. */
  record(id: number) {
    this.calls.push(id);
    return id;
  }
  log() {
    return this.calls;
  }
  [Symbol.dispose]() {
    this.state.countersDisposed++;
  }
}

interface LocalCounterApi {
  increment(amount: number): number;
}

class ServerApi extends RpcTarget {
  private shared: Counter | undefined;
  private subscribers: Array<RpcStub<(event: string) => string>> = [];
  constructor(readonly state: ServerState) {
    super();
  }
  square(i: number) {
    return i * i;
  }
  add(a: number, b: number) {
    return a + b;
  }
  users() {
    return new Users();
  }
  echo(value: unknown) {
    this.state.received.push(value);
    return value;
  }
  makeCounter(start: number) {
    return new Counter(start, this.state);
  }
  /** Calls back a Target the client passed in. */
  incrementCounter(counter: RpcStub<LocalCounterApi>, amount: number) {
    return counter.increment(amount);
  }
  /** Calls back a function the client passed in. */
  async callFunction(fn: RpcStub<(i: number) => number>, i: number) {
    return { result: await fn(i) };
  }
  /** Keeps the callback beyond the call (capnweb needs a dup for that). */
  subscribe(fn: RpcStub<(event: string) => string>) {
    this.subscribers.push(fn.dup());
  }
  async notify(event: string) {
    return Promise.all(this.subscribers.map((fn) => fn(event)));
  }
  unsubscribeAll() {
    for (const fn of this.subscribers) fn[Symbol.dispose]();
    this.subscribers = [];
  }
  generateFibonacci(length: number) {
    const result = [0, 1];
    while (result.length < length) result.push(result[result.length - 1]! + result[result.length - 2]!);
    return result.slice(0, length);
  }
  throwRange() {
    throw Object.assign(new RangeError("index 12 is out of range"), { code: "out_of_range", index: 12, detail: { max: 10 } });
  }
  throwPlain() {
    throw new TypeError("not a number");
  }
  /** Returns a plain function, which capnweb exports by reference. */
  makeAdder(n: number) {
    return (x: number) => x + n;
  }
  /** Returns data and a Target side by side. */
  makeLabelledCounter(label: string, start: number) {
    return { label, counter: new Counter(start, this.state), tags: [label, "counter"] };
  }
  /** Calls back a function found inside an object argument. */
  async applyInside(arg: { fn: RpcStub<(x: number) => number>; x: number }) {
    return await arg.fn(arg.x);
  }
  /** Hands a callback back to the client (dup: capnweb disposes arguments after the call). */
  bounce(fn: RpcStub<(x: number) => number>) {
    return fn.dup();
  }
  /** The same Counter every time: capnweb re-exports it under the same ID. */
  sharedCounter() {
    return (this.shared ??= new Counter(0, this.state));
  }
  async slow(ms: number) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return "slow done";
  }
}

/** A capability type: what the server returns by reference (its stubs are what we get). */
type Cap<T> = T & CapnWeb.Target;

interface Api {
  square(i: number): number;
  add(a: number, b: number): number;
  users(): Cap<{ get(id: number): Cap<{ profile(): Cap<{ name(): string }> }> }>;
  echo(value: unknown): unknown;
  makeCounter(start: number): Cap<CounterApi>;
  makeAdder(n: number): (x: number) => number;
  makeLabelledCounter(label: string, start: number): { label: string; counter: Cap<CounterApi>; tags: string[] };
  applyInside(arg: { fn: (x: number) => number; x: number }): number;
  slow(ms: number): string;
  sharedCounter(): Cap<CounterApi>;
  bounce(fn: (x: number) => number): (x: number) => number;
  /** Takes our Target, or the server's own Counter. */
  incrementCounter(counter: Cap<LocalCounterApi> | CapnWeb.Stub<Cap<CounterApi>>, amount: number): number;
  callFunction(fn: (i: number) => number, i: number): { result: number };
  subscribe(fn: (event: string) => string): void;
  notify(event: string): string[];
  unsubscribeAll(): void;
  generateFibonacci(length: number): number[];
  throwRange(): never;
  throwPlain(): never;
  nonexistent(): never;
}

interface CounterApi {
  increment(amount?: number): number;
  value: number;
  record(id: number): number;
  log(): number[];
}

// -------------------------------------------------------------------------------------------------

let server: CapnwebServer;
const states: ServerState[] = [];

beforeAll(async () => {
  server = await startCapnwebServer(() => {
    const state = new ServerState();
    states.push(state);
    return new ServerApi(state);
  });
});

afterAll(async () => {
  await server.close();
});

const transports = [
  { name: "WebSocket", kind: "websocket" as const },
  { name: "HTTP batch", kind: "http" as const },
];

describe.each(transports)("our client → capnweb server over $name", ({ kind }) => {
  const ws = kind === "websocket";
  let api: CapnWeb.Stub<Api>;
  /** The capnweb side of this test's WebSocket session. */
  let peer: CapnwebWsSession | undefined;

  beforeEach(async () => {
    api = await CapnWeb.connect<Api>(ws ? server.wsUrl : server.url, { timeout: 5000 });
    if (ws) {
      // Any call makes the server accept the connection; the session is then the newest one.
      await api.square(1);
      peer = await server.lastSession();
      await expectBaseline();
    }
  });

  afterEach(() => {
    CapnWeb.close(api);
    peer = undefined;
  });

  /** Both tables, ours and capnweb's, are back to the main interfaces only. */
  async function expectBaseline(): Promise<void> {
    if (ws) {
      await vi.waitFor(() => {
        expect(CapnWeb.stats(api)).toEqual({ imports: 1, exports: 1 });
        expect(peer!.session.getStats()).toEqual({ imports: 1, exports: 1 });
      }, WAIT);
    } else {
      // A batch is its own session: once it has answered, nothing of it is left on our side.
      await vi.waitFor(() => expect(CapnWeb.stats(api)).toEqual({ imports: 0, exports: 0 }), WAIT);
    }
  }

  clientScenarios({ ws, api: () => api, expectBaseline, serverExports: () => peer!.session.getStats().exports });

  it("a plain call returns the server's answer", async () => {
    expect(await api.square(7)).toBe(49);
    expect(await api.add(2, 40)).toBe(42);
    await expectBaseline();
  });

  it("calls made in the same turn all resolve", async () => {
    const postsBefore = server.posts;
    expect(await Promise.all([api.square(2), api.square(3), api.add(1, 1)])).toEqual([4, 9, 2]);
    if (!ws) expect(server.posts).toBe(postsBefore + 1);
    await expectBaseline();
  });

  it("a four-call pipeline resolves in one round trip's worth of messages", async () => {
    const from = peer?.frames.length ?? 0;
    const postsBefore = server.posts;
    const users = api.users();
    const user = users.get(1);
    const profile = user.profile();
    const name = profile.name();
    expect(await name).toBe("user-1");
    if (ws) {
      // Four pushes and one pull reach the server before it says anything; then one resolve.
      expect(frameKinds(peer!.frames, from).slice(0, 6)).toEqual([
        ["in", "push"],
        ["in", "push"],
        ["in", "push"],
        ["in", "push"],
        ["in", "pull"],
        ["out", "resolve"],
      ]);
    } else {
      expect(server.posts).toBe(postsBefore + 1);
    }
    CapnWeb.release(users);
    CapnWeb.release(user);
    CapnWeb.release(profile);
    await expectBaseline();
  });

  it("a pipelined chain written in one expression resolves", async () => {
    expect(await api.users().get(7).profile().name()).toBe("user-7");
  });

  it.runIf(ws)("a callback passed as an argument is called by the server", async () => {
    const seen: number[] = [];
    const double = (i: number) => {
      seen.push(i);
      return i * 2;
    };
    expect(await api.callFunction(double, 21)).toEqual({ result: 42 });
    expect(seen).toEqual([21]);
    await expectBaseline();
  });

  it.runIf(ws)("a callback the server keeps is called after the call that passed it returned", async () => {
    const events: string[] = [];
    await api.subscribe((event: string) => {
      events.push(event);
      return `ack ${event}`;
    });
    expect(await api.notify("first")).toEqual(["ack first"]);
    expect(await api.notify("second")).toEqual(["ack second"]);
    expect(events).toEqual(["first", "second"]);
    expect(CapnWeb.stats(api).exports).toBe(2);
    await api.unsubscribeAll();
    await expectBaseline();
  });

  it.runIf(ws)("a returned Target (a Counter) can be called afterwards, and released", async () => {
    const counter = await api.makeCounter(2);
    expect(await counter.increment(3)).toBe(5);
    expect(await counter.increment()).toBe(6);
    expect(await counter.value).toBe(6);
    // main + the Counter (the answers to the pushes are released once resolved)
    await vi.waitFor(() => expect(peer!.session.getStats().exports).toBe(2));
    const state = states[states.length - 1]!;
    CapnWeb.release(counter);
    await expectBaseline();
    await vi.waitFor(() => expect(state.countersDisposed).toBe(1));
  });

  it.runIf(!ws)("a returned Target (a Counter) is called pipelined in the same batch", async () => {
    const postsBefore = server.posts;
    const counter = api.makeCounter(2);
    const [a, b, value] = await Promise.all([counter.increment(3), counter.increment(10), counter.value]);
    expect([a, b, value]).toEqual([5, 15, 15]);
    expect(server.posts).toBe(postsBefore + 1);
    await expectBaseline();
  });

  it.runIf(!ws)("a capability from an earlier batch fails instead of hanging", async () => {
    const counter = await api.makeCounter(1);
    const result = await CapnWeb.await(counter.increment(1), { timeout: 3000 });
    expect(result.ok).toBe(false);
    // The batch's session has ended: the capability is stale, and says so.
    if (!result.ok) expect(result.error.type).toBe("stale");
  });

  it("a server's own Target, still a promise, can be passed back to it as an argument", async () => {
    // ["pipeline", id] in the arguments: the server receives its own Counter and calls it.
    const counter = api.makeCounter(10);
    // Both in one Promise.all, so that over HTTP they are pulled in the same batch. The two
    // calls reach the Counter along different paths, so either may run first.
    const both = await Promise.all([api.incrementCounter(counter, 5), counter.increment(1)]);
    expect([[15, 16], [16, 11]]).toContainEqual(both);
    CapnWeb.release(counter);
    await expectBaseline();
  });

  it.runIf(ws)("a callback inside an object argument is called by the server", async () => {
    expect(await api.applyInside({ fn: (x: number) => x * 3, x: 14 })).toBe(42);
    await expectBaseline();
  });

  it.runIf(ws)("a callback the server hands back is our own function again, called locally", async () => {
    const seen: number[] = [];
    const back = await api.bounce((x: number) => {
      seen.push(x);
      return x + 1;
    });
    expect(await back(41)).toBe(42);
    expect(seen).toEqual([41]);
    CapnWeb.release(back);
    await expectBaseline();
  });

  it.runIf(ws)("the capnweb server can call the main object our client offers (bidirectional)", async () => {
    class ClientMain extends CapnWeb.Target {
      greet(name: string) {
        return `hello ${name}, from the client`;
      }
    }
    const client = await CapnWeb.connect<Api>(server.wsUrl, { main: new ClientMain() });
    try {
      await client.square(1);
      const session = await server.lastSession();
      const clientMain = session.session.getRemoteMain() as any;
      expect(await clientMain.greet("server")).toBe("hello server, from the client");
    } finally {
      CapnWeb.close(client);
    }
  });

  it.runIf(ws)("the same Target passed in two concurrent calls is exported once and released fully", async () => {
    const local = new LocalCounter(0);
    expect(await Promise.all([api.incrementCounter(local, 1), api.incrementCounter(local, 2)])).toEqual([1, 3]);
    expect(await api.incrementCounter(local, 3)).toBe(6);
    await expectBaseline();
  });

  it.runIf(ws)("a resolved stub from the server is passed back as an argument", async () => {
    const counter = await api.makeCounter(1);
    expect(await api.incrementCounter(counter, 4)).toBe(5);
    // Passing a stub never consumes it.
    expect(await counter.increment(1)).toBe(6);
    CapnWeb.release(counter);
    await expectBaseline();
  });

  it.runIf(ws)("dup() gives an independent reference: releasing one copy keeps the other usable", async () => {
    const counter = await api.makeCounter(0);
    const copy = counter.dup();
    CapnWeb.release(counter);
    expect(await copy.increment(2)).toBe(2);
    await vi.waitFor(() => expect(peer!.session.getStats().exports).toBe(2), WAIT);
    copy[Symbol.dispose]();
    await expectBaseline();
  });

  it.runIf(ws)("a function returned by the server is callable, and released", async () => {
    const add3 = await api.makeAdder(3);
    expect(await add3(4)).toBe(7);
    expect(await add3(-3)).toBe(0);
    CapnWeb.release(add3);
    await expectBaseline();
  });

  it("a function returned by the server is callable pipelined", async () => {
    const add3 = api.makeAdder(3);
    expect(await add3(4)).toBe(7);
    CapnWeb.release(add3);
    await expectBaseline();
  });

  it.runIf(ws)("a Target inside a returned object arrives as a stub next to the data, released by release(object)", async () => {
    const result = await api.makeLabelledCounter("hits", 5);
    expect(result.label).toBe("hits");
    expect(result.tags).toEqual(["hits", "counter"]);
    expect(await result.counter.increment(1)).toBe(6);
    CapnWeb.release(result);
    await expectBaseline();
  });

  it("a Target inside a returned object is reachable by pipelining through the object", async () => {
    const result = api.makeLabelledCounter("hits", 5);
    expect(await result.counter.increment(2)).toBe(7);
    CapnWeb.release(result);
    await expectBaseline();
  });

  it.runIf(ws)("CapnWeb.await with a timeout gives up, and the late answer leaves no trace in either table", async () => {
    const result = await CapnWeb.await(api.slow(150), { timeout: 20 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.type).toBe("timeout");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expectBaseline();
    expect(await api.square(3)).toBe(9);
  });

  it("a pipelined promise inside an argument is resolved before the server sees it", async () => {
    const square = api.square(3);
    const sum = api.add(1, 2);
    const got = await api.echo({ square, list: [sum] });
    expect(got).toEqual({ square: 9, list: [3] });
    expect(states[states.length - 1]!.received.at(-1)).toEqual({ square: 9, list: [3] });
    // Passing the promises did not consume them: they are still ours to release.
    CapnWeb.release(square);
    CapnWeb.release(sum);
    await expectBaseline();
  });

  it.runIf(ws)("a promise from another connection passed as an argument is resolved before the server sees it", async () => {
    const other = await CapnWeb.connect<Api>(server.wsUrl);
    try {
      // Not the server's own promise on this session: it travels as ["promise", id].
      const square = other.square(4);
      expect(await api.echo({ n: square })).toEqual({ n: 16 });
      CapnWeb.release(square);
      await expectBaseline();
    } finally {
      CapnWeb.close(other);
      await server.lastSession();
    }
  });

  it.runIf(ws)("the same Target received three times is released with the right count", async () => {
    const a = await api.sharedCounter();
    const b = await api.sharedCounter();
    const c = await api.sharedCounter();
    expect(await a.increment(1)).toBe(1);
    expect(await b.increment(1)).toBe(2);
    expect(await c.increment(1)).toBe(3);
    CapnWeb.release(a);
    CapnWeb.release(b);
    expect(await c.increment(1)).toBe(4);
    CapnWeb.release(c);
    await expectBaseline();
  });

  it("map() over a single value applies the mapper once", async () => {
    const two = api.square(2);
    expect(await two.map((x) => api.add(x, 1))).toBe(5);
    CapnWeb.release(two);
    await expectBaseline();
  });

  it("map() rejects when a call inside the mapper throws", async () => {
    const fib = api.generateFibonacci(3);
    const result = await CapnWeb.await(fib.map(() => api.throwRange()));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.type).toBe("out_of_range");
    CapnWeb.release(fib);
    await expectBaseline();
  });

  it.runIf(ws)("map() can make a Target per element; the stubs are ours to call and release", async () => {
    const fib = api.generateFibonacci(4);
    const counters = await fib.map((i) => api.makeCounter(i));
    expect(counters).toHaveLength(4);
    expect(await Promise.all(counters.map((c) => c.increment(10)))).toEqual([10, 11, 11, 12]);
    CapnWeb.release(counters);
    CapnWeb.release(fib);
    await expectBaseline();
  });

  it("map() over an empty array and over null", async () => {
    const empty = api.generateFibonacci(0);
    expect(await empty.map((i) => api.square(i))).toEqual([]);
    const nothing = api.echo(null);
    expect(await nothing.map(() => api.square(3))).toBe(null);
    CapnWeb.release(empty);
    CapnWeb.release(nothing);
    await expectBaseline();
  });

  describe("every value type survives echo(x) both ways", () => {
    it.each(VALUE_CASES.map((c) => [c.name, c] as const))("%s", async (_name, valueCase) => {
      const got = await api.echo(valueCase.make());
      valueCase.check(got);
      // What the capnweb server decoded (before encoding it back) is a faithful copy too.
      const received = states[states.length - 1]!.received;
      valueCase.check(received[received.length - 1]);
      await expectBaseline();
    });

    it("many values in one call keep their positions", async () => {
      const values = VALUE_CASES.map((c) => c.make());
      const got = (await api.echo(values)) as unknown[];
      expect(got).toHaveLength(values.length);
      VALUE_CASES.forEach((c, i) => c.check(got[i]));
    });
  });

  describe("errors thrown by the server", () => {
    it("a RangeError with a code prop has .type = code, .name RangeError, and keeps its props", async () => {
      let caught: unknown;
      try {
        await api.throwRange();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CapnWeb.Error);
      const error = caught as CapnWeb.Error & Record<string, unknown>;
      expect(error.type).toBe("out_of_range");
      expect(error.name).toBe("RangeError");
      expect(error.message).toBe("index 12 is out of range");
      expect(error.code).toBe("out_of_range");
      expect(error.index).toBe(12);
      expect(error.detail).toEqual({ max: 10 });
      await expectBaseline();
    });

    it("CapnWeb.await returns the same error as { ok: false } and never throws", async () => {
      const result = await CapnWeb.await(api.throwRange());
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error).toBeInstanceOf(CapnWeb.Error);
      expect(result.error.type).toBe("out_of_range");
      expect(result.error.name).toBe("RangeError");
    });

    it("an error without type or code is of type remote and keeps its name", async () => {
      const result = await CapnWeb.await(api.throwPlain());
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error.type).toBe("remote");
      expect(result.error.name).toBe("TypeError");
      expect(result.error.message).toBe("not a number");
    });

    it("a call pipelined on a rejected call rejects with the same error", async () => {
      const failed = api.throwRange() as any;
      const result = await CapnWeb.await(failed.anything(1));
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.type).toBe("out_of_range");
      CapnWeb.release(failed);
      await expectBaseline();
    });

    it("calling a method the server does not have rejects with a remote error", async () => {
      const result = await CapnWeb.await(api.nonexistent());
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error).toBeInstanceOf(CapnWeb.Error);
      expect(result.error.message).toMatch(/nonexistent/);
    });

    it("the session is still usable after errors", async () => {
      await CapnWeb.await(api.throwRange());
      expect(await api.square(5)).toBe(25);
    });
  });

  it.runIf(ws)("E-order holds on a resolved Counter stub too", async () => {
    const counter = await api.makeCounter(0);
    const calls = Array.from({ length: 20 }, (_, i) => counter.record(i));
    const log = counter.log();
    await Promise.all(calls);
    expect(await log).toEqual(Array.from({ length: 20 }, (_, i) => i));
    CapnWeb.release(counter);
    await expectBaseline();
  });

  it.runIf(ws)("releasing a promise that was never awaited cancels it on the server", async () => {
    const counter = api.makeCounter(5);
    await vi.waitFor(() => expect(peer!.session.getStats().exports).toBe(2));
    CapnWeb.release(counter);
    await expectBaseline();
    const result = await CapnWeb.await(counter.increment(1));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.type).toBe("released");
  });

  it.runIf(ws)("closing the connection fails later calls with disconnected", async () => {
    CapnWeb.close(api);
    const result = await CapnWeb.await(api.square(2));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.type).toBe("disconnected");
  });
});
