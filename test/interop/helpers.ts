// Shared pieces of the interop suites: a real capnweb 0.12 server (WebSocket + HTTP batch on one
// port) whose sessions and frames the tests can inspect, and the table of values that must
// survive a round trip between the two implementations.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { RpcSession, WebSocketTransport, nodeHttpBatchRpcResponse, type RpcTransport } from "capnweb";
import { expect } from "vitest";

// capnweb's client and its WebSocketTransport look for the global WebSocket (Node 20 has none).
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

/** One frame as seen by a capnweb session: "in" from the peer, "out" to it. */
export interface LoggedFrame {
  dir: "in" | "out";
  text: string;
}

/** Wraps a capnweb transport and records every frame that passes through it. */
export class LoggingTransport implements RpcTransport {
  constructor(
    private readonly inner: RpcTransport,
    readonly log: LoggedFrame[],
  ) {}
  send(message: string): void | Promise<void> {
    this.log.push({ dir: "out", text: message });
    return this.inner.send(message);
  }
  async receive(): Promise<string> {
    const message = await this.inner.receive();
    this.log.push({ dir: "in", text: message });
    return message;
  }
  abort(reason: unknown): void {
    this.inner.abort?.(reason);
  }
}

export interface CapnwebWsSession {
  session: RpcSession;
  frames: LoggedFrame[];
  socket: WebSocket;
}

export interface CapnwebServer {
  /** http://127.0.0.1:port/ (HTTP batch). */
  url: string;
  /** ws://127.0.0.1:port/ (WebSocket). */
  wsUrl: string;
  /** Every WebSocket session, in the order they were accepted. */
  sessions: CapnwebWsSession[];
  /** The number of HTTP batch POSTs answered so far. */
  posts: number;
  /** The most recent WebSocket session (waits for it to be accepted). */
  lastSession(): Promise<CapnwebWsSession>;
  close(): Promise<void>;
}

/** A capnweb 0.12 server on 127.0.0.1, port 0. `makeMain` is called once per session. */
export async function startCapnwebServer(makeMain: () => object): Promise<CapnwebServer> {
  const sessions: CapnwebWsSession[] = [];
  const waiting: Array<(s: CapnwebWsSession) => void> = [];
  const http = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.headers.upgrade?.toLowerCase() === "websocket") return;
    server.posts++;
    void nodeHttpBatchRpcResponse(request, response, makeMain());
  });
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (socket) => {
    const frames: LoggedFrame[] = [];
    const transport = new LoggingTransport(new WebSocketTransport(socket as any), frames);
    const entry = { session: new RpcSession(transport, makeMain()), frames, socket };
    sessions.push(entry);
    for (const resolve of waiting.splice(0)) resolve(entry);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  let seen = 0;
  const server: CapnwebServer = {
    url: `http://127.0.0.1:${port}/`,
    wsUrl: `ws://127.0.0.1:${port}/`,
    sessions,
    posts: 0,
    lastSession() {
      // Sessions are handed out in order: each call waits for the next one not yet handed out.
      if (sessions.length > seen) return Promise.resolve(sessions[seen++]!);
      return new Promise((resolve) => waiting.push((s) => (seen++, resolve(s))));
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return server;
}

/** Frames of `log` from index `from` on, parsed, as `[dir, messageType]` pairs. */
export function frameKinds(log: LoggedFrame[], from = 0): Array<[LoggedFrame["dir"], string]> {
  return log.slice(from).map((f) => [f.dir, (JSON.parse(f.text) as unknown[])[0] as string]);
}

// -------------------------------------------------------------------------------------------------
// Values that must round-trip

export interface ValueCase {
  name: string;
  make(): unknown;
  /** Asserts that `got` is a faithful copy of `make()`. */
  check(got: unknown): void;
}

function same(name: string, make: () => unknown): ValueCase {
  return { name, make, check: (got) => expect(got).toStrictEqual(make()) };
}

function bytesOf(view: ArrayBufferView | ArrayBuffer): number[] {
  return view instanceof ArrayBuffer
    ? [...new Uint8Array(view)]
    : [...new Uint8Array(view.buffer, view.byteOffset, view.byteLength)];
}

function typed<T extends ArrayBufferView>(ctor: new (values: any) => T, values: unknown[]): ValueCase {
  return {
    name: ctor.name,
    make: () => new ctor(values),
    check(got) {
      expect(got).toBeInstanceOf(ctor);
      // capnweb on Node decodes unmarked bytes as a Buffer (a Uint8Array subclass); every other
      // class must come back exactly.
      if (ctor !== (Uint8Array as unknown)) expect(Object.getPrototypeOf(got) === ctor.prototype).toBe(true);
      expect([...(got as unknown as Iterable<unknown>)]).toEqual(values);
    },
  };
}

function errorCase(name: string, make: () => Error, props: Record<string, unknown>): ValueCase {
  return {
    name,
    make,
    check(got) {
      const expected = make();
      expect(got).toBeInstanceOf(expected.constructor as ErrorConstructor);
      const error = got as Error & Record<string, unknown>;
      expect(error.name).toBe(expected.name);
      expect(error.message).toBe(expected.message);
      for (const [key, value] of Object.entries(props)) expect(error[key]).toStrictEqual(value);
    },
  };
}

export const VALUE_CASES: ValueCase[] = [
  same("null", () => null),
  same("true", () => true),
  same("false", () => false),
  same("zero", () => 0),
  same("a negative fraction", () => -1234.5678),
  same("MAX_SAFE_INTEGER", () => Number.MAX_SAFE_INTEGER),
  same("an empty string", () => ""),
  same("a unicode string", () => "héllo ☃ 𝄞 \u0000 \n \"quoted\""),
  same("a nested object", () => ({ a: { b: [1, { c: "d" }], e: null }, f: "g", h: { i: { j: { k: true } } } })),
  same("an empty array", () => []),
  same("arrays of arrays", () => [[1, 2], [3, [4, [5, []]]], [[["deep"]]]]),
  same("an array whose first element is an array", () => [["bytes", "AAA"], "x"]),
  same("an object with array-looking values", () => ({ x: ["date", 0], y: ["bigint", "1"] })),
  same("undefined", () => undefined),
  same("undefined inside an object and an array", () => ({ a: undefined, b: [undefined, 1] })),
  same("Infinity", () => Infinity),
  same("-Infinity", () => -Infinity),
  { name: "NaN", make: () => NaN, check: (got) => expect(Number.isNaN(got)).toBe(true) },
  same("a big positive bigint", () => 2n ** 200n + 12345n),
  same("a big negative bigint", () => -(2n ** 70n)),
  same("a Date", () => new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789))),
  {
    name: "an invalid Date",
    make: () => new Date(NaN),
    check(got) {
      expect(got).toBeInstanceOf(Date);
      expect(Number.isNaN((got as Date).getTime())).toBe(true);
    },
  },
  typed(Uint8Array, [0, 1, 127, 128, 255]),
  {
    name: "a Uint8Array view with an offset",
    make: () => new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4),
    check(got) {
      expect(got).toBeInstanceOf(Uint8Array);
      expect([...(got as Uint8Array)]).toEqual([1, 2, 3]);
    },
  },
  typed(Int8Array, [-128, -1, 0, 1, 127]),
  typed(Uint8ClampedArray, [0, 200, 255]),
  typed(Int16Array, [-32768, -1, 0, 258, 32767]),
  typed(Uint16Array, [0, 258, 65535]),
  typed(Int32Array, [-2147483648, -1, 0, 16909060, 2147483647]),
  typed(Uint32Array, [0, 16909060, 4294967295]),
  typed(Float32Array, [0, -1.5, 3.25, Infinity, -Infinity]),
  typed(Float64Array, [0, -1.5, Math.PI, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity]),
  typed(BigInt64Array, [-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n]),
  typed(BigUint64Array, [0n, 1n, 2n ** 64n - 1n]),
  {
    name: "an Int16Array view with an offset",
    make: () => new Int16Array([7, -2, 300, 7]).subarray(1, 3),
    check(got) {
      expect(got).toBeInstanceOf(Int16Array);
      expect([...(got as Int16Array)]).toEqual([-2, 300]);
    },
  },
  {
    name: "an ArrayBuffer",
    make: () => new Uint8Array([1, 2, 3, 250]).buffer,
    check(got) {
      expect(got).toBeInstanceOf(ArrayBuffer);
      expect(bytesOf(got as ArrayBuffer)).toEqual([1, 2, 3, 250]);
    },
  },
  {
    name: "a DataView",
    make: () => new DataView(new Uint8Array([0, 5, 6, 7, 0]).buffer, 1, 3),
    check(got) {
      expect(got).toBeInstanceOf(DataView);
      expect(bytesOf(got as DataView)).toEqual([5, 6, 7]);
    },
  },
  errorCase(
    "a RangeError with properties",
    () => Object.assign(new RangeError("too far"), { code: "E_RANGE", limit: 10, detail: { nested: [1, 2] } }),
    { code: "E_RANGE", limit: 10, detail: { nested: [1, 2] } },
  ),
  errorCase("a TypeError", () => new TypeError("wrong type"), {}),
  errorCase("a plain Error with a bigint property", () => Object.assign(new Error("plain"), { big: 10n ** 30n }), { big: 10n ** 30n }),
  errorCase("a SyntaxError", () => new SyntaxError("bad syntax"), {}),
  {
    name: "an Error with a cause",
    make: () => new Error("outer", { cause: new TypeError("inner") }),
    check(got) {
      expect(got).toBeInstanceOf(Error);
      expect((got as Error).message).toBe("outer");
      const cause = (got as Error).cause as Error;
      expect(cause).toBeInstanceOf(TypeError);
      expect(cause.message).toBe("inner");
    },
  },
  {
    name: "an AggregateError with its errors",
    make: () => new AggregateError([new RangeError("one"), new Error("two")], "several"),
    check(got) {
      expect(got).toBeInstanceOf(AggregateError);
      const error = got as AggregateError;
      expect(error.message).toBe("several");
      expect(error.errors).toHaveLength(2);
      expect(error.errors[0]).toBeInstanceOf(RangeError);
      expect(error.errors[0].message).toBe("one");
      expect(error.errors[1].message).toBe("two");
    },
  },
  {
    name: "a URL",
    make: () => new URL("https://example.com:8443/a/b?c=d&e=%20f#frag"),
    check(got) {
      expect(got).toBeInstanceOf(URL);
      expect((got as URL).href).toBe("https://example.com:8443/a/b?c=d&e=%20f#frag");
    },
  },
  {
    name: "Headers",
    make: () => new Headers([["content-type", "text/plain"], ["x-multi", "a"], ["x-multi", "b"], ["set-cookie", "k=v"]]),
    check(got) {
      expect(got).toBeInstanceOf(Headers);
      expect([...(got as Headers)]).toEqual([...new Headers([["content-type", "text/plain"], ["x-multi", "a"], ["x-multi", "b"], ["set-cookie", "k=v"]])]);
    },
  },
  {
    name: "an object holding one of everything",
    make: () => ({ d: new Date(0), b: 5n, u: new Uint8Array([1]), n: [null, undefined, NaN], url: new URL("http://x/") }),
    check(got) {
      const v = got as Record<string, any>;
      expect(v.d).toEqual(new Date(0));
      expect(v.b).toBe(5n);
      expect([...v.u]).toEqual([1]);
      expect(v.n[0]).toBe(null);
      expect(v.n[1]).toBe(undefined);
      expect(Number.isNaN(v.n[2])).toBe(true);
      expect(v.url.href).toBe("http://x/");
    },
  },
];

/** Polling options for vi.waitFor: release frames take a few milliseconds to arrive. */
export const WAIT = { timeout: 3000, interval: 5 };

/** Resolves after one macrotask. */
export const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
