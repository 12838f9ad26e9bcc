// CapnWeb.rescue(p, fallback): the value, or the fallback for an error anywhere in the pipeline;
// a fallback that rethrows keeps the error (and its type).

import { describe, expect, expectTypeOf, it } from "vitest";
import { WebSocket } from "ws";
import * as CapnWeb from "../../src/index.js";
import { featureServers, type Api } from "./fixtures.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

const servers = featureServers();

describe.each(servers.endpoints)("rescue against %s", (_name, url) => {
  const open = () => servers.open(url());

  it("gives the value when nothing fails (the fallback is not called)", async () => {
    const api = await open();
    let called = false;
    const name = await CapnWeb.rescue(api.users().get(123).profile().name(), () => {
      called = true;
      return "fallback";
    });
    expect(name).toBe("user-123");
    expect(called).toBe(false);
  });

  it("gives the fallback when a middle call of the pipeline throws (get(999))", async () => {
    const api = await open();
    const seen: CapnWeb.Error[] = [];
    const name = await CapnWeb.rescue(api.users().get(999).profile().name(), (err) => {
      seen.push(err);
      return "unknown user";
    });
    expect(name).toBe("unknown user");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(CapnWeb.Error);
    expect(seen[0]).toBeInstanceOf(Error);
    expect(seen[0]!.type).toBe("not_found");
    expect(seen[0]!.message).toBe("no user 999");
  });

  it("a fallback that rethrows keeps the error, its type preserved", async () => {
    const api = await open();
    const outcome = await CapnWeb.rescue(api.users().get(999).profile().name(), (err) => {
      throw err;
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(CapnWeb.Error);
    expect((outcome as CapnWeb.Error).type).toBe("not_found");
  });

  it("an async fallback works too", async () => {
    const api = await open();
    const value = await CapnWeb.rescue(api.users().get(999).profile().name(), async (err) => `fallback for ${err.type}`);
    expect(value).toBe("fallback for not_found");
  });
});

describe("rescue, locally", () => {
  it("a fallback may branch on the type and rethrow others: the type of a different error survives", async () => {
    const api = await servers.open(servers.ours.server.wsUrl);
    const handled = (p: PromiseLike<unknown>) =>
      CapnWeb.rescue(p, (err) => {
        if (err.type === "not_found") return null;
        throw err;
      });
    expect(await handled(api.users().get(999).profile().name())).toBeNull();
    const other = await CapnWeb.await(handled(api.throwWithType()));
    expect(other.ok).toBe(false);
    if (!other.ok) {
      expect(other.error.type).toBe("quota_exceeded");
      expect(other.error.message).toBe("over quota");
    }
  });

  it("rescues a disconnected call (after close)", async () => {
    const api = await CapnWeb.connect<Api>(servers.ours.server.wsUrl);
    CapnWeb.close(api);
    const value = await CapnWeb.rescue(api.square(2), (err) => err.type);
    expect(value).toBe("disconnected");
  });

  it("types: the result is the value type or the fallback type", async () => {
    const api = await servers.open(servers.ours.server.wsUrl);
    const p = CapnWeb.rescue(api.users().get(1).profile().name(), () => 0);
    expectTypeOf(p).toEqualTypeOf<Promise<string | number>>();
    expect(await p).toBe("user-1");
  });
});
