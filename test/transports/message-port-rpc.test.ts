// RPC between two capnweb-otp peers over a MessageChannel, in both directions, including a peer
// in a real worker thread.

import { MessageChannel, Worker } from "node:worker_threads";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";

class Calculator extends CapnWeb.Target {
  add(a: number, b: number) {
    return a + b;
  }
  async twice(callback: (x: number) => Promise<number>, x: number) {
    const first = await callback(x);
    const result = await callback(first);
    CapnWeb.release(callback);
    return result;
  }
}

const opened: unknown[] = [];
afterEach(() => {
  for (const root of opened.splice(0)) CapnWeb.close(root);
});

describe("MessagePort transport", () => {
  it("carries calls, pipelined results and callbacks between two sessions", async () => {
    const { port1, port2 } = new MessageChannel();
    const server = CapnWeb.connectMessagePort(port2, { main: new Calculator() });
    const client = CapnWeb.connectMessagePort<Calculator>(port1);
    opened.push(client, server);

    expect(await client.add(2, 3)).toBe(5);
    expect(await client.twice(async (x: number) => x * 10, 4)).toBe(400);
    await vi.waitFor(() => expect(CapnWeb.stats(server)).toEqual({ imports: 1, exports: 1 }));
  });

  it("fails calls in flight with `disconnected` when the other side closes", async () => {
    const { port1, port2 } = new MessageChannel();
    const never = new (class extends CapnWeb.Target {
      wait() {
        return new Promise(() => {});
      }
    })();
    const server = CapnWeb.connectMessagePort(port2, { main: never });
    const client = CapnWeb.connectMessagePort<typeof never>(port1);
    opened.push(client);
    const pending = CapnWeb.await(client.wait());
    CapnWeb.close(server);
    const result = await pending;
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.type).toBe("disconnected");
  });

  it("talks to a peer in a worker thread", async () => {
    const worker = new Worker(
      `
      const { parentPort } = require("node:worker_threads");
      parentPort.once("message", async ({ port, entry }) => {
        const { register } = await import("tsx/esm/api");
        register();
        const CapnWeb = await import(entry);
        class Echo extends CapnWeb.Target { shout(text) { return text.toUpperCase() + "!"; } }
        CapnWeb.connectMessagePort(port, { main: new Echo() });
      });
      `,
      { eval: true },
    );
    try {
      const { port1, port2 } = new MessageChannel();
      const entry = new URL("../../src/index.ts", import.meta.url).href;
      worker.postMessage({ port: port2, entry }, [port2]);
      const echo = CapnWeb.connectMessagePort<{ shout(text: string): string }>(port1);
      opened.push(echo);
      expect(await echo.shout("hello")).toBe("HELLO!");
    } finally {
      await worker.terminate();
    }
  });
});

describe("MessagePort against capnweb's own MessagePort session", () => {
  it("talks both ways in capnweb's structured-clone encoding, every value type included", async () => {
    const { newMessagePortRpcSession, RpcTarget } = await import("capnweb");
    class Echo extends RpcTarget {
      echo(value: unknown) {
        return value;
      }
      async callBack(callback: (n: bigint) => Promise<bigint>) {
        return await callback(41n);
      }
    }
    const { port1, port2 } = new MessageChannel();
    const theirs = newMessagePortRpcSession(port2 as never, new Echo()) as unknown as Disposable;
    const api = CapnWeb.connectMessagePort<any>(port1, { encoding: "structured" });
    opened.push(api);
    try {
      const values = [undefined, NaN, Infinity, -Infinity, 12n ** 30n, new Date(5), new Uint8Array([1, 2, 3]), new Float64Array([1.5, -2]), [1, [undefined]], { a: { b: new Date(0) } }];
      const echoed = await api.echo(values);
      expect(echoed[0]).toBeUndefined();
      expect(echoed[1]).toBeNaN();
      expect(echoed.slice(2, 4)).toEqual([Infinity, -Infinity]);
      expect(echoed[4]).toBe(12n ** 30n);
      expect(echoed[5]).toEqual(new Date(5));
      expect([...echoed[6]]).toEqual([1, 2, 3]);
      expect(echoed[7]).toBeInstanceOf(Float64Array);
      expect([...echoed[7]]).toEqual([1.5, -2]);
      expect(echoed[8]).toEqual([1, [undefined]]);
      expect(echoed[9]).toEqual({ a: { b: new Date(0) } });
      expect(await api.callBack(async (n: bigint) => n + 1n)).toBe(42n);
    } finally {
      theirs[Symbol.dispose]();
    }
  });
});
