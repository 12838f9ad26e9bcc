// Timeouts at three levels: per call (`CapnWeb.await(p, { timeout })`), per session
// (`connect(url, { timeout })`, Session.spec({ timeout })), and the application default
// (`configure({ defaultTimeout })`). A timed-out call is released, and a late answer is ignored
// without leaking anything on either side.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";
import {
  WAIT,
  expectBaseline,
  onlyServerSession,
  recordClientFrames,
  sleep,
  startOurServer,
  type Api,
  type OurServer,
} from "./fixtures.js";

let ours: OurServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  ours = await startOurServer();
});
afterEach(async () => {
  CapnWeb.configure({ defaultTimeout: undefined });
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await vi.waitFor(() => expect(ours.server.handlers.stats().sessions).toBe(0), WAIT);
});
afterAll(async () => {
  await ours.server.close();
});

async function open(options: CapnWeb.ReconnectingConnectOptions = {}, url = ours.server.wsUrl): Promise<CapnWeb.Stub<Api>> {
  const api = await CapnWeb.connect<Api>(url, options);
  cleanups.push(() => CapnWeb.close(api));
  return api;
}

/** Holds back every `release` frame our server session receives for `ms` (a slow network). */
function delayReleasesOnServer(ms: number): void {
  const session = onlyServerSession(ours.server);
  const receive = session.receive.bind(session);
  session.receive = (frame: string) => {
    if (frame.startsWith('["release"')) setTimeout(() => receive(frame), ms);
    else receive(frame);
  };
}

async function rejection(p: PromiseLike<unknown>): Promise<CapnWeb.Error> {
  try {
    await p;
  } catch (error) {
    return error as CapnWeb.Error;
  }
  throw new Error("expected a rejection");
}

describe("per call: CapnWeb.await(p, { timeout })", () => {
  it("gives { ok: false, error.type: 'timeout' }; the call is released and the server's tables return to baseline", async () => {
    const api = await open();
    await api.square(1);
    const state = ours.lastState();
    const result = await CapnWeb.await(api.slow(300), { timeout: 20 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(CapnWeb.Error);
    expect(result.error).toBeInstanceOf(Error);
    expect(result.error.type).toBe("timeout");
    // Released at once: the server's export of the call is gone before the method even finished.
    await expectBaseline(ours.server, api);
    expect(state.slowFinished).toBe(0);
    await vi.waitFor(() => expect(state.slowFinished).toBe(1), WAIT);
    await sleep(20);
    await expectBaseline(ours.server, api);
    // The connection is fine afterwards.
    expect(await api.square(6)).toBe(36);
  });

  it("a call that answers within the timeout is ok", async () => {
    const api = await open();
    expect(await CapnWeb.await(api.slow(10, "fast enough"), { timeout: 1000 })).toEqual({ ok: true, value: "fast enough" });
  });

  it("a capability the server returns after the timeout never reaches the application, and nothing stays exported", async () => {
    const api = await open();
    await api.square(1);
    const state = ours.lastState();
    const result = await CapnWeb.await(api.slowCounter(80), { timeout: 20 });
    expect(!result.ok && result.error.type).toBe("timeout");
    await vi.waitFor(() => expect(state.slowFinished).toBe(1), WAIT);
    await sleep(30);
    await expectBaseline(ours.server, api);
    // The server dropped the answer it was not asked for any more, disposing the target in it.
    await vi.waitFor(() => expect(state.countersDisposed).toBe(1), WAIT);
  });

  it("late answer (value): the resolve arrives after the timeout and is ignored; nothing leaks", async () => {
    const api = await open();
    await api.square(1);
    delayReleasesOnServer(200);
    const log = recordClientFrames(api);
    const result = await CapnWeb.await(api.slow(60, "late value"), { timeout: 20 });
    expect(!result.ok && result.error.type).toBe("timeout");
    // The server had not seen our release yet, so it answered: the answer reached us late.
    await vi.waitFor(() => expect(log.kinds).toContain("in:resolve"), WAIT);
    expect(log.texts.some((f) => f.dir === "in" && f.text.includes("late value"))).toBe(true);
    expect(result.ok).toBe(false);
    await expectBaseline(ours.server, api);
  });

  it("late answer (capability): the late export is released by us, and the server disposes the target", async () => {
    const api = await open();
    await api.square(1);
    const state = ours.lastState();
    delayReleasesOnServer(200);
    const log = recordClientFrames(api);
    const result = await CapnWeb.await(api.slowCounter(60), { timeout: 20 });
    expect(!result.ok && result.error.type).toBe("timeout");
    await vi.waitFor(() => expect(log.kinds).toContain("in:resolve"), WAIT);
    const resolve = log.texts.find((f) => f.dir === "in" && f.text.startsWith('["resolve"'))!;
    const exported = /\["export",(-\d+)\]/.exec(resolve.text);
    expect(exported).not.toBeNull();
    const exportId = Number(exported![1]);
    // We release the export the late answer introduced...
    await vi.waitFor(() => expect(log.texts.some((f) => f.dir === "out" && f.text === `["release",${exportId},1]`)).toBe(true), WAIT);
    // ...and, once the (delayed) releases arrive, the server is back to baseline and the Counter is disposed.
    await expectBaseline(ours.server, api);
    await vi.waitFor(() => expect(state.countersDisposed).toBe(1), WAIT);
  });

  it("awaiting a property of a promise (a path stub): the timed-out read is released at once, not when the answer comes", async () => {
    const api = await open();
    await api.square(1);
    const state = ours.lastState();
    const stem = api.slow(2_000, { field: 7 }) as unknown as CapnWeb.Stub<any>;
    const result = await CapnWeb.await(stem.field, { timeout: 20 });
    expect(!result.ok && result.error.type).toBe("timeout");
    CapnWeb.release(stem); // the stem is ours to release
    // Both the call and the read of its property are released before the server answers: its
    // tables are back to baseline while the slow call is still running (slowFinished, below).
    await vi.waitFor(() => expect(ours.server.handlers.stats()).toEqual({ sessions: 1, imports: 1, exports: 1 }), WAIT);
    expect(CapnWeb.stats(api)).toEqual({ imports: 1, exports: 1 });
    expect(state.slowFinished).toBe(0);
  });

  it("the same through the session's timeout", async () => {
    // The session's timeout bounds its connect too: long enough for a busy machine to connect.
    const api = await open({ timeout: 250 });
    await api.square(1);
    const state = ours.lastState();
    const stem = api.slow(2_000, { field: 7 }) as unknown as CapnWeb.Stub<any>;
    const result = await CapnWeb.await(stem.field);
    expect(!result.ok && result.error.type).toBe("timeout");
    CapnWeb.release(stem);
    await vi.waitFor(() => expect(ours.server.handlers.stats()).toEqual({ sessions: 1, imports: 1, exports: 1 }), WAIT);
    expect(CapnWeb.stats(api)).toEqual({ imports: 1, exports: 1 });
    expect(state.slowFinished).toBe(0);
  });

  it("an invalid timeout is an invalid_argument Result", async () => {
    const api = await open();
    const result = await CapnWeb.await(api.square(2), { timeout: -5 });
    expect(!result.ok && result.error.type).toBe("invalid_argument");
  });
});

describe("per session: connect(url, { timeout })", () => {
  it("applies to every awaited call on the connection: `await api.slow()` rejects with type 'timeout'", async () => {
    const api = await open({ timeout: 40 });
    expect(await api.square(3)).toBe(9);
    const state = ours.lastState();
    const error = await rejection(api.slow(150));
    expect(error).toBeInstanceOf(CapnWeb.Error);
    expect(error).toBeInstanceOf(Error);
    expect(error.type).toBe("timeout");
    // And the Result form, without a timeout of its own, uses the session's.
    const result = await CapnWeb.await(api.slow(150));
    expect(!result.ok && result.error.type).toBe("timeout");
    await vi.waitFor(() => expect(state.slowFinished).toBe(2), WAIT);
    await sleep(20);
    await expectBaseline(ours.server, api);
  });

  it("does not affect fast pipelined calls", async () => {
    const api = await open({ timeout: 200 });
    expect(await api.users().get(1).profile().name()).toBe("user-1");
  });

  it("over HTTP batch: the call times out with type 'timeout'", async () => {
    const api = await open({ timeout: 40 }, ours.server.url);
    const error = await rejection(api.slow(150));
    expect(error).toBeInstanceOf(CapnWeb.Error);
    expect(error.type).toBe("timeout");
    // Once that POST is over, the root stub makes the next batch. (A call made while the timed-out
    // POST is still in flight fails instead: see batch.test.ts, "a call made while a batch is in flight".)
    await sleep(200);
    expect(await api.square(4)).toBe(16);
  });

  it("a reconnecting connect() honours its timeout for calls", async () => {
    const api = await open({ timeout: 40, reconnect: { baseDelay: 10, jitter: 0 } });
    expect(await api.square(5)).toBe(25);
    const error = await rejection(api.slow(150));
    expect(error.type).toBe("timeout");
  });

  it("a supervised session (Session.spec({ timeout })) honours it", async () => {
    const name = `timeout-session-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ name, url: ours.server.wsUrl, timeout: 40, reconnect: false, restart: "temporary" })]);
    cleanups.push(() => root.close());
    const api = CapnWeb.session<Api>(name);
    expect(await api.square(5)).toBe(25);
    const error = await rejection(api.slow(150));
    expect(error.type).toBe("timeout");
  });

  it("a per-call timeout shorter than the session's wins", async () => {
    const api = await open({ timeout: 5000 });
    const result = await CapnWeb.await(api.slow(150), { timeout: 20 });
    expect(!result.ok && result.error.type).toBe("timeout");
  });

  it("a per-call timeout overrides the session's (longer than the session's)", async () => {
    const api = await open({ timeout: 30 });
    const result = await CapnWeb.await(api.slow(100, "call wins"), { timeout: 2000 });
    expect(result).toEqual({ ok: true, value: "call wins" });
  });
});

describe("application default: configure({ defaultTimeout })", () => {
  it("applies to awaited calls on every connection without a timeout of its own", async () => {
    CapnWeb.configure({ defaultTimeout: 40 });
    const api = await open();
    expect(await api.square(2)).toBe(4);
    const error = await rejection(api.slow(150));
    expect(error).toBeInstanceOf(CapnWeb.Error);
    expect(error.type).toBe("timeout");
    const result = await CapnWeb.await(api.slow(150));
    expect(!result.ok && result.error.type).toBe("timeout");
    const state = ours.lastState();
    await vi.waitFor(() => expect(state.slowFinished).toBe(2), WAIT);
    await sleep(20);
    await expectBaseline(ours.server, api);
  });

  it("applies to connections opened before configure() too (looked up at each await)", async () => {
    const api = await open();
    CapnWeb.configure({ defaultTimeout: 40 });
    const error = await rejection(api.slow(150));
    expect(error.type).toBe("timeout");
  });

  it("reset with configure({ defaultTimeout: undefined }): calls wait again", async () => {
    CapnWeb.configure({ defaultTimeout: 40 });
    CapnWeb.configure({ defaultTimeout: undefined });
    expect(CapnWeb.config().defaultTimeout).toBeUndefined();
    const api = await open();
    expect(await api.slow(80, "waited")).toBe("waited");
  });

  it("a session timeout overrides the default", async () => {
    CapnWeb.configure({ defaultTimeout: 30 });
    const api = await open({ timeout: 2000 });
    expect(await api.slow(100, "session wins")).toBe("session wins");
  });

  it("a per-call timeout overrides the default (longer than the default)", async () => {
    CapnWeb.configure({ defaultTimeout: 30 });
    const api = await open();
    const result = await CapnWeb.await(api.slow(100, "call wins"), { timeout: 2000 });
    expect(result).toEqual({ ok: true, value: "call wins" });
  });
});
