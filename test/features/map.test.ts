// map with captures: `p.map(fn)` and `CapnWeb.map(p, fn)` where the mapper uses the root stub and
// other captured stubs, nested maps, maps over a non-array value and over null: against our
// server and capnweb's, over WebSocket and HTTP batch.

import { describe, expect, expectTypeOf, it } from "vitest";
import { WebSocket } from "ws";
import * as CapnWeb from "../../src/index.js";
import { expectBaseline, featureServers, pullsInOneRoundTrip, recordClientFrames, type Api } from "./fixtures.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

const servers = featureServers();

describe.each(servers.endpoints)("map against %s", (_name, url) => {
  const open = () => servers.open(url());

  it("p.map(fn) with the root stub captured", async () => {
    const api = await open();
    expect(await api.friendIds().map((id) => api.square(id))).toEqual([1, 4, 9]);
  });

  it("CapnWeb.map(p, fn) is the same", async () => {
    const api = await open();
    expect(await CapnWeb.map(api.friendIds(), (id) => api.square(id))).toEqual([1, 4, 9]);
  });

  it("a captured stub other than the root (const cache = api.cache())", async () => {
    const api = await open();
    const cache = api.cache();
    expect(await api.friendIds().map((id) => cache.lookup(id))).toEqual(["cached-1", "cached-2", "cached-3"]);
    CapnWeb.release(cache);
  });

  it("both captures in one mapper, returning an object per element", async () => {
    const api = await open();
    const cache = api.cache();
    const rows = await api.friendIds().map((id) => ({ id, square: api.square(id), cached: cache.lookup(id) }));
    expect(rows).toEqual([
      { id: 1, square: 1, cached: "cached-1" },
      { id: 2, square: 4, cached: "cached-2" },
      { id: 3, square: 9, cached: "cached-3" },
    ]);
    CapnWeb.release(cache);
  });

  it("a pipeline inside the mapper", async () => {
    const api = await open();
    expect(await api.friendIds().map((id) => api.users().get(id).profile().name())).toEqual(["user-1", "user-2", "user-3"]);
  });

  it("nested maps", async () => {
    const api = await open();
    expect(await api.matrix().map((row) => row.map((x) => api.square(x)))).toEqual([
      [1, 4],
      [9, 16],
    ]);
  });

  it("nested maps capturing a stub in the inner mapper", async () => {
    const api = await open();
    const cache = api.cache();
    expect(await api.matrix().map((row) => row.map((x) => cache.lookup(x)))).toEqual([
      ["cached-1", "cached-2"],
      ["cached-3", "cached-4"],
    ]);
    CapnWeb.release(cache);
  });

  it("map over a non-array value (an object): the mapper runs once on it", async () => {
    const api = await open();
    const result = await api.profileInfo().map((info) => ({ id: info.id, square: api.square(info.id), label: info.label }));
    expect(result).toEqual({ id: 5, square: 25, label: "five" });
  });

  it("an error for one element (get(999)) fails the whole map with that error", async () => {
    const api = await open();
    const result = await CapnWeb.await(api.someIds().map((id) => api.users().get(id).profile().name()));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(CapnWeb.Error);
      expect(result.error.type).toBe("not_found");
      expect(result.error.message).toBe("no user 999");
    }
  });

  it("map over null gives null (the mapper is not applied)", async () => {
    const api = await open();
    expect(await api.nothing().map((x) => api.square(x as unknown as number))).toBeNull();
  });
});

describe("map, our server specifics", () => {
  async function open(): Promise<CapnWeb.Stub<Api>> {
    const api = await servers.open(servers.ours.server.wsUrl);
    return api;
  }

  it("is one round trip: the remap push and the pull leave before any answer", async () => {
    const api = await open();
    await api.square(1);
    const cache = api.cache();
    const log = recordClientFrames(api);
    expect(await api.friendIds().map((id) => cache.lookup(id))).toEqual(["cached-1", "cached-2", "cached-3"]);
    const remaps = log.texts.filter((f) => f.dir === "out" && f.text.startsWith('["push",["remap"'));
    expect(remaps).toHaveLength(1);
    const { pulls, firstAnswer, lastPull } = pullsInOneRoundTrip(log.kinds);
    expect(pulls).toBe(1);
    expect(firstAnswer).toBeGreaterThan(lastPull);
    CapnWeb.release(cache);
  });

  it("leaves nothing behind once the captures and stems are released", async () => {
    const api = await open();
    const cache = api.cache();
    const ids = api.friendIds();
    await ids.map((id) => ({ a: api.square(id), b: cache.lookup(id) }));
    const matrix = api.matrix();
    await matrix.map((row) => row.map((x) => cache.lookup(x)));
    CapnWeb.release([cache, ids, matrix]);
    await expectBaseline(servers.ours.server, api);
  });

  it("an async mapper is refused with invalid_argument", async () => {
    const api = await open();
    const result = await CapnWeb.await(api.friendIds().map(async (id) => api.square(id)));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(CapnWeb.Error);
      expect(result.error.type).toBe("invalid_argument");
    }
  });

  it("a mapper that creates a Target is refused with invalid_argument", async () => {
    const api = await open();
    class Local extends CapnWeb.Target {}
    const result = await CapnWeb.await(api.friendIds().map((id) => api.echo([id, new Local()])));
    expect(!result.ok && result.error.type).toBe("invalid_argument");
  });

  it("CapnWeb.map on something that is not a stub throws invalid_argument", () => {
    let caught: unknown;
    try {
      CapnWeb.map({} as never, (x) => x);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CapnWeb.Error);
    expect((caught as CapnWeb.Error).type).toBe("invalid_argument");
  });


  it("types: the element is pipelined, the result awaits to an array of the mapper's values", async () => {
    const api = await open();
    const cache = api.cache();
    const squares = api.friendIds().map((id) => api.square(id));
    expectTypeOf(squares).resolves.toEqualTypeOf<number[]>();
    const viaFunction = CapnWeb.map(api.friendIds(), (id) => api.square(id));
    expect(await viaFunction).toEqual([1, 4, 9]);
    const names = api.friendIds().map((id) => cache.lookup(id));
    expectTypeOf(names).resolves.toEqualTypeOf<string[]>();
    expect(await squares).toEqual([1, 4, 9]);
    expect(await names).toHaveLength(3);
    CapnWeb.release(cache);
  });
});
