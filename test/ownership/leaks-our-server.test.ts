// The ownership scenarios (scenarios.ts) against our server (CapnWeb.serve), checking the
// server's own session tables; then the scenarios that do not depend on our client's owners
// (callbacks, a collector target, a chat room, map with captured stubs, a crashing callback) with
// capnweb 0.12's client against our server.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import { RpcSession, RpcTarget, WebSocketTransport } from "capnweb";
import * as CapnWeb from "../../src/index.js";
import { LoggingTransport, startCapnwebServer, type LoggedFrame } from "../interop/helpers.js";
import { CwApi, OurLeakApi, ServerState, WAIT, chatClient, type ChatSeen } from "./helpers.js";
import { ownershipScenarios, type Client } from "./scenarios.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

let server: CapnWeb.Server;
const states: ServerState[] = [];

beforeAll(async () => {
  server = await CapnWeb.serve({
    host: "127.0.0.1",
    port: 0,
    main: () => {
      const state = new ServerState();
      states.push(state);
      return new OurLeakApi(state);
    },
  });
});

afterAll(async () => {
  await server.close();
});

// Registered before the scenarios' own afterEach, so it runs after it (hooks run as a stack):
// once the test's connections are closed, the server holds nothing at all.
afterEach(async () => {
  await vi.waitFor(() => expect(server.handlers.stats()).toEqual({ sessions: 0, imports: 0, exports: 0 }), WAIT);
});

/** The newest session of our server (the one that just accepted a connection). */
function newestSession(): CapnWeb.RpcSession {
  const live = [...server.handlers.sessions];
  return live[live.length - 1]!.session;
}

async function connectClient(): Promise<Client> {
  const api = await CapnWeb.connect<any>(server.wsUrl);
  expect(await api.square(2)).toBe(4);
  const session = newestSession();
  const state = states[states.length - 1]!;
  return { api, state, peerStats: () => session.stats() };
}

describe("our client → our server", () => {
  ownershipScenarios(connectClient);
});

describe("our clients → our server: the server-wide sums", () => {
  it("server.handlers.stats() sums both sessions of a chat and is back at the baseline after it", async () => {
    const a = await connectClient();
    const b = await connectClient();
    try {
      const room = `room-${Math.random()}`;
      const alice = CapnWeb.export(a.api, chatClient(), { label: "alice" });
      const bob = CapnWeb.export(b.api, chatClient(), { label: "bob" });
      const aliceIn = await a.api.join(room, "alice", alice);
      const bobIn = await b.api.join(room, "bob", bob);
      await aliceIn.send("hello");
      // Each session: main + a member import; main + a membership export.
      await vi.waitFor(() => expect(server.handlers.stats()).toEqual({ sessions: 2, imports: 4, exports: 4 }), WAIT);
      await aliceIn.leave();
      await bobIn.leave();
      CapnWeb.release([aliceIn, bobIn, alice, bob]);
      await vi.waitFor(() => expect(server.handlers.stats()).toEqual({ sessions: 2, imports: 2, exports: 2 }), WAIT);
      expect(CapnWeb.stats(a.api)).toEqual({ imports: 1, exports: 1 });
      expect(CapnWeb.stats(b.api)).toEqual({ imports: 1, exports: 1 });
    } finally {
      CapnWeb.close(a.api);
      CapnWeb.close(b.api);
    }
  });
});

// -------------------------------------------------------------------------------------------------
// capnweb's client against our server

class CwCollector extends RpcTarget {
  items: unknown[] = [];
  onItem(item: unknown) {
    this.items.push(item);
    return null;
  }
  onDone() {
    return this.items.length;
  }
}

class CwMember extends RpcTarget {
  lines: string[] = [];
  disposed = 0;
  onMessage({ sender, text }: { sender: string; text: string }) {
    this.lines.push(`${sender}: ${text}`);
  }
  onUserJoined({ user }: { user: string }) {
    this.lines.push(`+${user}`);
  }
  onUserLeft({ user }: { user: string }) {
    this.lines.push(`-${user}`);
  }
  [Symbol.dispose]() {
    this.disposed++;
  }
}

describe("capnweb client → our server", () => {
  let session: RpcSession<any>;
  let frames: LoggedFrame[];
  let cw: any;
  let state: ServerState;
  let ourSession: CapnWeb.RpcSession;

  async function expectCwBaseline(): Promise<void> {
    await vi.waitFor(() => {
      expect(session.getStats()).toEqual({ imports: 1, exports: 1 });
      expect(ourSession.stats()).toEqual({ imports: 1, exports: 1 });
      expect(server.handlers.stats()).toEqual({ sessions: 1, imports: 1, exports: 1 });
    }, WAIT);
  }

  beforeEach(async () => {
    frames = [];
    session = new RpcSession<any>(new LoggingTransport(new WebSocketTransport(new WebSocket(server.wsUrl) as any), frames));
    cw = session.getRemoteMain();
    expect(await cw.square(3)).toBe(9);
    ourSession = newestSession();
    state = states[states.length - 1]!;
    await expectCwBaseline();
  });

  afterEach(async () => {
    try {
      await expectCwBaseline();
    } finally {
      cw[Symbol.dispose]();
    }
  });

  it("callbacks: our server calls a capnweb function several times, then releases it", async () => {
    expect(await cw.callMany((i: number) => i * 3, 6)).toEqual([0, 3, 6, 9, 12, 15]);
    await expectCwBaseline();
    // Our server released the callback: capnweb received exactly one release for it.
    const releases = frames.filter((f) => f.dir === "in" && f.text.startsWith('["release",-'));
    expect(releases).toHaveLength(1);
  });

  it("a collector: our server streams items into a capnweb RpcTarget, in order", async () => {
    const collector = new CwCollector();
    const items = Array.from({ length: 20 }, (_, i) => ({ row: i }));
    expect(await cw.streamInto(collector, items)).toEqual({ streamed: 20, count: 20 });
    expect(collector.items).toEqual(items);
    await expectCwBaseline();
  });

  it("a chat room: a capnweb member and one of ours; our server keeps the capnweb member until it leaves", async () => {
    const ours = await connectClient();
    try {
      const room = `room-${Math.random()}`;
      const cwMember = new CwMember();
      const cwIn = await cw.join(room, "carol", cwMember);
      const me = CapnWeb.export(ours.api, chatClient(), { label: "dave" });
      const meActor = CapnWeb.targetActorOf(me)!;
      const meIn = await ours.api.join(room, "dave", me);
      await cwIn.send("hi dave");
      await meIn.send("hi carol");
      // Our server holds the capnweb member: capnweb's session exports it.
      expect(session.getStats().exports).toBe(2);
      await cwIn.leave();
      await vi.waitFor(() => expect(session.getStats().exports).toBe(1), WAIT);
      await vi.waitFor(() => expect(cwMember.disposed).toBe(1), WAIT);
      await meIn.leave();
      expect(cwMember.lines).toEqual(["+dave", "carol: hi dave", "dave: hi carol"]);
      expect((meActor.snapshot() as ChatSeen).lines).toEqual(["carol: hi dave", "dave: hi carol", "-carol"]);
      cwIn[Symbol.dispose]();
      CapnWeb.release([meIn, me]);
      await vi.waitFor(() => expect(ours.peerStats()).toEqual({ imports: 1, exports: 1 }), WAIT);
      expect(CapnWeb.stats(ours.api)).toEqual({ imports: 1, exports: 1 });
    } finally {
      CapnWeb.close(ours.api);
    }
    await vi.waitFor(() => expect(server.handlers.stats().sessions).toBe(1), WAIT);
  });

  it("map() with a captured stub: capnweb's mapper calls the cache our server returned", async () => {
    // capnweb 0.12's client never releases a stub it captured in a mapper: after disposing
    // `cache` its session still imports it (checked to be the same against capnweb's own server:
    // the client sends no ["release", -1, 1] either way). So this runs on a connection of its
    // own, and what our server must do is hold exactly that one export until the connection
    // ends, then nothing at all.
    const other = new RpcSession<any>(new WebSocketTransport(new WebSocket(server.wsUrl) as any));
    const otherApi: any = other.getRemoteMain();
    const cache = await otherApi.cache();
    const otherSession = newestSession();
    const ids = otherApi.ids(4);
    expect(await ids.map((id: any) => cache.get(id))).toEqual(["v1", "v2", "v3", "v4"]);
    expect(states[states.length - 1]!.cacheLookups).toBe(4);
    ids[Symbol.dispose]();
    cache[Symbol.dispose]();
    await vi.waitFor(() => expect(otherSession.stats()).toEqual({ imports: 1, exports: 2 }), WAIT);
    expect(other.getStats()).toEqual({ imports: 2, exports: 1 });
    otherApi[Symbol.dispose]();
    await vi.waitFor(() => expect(server.handlers.stats()).toEqual({ sessions: 1, imports: 1, exports: 1 }), WAIT);
  });

  it("map() capturing the main stub only: everything is released", async () => {
    const ids = cw.ids(4);
    expect(await ids.map((id: any) => cw.square(id))).toEqual([1, 4, 9, 16]);
    ids[Symbol.dispose]();
    await expectCwBaseline();
  });

  it("map() returning capabilities of our server: capnweb disposes them, our server's targets are disposed", async () => {
    const ids = cw.ids(3);
    const counters = await ids.map((id: any) => cw.makeCounter(id));
    expect(await Promise.all(counters.map((c: any) => c.increment(1)))).toEqual([2, 3, 4]);
    for (const c of counters) c[Symbol.dispose]();
    ids[Symbol.dispose]();
    await expectCwBaseline();
    expect(state.countersDisposed).toBe(3);
  });

  it("a crashing capnweb callback: our server gets the error, keeps going, releases it", async () => {
    const outcome = await cw.poke(() => {
      throw new RangeError("cw boom");
    }, "");
    // Our server sees a CapnWeb.Error of type "remote" carrying the message.
    expect(outcome).toEqual({ ok: false, type: "remote", message: "cw boom" });
    // A held capnweb target that throws on one method and not on another.
    class Flaky extends RpcTarget {
      ok() {
        return "fine";
      }
      boom() {
        throw new Error("flaky");
      }
    }
    await cw.hold(new Flaky());
    expect(await cw.callHeld("boom")).toEqual([{ ok: false, type: "remote", message: "flaky" }]);
    expect(await cw.callHeld("ok")).toEqual([{ ok: true, value: "fine" }]);
    expect(await cw.dropHeld()).toBe(1);
    await expectCwBaseline();
  });

  it("a capnweb client that disconnects while our server holds its callbacks: our server's session ends clean", async () => {
    const other = new RpcSession<any>(new WebSocketTransport(new WebSocket(server.wsUrl) as any));
    const otherApi: any = other.getRemoteMain();
    expect(await otherApi.hold((x: number) => x)).toBe(1);
    expect(await otherApi.hold(new CwCollector())).toBe(2);
    const counter = await otherApi.makeCounter(1);
    expect(server.handlers.stats().sessions).toBe(2);
    otherApi[Symbol.dispose]();
    expect(counter).toBeDefined();
    await vi.waitFor(() => expect(server.handlers.stats()).toEqual({ sessions: 1, imports: 1, exports: 1 }), WAIT);
  });
});

// -------------------------------------------------------------------------------------------------
// A Target returned by a call whose result is released without being pulled

describe("a Target our server returns, released by the caller without awaiting it", () => {
  // capnweb's server disposes an RpcTarget it returned when the caller releases the call's result
  // without ever pulling it (the return payload owns it). The first test pins that down against
  // a real capnweb server; the second asks the same of ours.
  async function disposedAfterUnpulledRelease(url: string, state: () => ServerState) {
    const api: any = await CapnWeb.connect<any>(url);
    try {
      const never = api.makeCounter(1); // pushed, never pulled
      const pipelined = api.makeCounter(1); // pushed, only pipelined through
      expect(await pipelined.increment(5)).toBe(6);
      const awaited = await api.makeCounter(1); // pulled: exported, then released
      CapnWeb.release([never, pipelined, awaited]);
      await vi.waitFor(() => expect(CapnWeb.stats(api)).toEqual({ imports: 1, exports: 1 }), WAIT);
      await vi.waitFor(() => expect(state().countersDisposed).toBe(3), { timeout: 1_000, interval: 5 });
      expect(state().countersMade).toBe(3);
    } finally {
      CapnWeb.close(api);
    }
  }

  it("capnweb's server disposes all three", async () => {
    let last: ServerState | undefined;
    const cwServer = await startCapnwebServer(() => new CwApi((last = new ServerState())));
    try {
      await disposedAfterUnpulledRelease(cwServer.wsUrl, () => last!);
    } finally {
      await cwServer.close();
    }
  });

  it("our server disposes all three too", async () => {
    await disposedAfterUnpulledRelease(server.wsUrl, () => states[states.length - 1]!);
  });
});
