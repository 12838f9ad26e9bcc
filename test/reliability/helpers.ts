// Shared pieces of the reliability suites: a canonical form of decoded values (so that our codec
// and capnweb's can be compared), a raw WebSocket peer, a seeded PRNG, the watch on unhandled
// rejections and uncaught exceptions, and the `RELIABILITY:` summary line every file prints.

import { once } from "node:events";
import WebSocket from "ws";

// capnweb's client opens its socket through the global WebSocket (Node 20 has none by default).
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// -----------------------------------------------------------------------------------------------
// Canonical values

/** Names no decoder keeps as an object key (capnweb's rule, and ours). */
export function isBlockedKey(key: string): boolean {
  return key in Object.prototype || key === "toJSON";
}

function bytes(view: ArrayBufferView | ArrayBuffer): number[] {
  return view instanceof ArrayBuffer
    ? [...new Uint8Array(view)]
    : [...new Uint8Array(view.buffer, view.byteOffset, view.byteLength)];
}

const STANDARD_ERRORS = new Set(["Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError", "AggregateError"]);

/**
 * A JSON-comparable description of a value as a decoder produced it, or as the sender meant it
 * (`sent: true`: the keys and -0 that the wire cannot carry are dropped, the way a faithful
 * decoder must drop them). Buffer and Uint8Array are the same thing here (capnweb decodes plain
 * bytes as a Buffer on Node).
 */
export function canon(value: unknown, sent = false, depth = 0): unknown {
  if (depth > 300) throw new Error("canon: too deep");
  switch (typeof value) {
    case "undefined":
      return { $: "undefined" };
    case "number":
      if (Number.isNaN(value)) return { $: "NaN" };
      if (value === Infinity) return { $: "Infinity" };
      if (value === -Infinity) return { $: "-Infinity" };
      return Object.is(value, -0) ? 0 : value;
    case "bigint":
      return { $: "bigint", v: value.toString() };
    case "string":
    case "boolean":
      return value;
    case "object":
      break;
    default:
      return { $: typeof value };
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    // A hole is sent as undefined.
    return Array.from({ length: value.length }, (_, i) => canon(value[i], sent, depth + 1));
  }
  if (value instanceof Date) return { $: "date", v: Number.isNaN(value.getTime()) ? "invalid" : value.getTime() };
  if (value instanceof URL) return { $: "url", v: value.href };
  if (value instanceof ArrayBuffer) return { $: "ArrayBuffer", v: bytes(value) };
  if (value instanceof DataView) return { $: "DataView", v: bytes(value) };
  if (ArrayBuffer.isView(value)) {
    const name = value instanceof Uint8Array && (value.constructor === Uint8Array || Buffer.isBuffer(value)) ? "Uint8Array" : value.constructor.name;
    return { $: name, v: bytes(value) };
  }
  if (value instanceof Headers) return { $: "headers", v: [...value] };
  if (value instanceof Error) {
    const props: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (key === "name" || key === "message" || key === "stack") continue;
      if (sent && isBlockedKey(key)) continue;
      const prop = (value as unknown as Record<string, unknown>)[key];
      if (sent && (typeof prop === "function" || typeof prop === "symbol")) continue;
      props[key] = canon(prop, sent, depth + 1);
    }
    if ("cause" in value && !("cause" in props)) props.cause = canon(value.cause, sent, depth + 1);
    if (value instanceof AggregateError) props.errors = canon(value.errors, sent, depth + 1);
    const name = value.name;
    return { $: "error", class: STANDARD_ERRORS.has(name) ? name : "Error", message: value.message, props };
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (sent && isBlockedKey(key)) continue;
    out[key] = canon((value as Record<string, unknown>)[key], sent, depth + 1);
  }
  return out;
}

// -----------------------------------------------------------------------------------------------
// A seeded PRNG (mulberry32): every random choice of a suite can be replayed from its seed.

export function prng(seed: number): { next(): number; int(n: number): number; pick<T>(items: readonly T[]): T; chance(p: number): boolean } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
  };
}

// -----------------------------------------------------------------------------------------------
// Unhandled rejections and uncaught exceptions

export interface CrashWatch {
  readonly unhandled: unknown[];
  readonly uncaught: unknown[];
  stop(): void;
}

/** Records every unhandled rejection and uncaught exception until `stop()`. */
export function watchCrashes(): CrashWatch {
  const unhandled: unknown[] = [];
  const uncaught: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  const onUncaught = (error: unknown): void => void uncaught.push(error);
  process.on("unhandledRejection", onUnhandled);
  process.on("uncaughtException", onUncaught);
  return {
    unhandled,
    uncaught,
    stop() {
      process.off("unhandledRejection", onUnhandled);
      process.off("uncaughtException", onUncaught);
    },
  };
}

// -----------------------------------------------------------------------------------------------
// A raw peer (no encoder of ours between the test and the wire)

export interface RawPeer {
  readonly socket: WebSocket;
  /** Every text frame received, in order, unparsed. */
  readonly frames: string[];
  /** Resolves with the close code and reason once the socket has closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly isClosed: boolean;
  send(frame: string | unknown[]): void;
  /** The first received frame, parsed, that satisfies `match`; undefined on close or timeout. */
  waitFor(match: (message: unknown[]) => boolean, timeoutMs: number): Promise<unknown[] | undefined>;
  terminate(): void;
}

export async function openRaw(url: string): Promise<RawPeer> {
  const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 128 * 1024 * 1024 });
  socket.on("error", () => {});
  const frames: string[] = [];
  const parsed: unknown[][] = [];
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  let isClosed = false;
  socket.on("message", (data) => {
    const text = data.toString();
    frames.push(text);
    try {
      const message = JSON.parse(text) as unknown;
      parsed.push(Array.isArray(message) ? message : [message]);
    } catch {
      parsed.push(["<unparsable>", text]);
    }
    wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on("close", (code, reason) => {
      isClosed = true;
      resolve({ code, reason: reason.toString() });
      wake();
    });
  });
  await once(socket, "open");
  return {
    socket,
    frames,
    closed,
    get isClosed() {
      return isClosed;
    },
    send(frame) {
      if (socket.readyState === WebSocket.OPEN) socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    },
    waitFor(match, timeoutMs) {
      return new Promise((resolve) => {
        let seen = 0;
        const check = (): boolean => {
          for (; seen < parsed.length; seen++) {
            if (match(parsed[seen]!)) {
              finish(parsed[seen]!);
              return true;
            }
          }
          if (isClosed) {
            finish(undefined);
            return true;
          }
          return false;
        };
        const finish = (result: unknown[] | undefined): void => {
          clearTimeout(timer);
          waiters.delete(onWake);
          resolve(result);
        };
        const onWake = (): void => void check();
        const timer = setTimeout(() => finish(undefined), timeoutMs);
        waiters.add(onWake);
        check();
      });
    },
    terminate() {
      socket.terminate();
    },
  };
}

// -----------------------------------------------------------------------------------------------
// The summary line

/** Prints one `RELIABILITY:` line for a suite (each file runs in its own worker). */
export function printSummary(suite: string, counts: Record<string, unknown>, startedAt: number): void {
  const parts = Object.entries(counts).map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : String(value)}`);
  // eslint-disable-next-line no-console
  console.log(`RELIABILITY: ${suite} ${parts.join(" ")} elapsed_ms=${Date.now() - startedAt}`);
}
