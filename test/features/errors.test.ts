// Errors: everything `await` throws and everything `CapnWeb.await` returns is a CapnWeb.Error (and
// an Error) whose `type` says why. Remote errors keep name, message, own properties and causes;
// stacks are redacted unless the server's onSendError supplies a replacement.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import * as CapnWeb from "../../src/index.js";
import { startCapnwebServer, type CapnwebServer } from "../interop/helpers.js";
import { CapnwebFeatureApi, recordClientFrames, startOurServer, type Api, type OurServer } from "./fixtures.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

let ours: OurServer;
const servers: { close(): Promise<void> }[] = [];
const opened: unknown[] = [];

beforeAll(async () => {
  ours = await startOurServer();
});
afterEach(async () => {
  for (const api of opened.splice(0)) {
    try {
      CapnWeb.close(api);
    } catch {
      // already closed
    }
  }
  for (const server of servers.splice(0)) await server.close();
});
afterAll(async () => {
  await ours.server.close();
});

async function open(url = ours.server.wsUrl): Promise<CapnWeb.Stub<Api>> {
  const api = await CapnWeb.connect<Api>(url);
  opened.push(api);
  return api;
}

/** What `await p` throws. */
async function thrown(p: PromiseLike<unknown>): Promise<CapnWeb.Error> {
  try {
    await p;
  } catch (error) {
    return error as CapnWeb.Error;
  }
  throw new Error("expected a rejection");
}

/** Both forms agree: `await` throws it, `CapnWeb.await` returns it; both are CapnWeb.Errors. */
async function failure(make: () => PromiseLike<unknown>): Promise<CapnWeb.Error> {
  const viaAwait = await thrown(make());
  expect(viaAwait).toBeInstanceOf(CapnWeb.Error);
  expect(viaAwait).toBeInstanceOf(Error);
  const result = await CapnWeb.await(make());
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error("unreachable");
  expect(result.error).toBeInstanceOf(CapnWeb.Error);
  expect(result.error).toBeInstanceOf(Error);
  expect(result.error.type).toBe(viaAwait.type);
  expect(result.error.message).toBe(viaAwait.message);
  return viaAwait;
}

describe.each([
  ["WebSocket", () => ours.server.wsUrl],
  ["HTTP batch", () => ours.server.url],
])("remote errors from our server over %s", (_name, url) => {
  it("keep name, message and own properties; type 'remote' when none is tagged", async () => {
    const api = await open(url());
    const error = await failure(() => api.throwWithProps());
    expect(error.type).toBe("remote");
    expect(error.name).toBe("RangeError");
    expect(error.remoteName).toBe("RangeError");
    expect(error.message).toBe("index 12 is out of range");
    expect((error as unknown as Record<string, unknown>).index).toBe(12);
    expect((error as unknown as Record<string, unknown>).detail).toEqual({ max: 10 });
  });

  it("take .type from the remote error's string `type` property", async () => {
    const api = await open(url());
    const error = await failure(() => api.throwWithType());
    expect(error.type).toBe("quota_exceeded");
    expect(error.name).toBe("Error");
    expect(error.message).toBe("over quota");
    expect((error as unknown as Record<string, unknown>).limit).toBe(3);
  });

  it("take .type from the remote error's string `code` property", async () => {
    const api = await open(url());
    const error = await failure(() => api.throwWithCode());
    expect(error.type).toBe("E_BUSY");
    expect((error as unknown as Record<string, unknown>).code).toBe("E_BUSY");
  });

  it("a non-string `type` does not become .type: 'remote'", async () => {
    const api = await open(url());
    const error = await failure(() => api.throwWithNonStringType());
    expect(error.type).toBe("remote");
  });

  it("a TypeError thrown by the server is a remote TypeError", async () => {
    const api = await open(url());
    const error = await failure(() => api.throwTyped());
    expect(error.type).toBe("remote");
    expect(error.name).toBe("TypeError");
    expect(error.message).toBe("bad input");
  });

  it("cause chains survive: the client's .cause is a RangeError 'inner'", async () => {
    const api = await open(url());
    const error = await failure(() => api.throwWithCause());
    expect(error.message).toBe("outer");
    expect(error.cause).toBeInstanceOf(RangeError);
    expect((error.cause as Error).message).toBe("inner");
  });

  it("an error in the middle of a pipeline reaches the end of it", async () => {
    const api = await open(url());
    const error = await failure(() => api.users().get(999).profile().name());
    expect(error.type).toBe("not_found");
    expect(error.message).toBe("no user 999");
    expect((error as unknown as Record<string, unknown>).id).toBe(999);
  });
});

describe("stacks", () => {
  it("are redacted by default: neither the wire nor the client's error carries the server's frames", async () => {
    const api = await open();
    await api.square(1);
    const log = recordClientFrames(api);
    const error = await thrown(api.throwTyped());
    const reject = log.texts.find((f) => f.dir === "in" && f.text.startsWith('["reject"'))!;
    expect(reject).toBeDefined();
    expect(reject.text).not.toContain("serverSideThrowerXyzzy");
    expect(reject.text).not.toContain("at ");
    expect(String(error.stack)).not.toContain("serverSideThrowerXyzzy");
  });

  it("onSendError: a replacement error is what the client gets, its stack included", async () => {
    const seen: Error[] = [];
    const custom = await startOurServer({
      onSendError: (err) => {
        seen.push(err);
        const replacement = new Error(`redacted: ${err.name}`);
        replacement.stack = "Error: redacted\n    at the-server-chose-this (server.ts:1:1)";
        return replacement;
      },
    });
    servers.push(custom.server);
    const api = await open(custom.server.wsUrl);
    const error = await thrown(api.throwSecret());
    expect(seen.map((e) => e.message)).toContain("password=hunter2 leaked in message");
    expect(error).toBeInstanceOf(CapnWeb.Error);
    expect(error.message).toBe("redacted: Error");
    expect(error.message).not.toContain("hunter2");
    expect(error.stack).toBe("Error: redacted\n    at the-server-chose-this (server.ts:1:1)");
  });

  it("onSendError may reveal the original's stack by returning it as the replacement", async () => {
    const custom = await startOurServer({ onSendError: (err) => err });
    servers.push(custom.server);
    const api = await open(custom.server.wsUrl);
    const error = await thrown(api.throwTyped());
    expect(error.name).toBe("TypeError");
    expect(error.stack).toContain("serverSideThrowerXyzzy");
  });

  it("onSendError may rewrite the message and tag a type; returning nothing sends the original, stackless", async () => {
    const custom = await startOurServer({
      onSendError: (err) => {
        if (err.message.includes("hunter2")) return Object.assign(new Error("internal error"), { type: "internal" });
        return undefined;
      },
    });
    servers.push(custom.server);
    const api = await open(custom.server.wsUrl);
    const rewritten = await thrown(api.throwSecret());
    expect(rewritten.message).toBe("internal error");
    expect(rewritten.type).toBe("internal");
    const untouched = await thrown(api.throwTyped());
    expect(untouched.message).toBe("bad input");
    expect(untouched.name).toBe("TypeError");
    expect(String(untouched.stack)).not.toContain("serverSideThrowerXyzzy");
  });
});

describe("local failures", () => {
  it("'disconnected': a call after close", async () => {
    const api = await open();
    expect(await api.square(2)).toBe(4);
    CapnWeb.close(api);
    const error = await failure(() => api.square(3));
    expect(error.type).toBe("disconnected");
  });

  it("'disconnected': a call in flight when the server goes away", async () => {
    const custom = await startOurServer();
    const api = await open(custom.server.wsUrl);
    await api.square(1);
    const pending = CapnWeb.await(api.slow(500));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await custom.server.close();
    const result = await pending;
    expect(!result.ok && result.error.type).toBe("disconnected");
    expect(!result.ok && result.error).toBeInstanceOf(CapnWeb.Error);
  });

  it("'released': a call on a released stub", async () => {
    const api = await open();
    const counter = await api.makeCounter(1);
    expect(await counter.increment(2)).toBe(3);
    CapnWeb.release(counter);
    const error = await failure(() => counter.increment(1));
    expect(error.type).toBe("released");
  });

  it("'released': a call on a stub disposed with Symbol.dispose", async () => {
    const api = await open();
    const counter = await api.makeCounter(1);
    counter[Symbol.dispose]();
    const error = await failure(() => counter.increment(1));
    expect(error.type).toBe("released");
  });

  it("'invalid_argument': passing a Map as an argument", async () => {
    const api = await open();
    const error = await failure(() => api.echo(new Map([["a", 1]])));
    expect(error.type).toBe("invalid_argument");
    expect(error.message).toMatch(/Map/);
    // The connection is unharmed.
    expect(await api.square(5)).toBe(25);
  });

  it("'invalid_argument' over HTTP batch too", async () => {
    const api = await open(ours.server.url);
    const error = await failure(() => api.echo(new Map()));
    expect(error.type).toBe("invalid_argument");
  });

  it("'not_found': calling a method that does not exist on our server's Target", async () => {
    const api = await open();
    const untyped = api as unknown as CapnWeb.Stub<any>;
    const error = await failure(() => untyped.noSuchMethod(1));
    expect(error.type).toBe("not_found");
    expect(error.message).toMatch(/noSuchMethod/);
  });

  it("'not_found': Object.prototype names and instance fields are not reachable", async () => {
    const api = await open();
    const untyped = api as unknown as CapnWeb.Stub<any>;
    expect((await failure(() => untyped.state())).type).toBe("not_found");
  });

  it("'invalid_argument': connect() to a URL with an unsupported scheme", async () => {
    const error = await thrown(CapnWeb.connect("ftp://example.com/"));
    expect(error).toBeInstanceOf(CapnWeb.Error);
    expect(error.type).toBe("invalid_argument");
  });

  it("'disconnected': connect() to a port nobody listens on", async () => {
    const custom = await startOurServer();
    const url = custom.server.wsUrl;
    await custom.server.close();
    const error = await thrown(CapnWeb.connect(url, { timeout: 2000 }));
    expect(error).toBeInstanceOf(CapnWeb.Error);
    expect(error.type).toBe("disconnected");
  });
});

describe("against capnweb's server", () => {
  let theirs: CapnwebServer;
  beforeAll(async () => {
    theirs = await startCapnwebServer(() => new CapnwebFeatureApi());
  });
  afterAll(async () => {
    await theirs.close();
  });

  it.each([["WebSocket", () => theirs.wsUrl], ["HTTP batch", () => theirs.url]])(
    "over %s: a tagged remote error keeps its type, message and properties",
    async (_name, url) => {
      const api = await open(url());
      const error = await failure(() => api.users().get(999).profile().name());
      expect(error.type).toBe("not_found");
      expect(error.message).toBe("no user 999");
      expect((error as unknown as Record<string, unknown>).id).toBe(999);
    },
  );

  it.each([["WebSocket", () => theirs.wsUrl], ["HTTP batch", () => theirs.url]])("over %s: type from `type`, properties and cause survive", async (_name, url) => {
    const api = await open(url());
    const tagged = await failure(() => api.throwWithType());
    expect(tagged.type).toBe("quota_exceeded");
    expect((tagged as unknown as Record<string, unknown>).limit).toBe(3);
    const caused = await failure(() => api.throwWithCause());
    expect(caused.type).toBe("remote");
    expect(caused.message).toBe("outer");
    expect(caused.cause).toBeInstanceOf(RangeError);
    expect((caused.cause as Error).message).toBe("inner");
  });

  it("a method capnweb's server does not have fails with a CapnWeb.Error", async () => {
    const api = await open(theirs.wsUrl);
    const error = await failure(() => (api as unknown as CapnWeb.Stub<any>).noSuchMethod());
    expect(error.type).toBe("remote");
    expect(error.name).toBe("TypeError");
  });
});
