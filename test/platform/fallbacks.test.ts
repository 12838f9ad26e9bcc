// What the library does on a runtime without Node's built-ins (a browser, a Web Worker): each
// platform module is loaded afresh with `process.getBuiltinModule` hidden, so that it takes its
// fallback, and checked against what Node's own module does.

import { Buffer } from "node:buffer";
import { afterEach, describe, expect, it } from "vitest";

const processWithBuiltins = globalThis.process as { getBuiltinModule?: unknown };
const saved = processWithBuiltins.getBuiltinModule;
/** A module of src/platform/ as a new instance (the query), so that it runs its detection again. */
const freshImport = (module: string): Promise<unknown> => import(/* @vite-ignore */ `../../src/platform/${module}.ts?without-builtins`);

/** Loads a platform module as a browser would get it: no Node built-ins (the query makes it a fresh instance). */
async function withoutBuiltins<T>(load: () => Promise<unknown>): Promise<T> {
  processWithBuiltins.getBuiltinModule = undefined;
  try {
    return (await load()) as T;
  } finally {
    processWithBuiltins.getBuiltinModule = saved;
  }
}
afterEach(() => {
  processWithBuiltins.getBuiltinModule = saved;
});

describe("bytes without Buffer", () => {
  it("base64 both ways matches Buffer for every length and byte, padded, unpadded and URL-safe", async () => {
    const bytes = await withoutBuiltins<typeof import("../../src/platform/bytes.js")>(() => freshImport("bytes"));
    expect(bytes.bufferPrototype).toBeUndefined();
    for (let n = 0; n < 300; n++) {
      const data = new Uint8Array(n).map((_, i) => (i * 37 + n * 11) & 255);
      const text = bytes.toBase64(data);
      expect(text).toBe(Buffer.from(data).toString("base64"));
      expect([...bytes.fromBase64(text)]).toEqual([...data]);
      expect([...bytes.fromBase64(text.replace(/=+$/, ""))]).toEqual([...data]);
      expect([...bytes.fromBase64(Buffer.from(data).toString("base64url"))]).toEqual([...data]);
    }
    // Application bytes are plain Uint8Arrays there, Buffers on Node.
    expect(Object.getPrototypeOf(bytes.appBytes(new Uint8Array(2)))).toBe(Uint8Array.prototype);
  });
});

describe("telemetry channels without node:diagnostics_channel", () => {
  it("publish reaches subscribers only while they are subscribed, and hasSubscribers says so", async () => {
    const { diagnostics } = await withoutBuiltins<typeof import("../../src/platform/diagnostics.js")>(() => freshImport("diagnostics"));
    const channel = diagnostics.channel("capnweb:test");
    expect(channel.hasSubscribers).toBe(false);
    const seen: unknown[] = [];
    const listener = (message: unknown) => void seen.push(message);
    diagnostics.subscribe("capnweb:test", listener);
    expect(channel.hasSubscribers).toBe(true);
    channel.publish({ n: 1 });
    expect(diagnostics.unsubscribe("capnweb:test", listener)).toBe(true);
    channel.publish({ n: 2 });
    expect(seen).toEqual([{ n: 1 }]);
    expect(channel.hasSubscribers).toBe(false);
  });
});

describe("async context without AsyncLocalStorage", () => {
  it("the store is seen by the synchronous part of run() only, as documented", async () => {
    const { asyncContext, contextFollowsAwaits } = await withoutBuiltins<typeof import("../../src/platform/async-context.js")>(() => freshImport("async-context"));
    expect(contextFollowsAwaits).toBe(false);
    const context = asyncContext<string>();
    let afterAwait: string | undefined = "unset";
    const done = context.run("owner", async () => {
      expect(context.getStore()).toBe("owner");
      expect(context.exit(() => context.getStore())).toBeUndefined();
      expect(context.getStore()).toBe("owner");
      await Promise.resolve();
      afterAwait = context.getStore();
    });
    expect(context.getStore()).toBeUndefined();
    await done;
    expect(afterAwait).toBeUndefined();
  });
});
