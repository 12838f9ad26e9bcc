// Promise pipelining, proven on the wire: `api.users().get(7).profile().name()` is four calls,
// and all four (plus the one pull) leave before the first answer comes back, which is exactly
// one resolve. A recording WebSocket proxy sits between a real client and a real server and
// numbers every frame it forwards, in both directions.
//
// Combinations: our client → our server, capnweb's client → our server, our client → capnweb's
// server. A control (awaiting each step) shows the recording tells the two apart.

import { describe, it, expect, beforeAll, afterAll, afterEach } from "vitest";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer, type RawData } from "ws";
import { RpcTarget, newWebSocketRpcSession } from "capnweb";
import * as CapnWeb from "../../src/index.js";

// capnweb's client opens its socket through the global WebSocket (Node 20 has none by default).
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

// -----------------------------------------------------------------------------------------------
// The API, in both implementations: users() → { get(id) → { profile() → { name() } } }

const NAMES: Record<number, string> = { 7: "Ada Lovelace", 8: "Grace Hopper" };

class OurProfile extends CapnWeb.Target {
  constructor(private readonly id: number) {
    super();
  }
  name(): string {
    return NAMES[this.id] ?? `user ${this.id}`;
  }
}
class OurUser extends CapnWeb.Target {
  constructor(private readonly id: number) {
    super();
  }
  profile(): OurProfile {
    return new OurProfile(this.id);
  }
}
class OurUsers extends CapnWeb.Target {
  get(id: number): OurUser {
    return new OurUser(id);
  }
}
class OurApi extends CapnWeb.Target {
  users(): OurUsers {
    return new OurUsers();
  }
}

class TheirProfile extends RpcTarget {
  constructor(private readonly id: number) {
    super();
  }
  name(): string {
    return NAMES[this.id] ?? `user ${this.id}`;
  }
}
class TheirUser extends RpcTarget {
  constructor(private readonly id: number) {
    super();
  }
  profile(): TheirProfile {
    return new TheirProfile(this.id);
  }
}
class TheirUsers extends RpcTarget {
  get(id: number): TheirUser {
    return new TheirUser(id);
  }
}
class TheirApi extends RpcTarget {
  users(): TheirUsers {
    return new TheirUsers();
  }
}

// -----------------------------------------------------------------------------------------------
// Cleanup

const cleanups: Array<() => void | Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// -----------------------------------------------------------------------------------------------
// The recording proxy

type Direction = "client→server" | "server→client";

interface Recorded {
  /** Order in which the proxy received the frame, over both directions. */
  seq: number;
  direction: Direction;
  frame: string;
  message: unknown[];
}

interface RecordingProxy {
  url: string;
  log: Recorded[];
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

/**
 * A WebSocket server that, for each client, opens a connection to `upstream` and forwards every
 * frame both ways unchanged, recording it first. Client frames that arrive before the upstream
 * connection is open are queued (recorded on arrival).
 */
async function startProxy(upstream: string): Promise<RecordingProxy> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await once(wss, "listening");
  const log: Recorded[] = [];
  const upstreams = new Set<WebSocket>();
  const record = (direction: Direction, data: RawData): void => {
    const frame = rawText(data);
    log.push({ seq: log.length, direction, frame, message: JSON.parse(frame) as unknown[] });
  };

  wss.on("connection", (client) => {
    const server = new WebSocket(upstream, { perMessageDeflate: false });
    upstreams.add(server);
    const queued: Array<{ data: RawData; binary: boolean }> = [];
    client.on("error", () => {});
    server.on("error", () => {});

    client.on("message", (data, binary) => {
      record("client→server", data);
      if (server.readyState === WebSocket.OPEN) server.send(data, { binary });
      else queued.push({ data, binary });
    });
    server.on("open", () => {
      for (const { data, binary } of queued.splice(0)) server.send(data, { binary });
    });
    server.on("message", (data, binary) => {
      record("server→client", data);
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary });
    });

    client.on("close", () => {
      if (server.readyState === WebSocket.OPEN) server.close(1000);
      else server.terminate();
    });
    server.on("close", () => {
      upstreams.delete(server);
      if (client.readyState === WebSocket.OPEN) client.close(1000);
    });
  });

  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    for (const server of upstreams) server.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, log };
}

// -----------------------------------------------------------------------------------------------
// The assertion

/** The exact frames a pipelined `users().get(id).profile().name()` sends, in order. */
function chainFrames(id: number): unknown[][] {
  return [
    ["push", ["pipeline", 0, ["users"], []]],
    ["push", ["pipeline", 1, ["get"], [id]]],
    ["push", ["pipeline", 2, ["profile"], []]],
    ["push", ["pipeline", 3, ["name"], []]],
    ["pull", 4],
  ];
}

function expectOneRoundTrip(log: Recorded[], id: number): void {
  const fromClient = log.filter((r) => r.direction === "client→server");
  const fromServer = log.filter((r) => r.direction === "server→client");

  // The whole chain, and only the chain, was asked for: four pushes and one pull.
  const chain = fromClient.filter((r) => r.message[0] === "push" || r.message[0] === "pull");
  expect(chain.map((r) => r.message)).toEqual(chainFrames(id));

  // All of it left before anything came back.
  expect(fromServer.length).toBeGreaterThan(0);
  const firstAnswer = fromServer[0]!.seq;
  for (const r of chain) expect(r.seq).toBeLessThan(firstAnswer);
  // The client sent nothing else before the answer either (no pull of an intermediate step):
  // only releases of the intermediate steps it no longer holds, which may go out before the
  // answer or after it, as the sockets interleave (seen both ways on Deno).
  expect(fromClient.filter((r) => r.seq < firstAnswer && r.message[0] !== "release")).toEqual(chain);

  // And the server answered the whole chain with exactly one resolve, of the last call.
  const answers = fromServer.filter((r) => r.message[0] === "resolve" || r.message[0] === "reject");
  expect(answers.map((r) => r.message)).toEqual([["resolve", 4, NAMES[id]]]);
  expect(fromServer[0]!.message).toEqual(["resolve", 4, NAMES[id]]);
}

// -----------------------------------------------------------------------------------------------

describe("a four-call pipeline is one round trip", () => {
  let ours: CapnWeb.Server;

  beforeAll(async () => {
    ours = await CapnWeb.serve({ port: 0, main: () => new OurApi() });
  });

  afterAll(async () => {
    await ours?.close();
  });

  it("our client → recording proxy → our server", async () => {
    const proxy = await startProxy(ours.wsUrl);
    const api = await CapnWeb.connect<OurApi>(proxy.url);
    cleanups.push(() => CapnWeb.close(api));

    const name = await api.users().get(7).profile().name();

    expect(name).toBe("Ada Lovelace");
    expectOneRoundTrip(proxy.log, 7);
  });

  it("capnweb's client → recording proxy → our server", async () => {
    const proxy = await startProxy(ours.wsUrl);
    const api: any = newWebSocketRpcSession(proxy.url);
    cleanups.push(() => api[Symbol.dispose]());

    const name = await api.users().get(8).profile().name();

    expect(name).toBe("Grace Hopper");
    expectOneRoundTrip(proxy.log, 8);
  });

  it("our client → recording proxy → capnweb's server", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await once(wss, "listening");
    wss.on("connection", (ws) => {
      ws.on("error", () => {});
      newWebSocketRpcSession(ws as any, new TheirApi());
    });
    cleanups.push(async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    });
    const proxy = await startProxy(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    const api = await CapnWeb.connect<TheirApi>(proxy.url);
    cleanups.push(() => CapnWeb.close(api));

    const name = await api.users().get(7).profile().name();

    expect(name).toBe("Ada Lovelace");
    expectOneRoundTrip(proxy.log, 7);
  });

  it("control: awaiting each step instead is four round trips, and the recording shows it", async () => {
    const proxy = await startProxy(ours.wsUrl);
    const api = await CapnWeb.connect<OurApi>(proxy.url);
    cleanups.push(() => CapnWeb.close(api));

    const users = await api.users();
    const user = await users.get(7);
    const profile = await user.profile();
    const name = await profile.name();
    expect(name).toBe("Ada Lovelace");

    const answers = proxy.log.filter(
      (r) => r.direction === "server→client" && (r.message[0] === "resolve" || r.message[0] === "reject"),
    );
    expect(answers).toHaveLength(4);
    // The second push left only after the first answer arrived: the assertion above would fail.
    const secondPush = proxy.log.filter((r) => r.direction === "client→server" && r.message[0] === "push")[1]!;
    expect(secondPush.seq).toBeGreaterThan(answers[0]!.seq);
    expect(() => expectOneRoundTrip(proxy.log, 7)).toThrow();
  });

  it("the proxy is transparent: our server's session tables empty out after the pipelined call", async () => {
    const proxy = await startProxy(ours.wsUrl);
    const api = await CapnWeb.connect<OurApi>(proxy.url);
    expect(await api.users().get(8).profile().name()).toBe("Grace Hopper");
    expect(ours.handlers.stats().sessions).toBe(1);
    CapnWeb.close(api);
    await expect.poll(() => ours.handlers.stats()).toEqual({ sessions: 0, imports: 0, exports: 0 });
    expect(proxy.log.length).toBeGreaterThanOrEqual(6);
  });
});
