// CapnWeb.batch([p1, p2, p3]): a Result of the tuple; every pull leaves in the same turn: one
// round trip over WebSocket, one POST over HTTP batch. Against our server and capnweb's.

import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from "vitest";
import { WebSocket } from "ws";
import * as CapnWeb from "../../src/index.js";
import { WAIT, expectBaseline, featureServers, pullsInOneRoundTrip, recordClientFrames, sleep, startCountingServer } from "./fixtures.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

const servers = featureServers();
const open = (url: string) => servers.open(url);
let counting: Awaited<ReturnType<typeof startCountingServer>>;

beforeAll(async () => {
  counting = await startCountingServer();
});

afterAll(async () => {
  await counting.close();
});

describe("batch over WebSocket", () => {
  it.each([
    ["our server", () => servers.ours.server.wsUrl],
    ["capnweb's server", () => servers.theirs.wsUrl],
  ])("against %s: resolves the tuple, every pull leaving before the first answer (one round trip)", async (_name, url) => {
    const api = await open(url());
    await api.square(1); // connected and warmed up
    const log = recordClientFrames(api);
    const result = await CapnWeb.batch([api.square(3), api.users().get(7).profile().name(), api.friendIds()]);
    expect(result).toEqual({ ok: true, value: [9, "user-7", [1, 2, 3]] });
    const { pulls, firstAnswer, lastPull } = pullsInOneRoundTrip(log.kinds);
    expect(pulls).toBe(3);
    expect(firstAnswer).toBeGreaterThan(lastPull);
  });

  it("the round-trip check does tell sequential awaits apart (sanity check of the measurement)", async () => {
    const api = await open(servers.ours.server.wsUrl);
    await api.square(1);
    const log = recordClientFrames(api);
    await api.square(2);
    await api.square(3);
    const { pulls, firstAnswer, lastPull } = pullsInOneRoundTrip(log.kinds);
    expect(pulls).toBe(2);
    expect(firstAnswer).toBeLessThan(lastPull);
  });

  it("an error in any element gives { ok: false, error } with the error's type", async () => {
    const api = await open(servers.ours.server.wsUrl);
    const result = await CapnWeb.batch([api.square(2), api.users().get(999).profile().name()]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(CapnWeb.Error);
    expect(result.error).toBeInstanceOf(Error);
    expect(result.error.type).toBe("not_found");
    expect(result.error.message).toBe("no user 999");
  });

  it("against capnweb's server, an error element also yields ok: false", async () => {
    const api = await open(servers.theirs.wsUrl);
    const result = await CapnWeb.batch([api.square(2), api.users().get(999).profile().name()]);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.type).toBe("not_found");
  });

  it("an empty batch is ok with an empty tuple; plain values pass through", async () => {
    expect(await CapnWeb.batch([])).toEqual({ ok: true, value: [] });
    const api = await open(servers.ours.server.wsUrl);
    expect(await CapnWeb.batch([api.square(4), 5, Promise.resolve("x")] as const)).toEqual({ ok: true, value: [16, 5, "x"] });
  });

  it("leaves nothing behind on our server once the batch resolved (pipeline stems released by us)", async () => {
    const api = await open(servers.ours.server.wsUrl);
    const users = api.users();
    const user = users.get(7);
    const profile = user.profile();
    await CapnWeb.batch([api.square(3), profile.name(), api.friendIds()]);
    // The answers' imports were released on arrival; the stems are the application's to release.
    CapnWeb.release([users, user, profile]);
    await expectBaseline(servers.ours.server, api);
  });

  it("the value's static type is the tuple of the awaited element types", async () => {
    const api = await open(servers.ours.server.wsUrl);
    const result = await CapnWeb.batch([api.square(1), api.users().get(1).profile().name(), api.friendIds()]);
    if (result.ok) expectTypeOf(result.value).toEqualTypeOf<[number, string, number[]]>();
    else expectTypeOf(result.error).toEqualTypeOf<CapnWeb.Error>();
  });
});

describe("batch over HTTP batch", () => {
  it("against our handlers: three calls (one a four-step pipeline) are ONE POST", async () => {
    const api = await open(counting.url);
    const before = counting.posts();
    const result = await CapnWeb.batch([api.square(3), api.users().get(7).profile().name(), api.add(2, 40)]);
    expect(result).toEqual({ ok: true, value: [9, "user-7", 42] });
    expect(counting.posts() - before).toBe(1);
  });

  it("against our handlers: the next batch is a second POST, the root stub staying usable", async () => {
    const api = await open(counting.url);
    const before = counting.posts();
    await CapnWeb.batch([api.square(1), api.square(2)]);
    const second = await CapnWeb.batch([api.square(3), api.friendIds()]);
    expect(second).toEqual({ ok: true, value: [9, [1, 2, 3]] });
    expect(counting.posts() - before).toBe(2);
    await vi.waitFor(() => expect(counting.handlers.stats()).toEqual({ sessions: 0, imports: 0, exports: 0 }), WAIT);
  });

  it("against our handlers: a failing element gives ok: false, still in one POST", async () => {
    const api = await open(counting.url);
    const before = counting.posts();
    const result = await CapnWeb.batch([api.square(3), api.users().get(999).profile().name()]);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.type).toBe("not_found");
    expect(counting.posts() - before).toBe(1);
  });

  it("a call made while a batch is in flight starts the next batch", async () => {
    // README: "every group of calls made in the same turn of the event loop is one POST (one batch
    // session); the root stub stays usable for the next batch".
    const api = await open(counting.url);
    const before = counting.posts();
    const first = CapnWeb.await(api.slow(150, "first"));
    await sleep(30); // the first POST has left and waits for its answer
    const second = await CapnWeb.await(api.square(3));
    expect(second).toEqual({ ok: true, value: 9 });
    expect(await first).toEqual({ ok: true, value: "first" });
    expect(counting.posts() - before).toBe(2);
  });

  it("against capnweb's server (nodeHttpBatchRpcResponse): one POST", async () => {
    const api = await open(servers.theirs.url);
    const before = servers.theirs.posts;
    const result = await CapnWeb.batch([api.square(3), api.users().get(7).profile().name(), api.friendIds()]);
    expect(result).toEqual({ ok: true, value: [9, "user-7", [1, 2, 3]] });
    expect(servers.theirs.posts - before).toBe(1);
  });

  it("against capnweb's server: a failing element gives ok: false in one POST", async () => {
    const api = await open(servers.theirs.url);
    const before = servers.theirs.posts;
    const result = await CapnWeb.batch([api.square(3), api.users().get(999).profile().name()]);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.type).toBe("not_found");
    expect(servers.theirs.posts - before).toBe(1);
  });
});
