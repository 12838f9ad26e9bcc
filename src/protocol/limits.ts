// Every bound on what a peer may make us hold or do, in one place. They are local decisions (the
// protocol has no negotiation). The defaults are far above what an ordinary application reaches
// (the first three are capnweb 0.12's own, so no honest capnweb peer is refused) and far below
// what would stall or exhaust a process: a peer that breaks one has its session aborted with a
// CapnWebError of type "limit" whose `limit` property names it, and no other session notices.
//
// The session enforces the counts (tables, pending calls, remap work); the transports and the
// server enforce bytes and time, which need I/O and clocks that the protocol layer never touches.

import { CapnWebError } from "./errors.js";

export interface Limits {
  // --- One message (checked by the session) ---------------------------------------------------
  /** Digits of a `["bigint", "..."]` value (BigInt parsing is superlinear). */
  maxBigIntDigits: number;
  /** Nesting depth of one message, call arguments included (guards the stack). */
  maxDepth: number;
  /** Length of one incoming frame in UTF-16 code units, checked before JSON.parse. */
  maxMessageSize: number;

  // --- Tables of one session (checked by the session) ------------------------------------------
  /** Entries of the export table: the peer's pushes not yet released, and what we exported to it. */
  maxExports: number;
  /** Entries of the import table: what the peer exported to us, and our calls not yet released. */
  maxImports: number;
  /** The peer's calls we have been asked to answer (pulled) and have not answered yet. */
  maxPendingCalls: number;
  /** Our calls (and promises the peer sent us) awaiting the peer's answer. */
  maxAwaitedAnswers: number;
  /**
   * Work of one incoming `remap`: instructions run, summed over every element (nested remaps
   * included). A small frame can otherwise expand into millions of calls.
   */
  maxRemapWork: number;

  // --- Bytes (checked by the transports) --------------------------------------------------------
  /**
   * Bytes of one WebSocket message, checked from the frame headers before the payload is
   * buffered, fragments summed (the `ws` maxPayload). 32 Mi code units of UTF-8 can take 96 MiB.
   */
  maxMessageBytes: number;
  /**
   * Bytes waiting to be written to one peer (one that does not read, or the answers to more
   * requests in flight than this): above it the session is aborted and the socket dropped. A
   * frame written while less than `pauseReadingAbove` waits is accepted, whatever its size.
   */
  maxSendBuffer: number;
  /**
   * Buffered outgoing bytes above which a server stops reading the peer until the buffer drains
   * (clients always read: if both sides paused, two fast senders would wait for each other).
   */
  pauseReadingAbove: number;
  /** Bytes of one HTTP batch body, counted as it arrives (a Content-Length over it is refused at once). */
  maxBatchBytes: number;
  /** Lines (messages) of one HTTP batch body, counted as it arrives. */
  maxBatchLines: number;

  // --- Time, in milliseconds (checked by the transports and the server) ------------------------
  /** From the connection to the end of the HTTP headers (`serve()` only) and of `authenticate`. */
  handshakeTimeout: number;
  /** For a whole HTTP batch body to arrive (a never-ending chunked body ends here). */
  bodyTimeout: number;
  /** For an HTTP batch to be answered; then it is answered with an abort and its session ends. */
  batchTimeout: number;
  /**
   * Server-side WebSocket ping interval: a peer that has sent nothing (not even the pong) by the
   * next ping is gone; a message left unfinished (fragments) over a whole interval, or a buffer
   * above `pauseReadingAbove` of which the peer read nothing over one, ends the session.
   */
  heartbeatInterval: number;

  // --- The server as a whole (checked by the server) -------------------------------------------
  /** Sessions open at once (WebSocket connections and HTTP batches being answered). */
  maxSessions: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxBigIntDigits: 16_384,
  maxDepth: 256,
  maxMessageSize: 32 * MiB,
  maxExports: 100_000,
  maxImports: 100_000,
  maxPendingCalls: 20_000,
  maxAwaitedAnswers: 20_000,
  maxRemapWork: 100_000,
  maxMessageBytes: 100 * MiB,
  maxSendBuffer: 64 * MiB,
  pauseReadingAbove: 1 * MiB,
  maxBatchBytes: 100 * MiB,
  maxBatchLines: 100_000,
  handshakeTimeout: 10_000,
  bodyTimeout: 30_000,
  batchTimeout: 60_000,
  heartbeatInterval: 30_000,
  maxSessions: 100_000,
});

export type LimitName = keyof Limits;

/** Complete limits from partial overrides; a bad value is the caller's mistake, told at once. */
export function resolveLimits(overrides: Partial<Limits> | undefined): Readonly<Limits> {
  // Shared, never copied: a server's sessions all hold the server's frozen limits.
  if (overrides === undefined) return DEFAULT_LIMITS;
  if (overrides === DEFAULT_LIMITS || (Object.isFrozen(overrides) && isComplete(overrides))) return overrides as Readonly<Limits>;
  for (const key of Object.keys(overrides)) {
    if (!(key in DEFAULT_LIMITS)) throw new CapnWebError("invalid_argument", `Unknown limit ${JSON.stringify(key)}.`);
    const value = (overrides as Record<string, unknown>)[key];
    if (value !== undefined && !(typeof value === "number" && value > 0)) {
      throw new CapnWebError("invalid_argument", `Limit ${key} must be a positive number, not ${String(value)}.`);
    }
  }
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(overrides) as LimitName[]) {
    const value = overrides[key];
    if (value !== undefined) limits[key] = value;
  }
  return limits;
}

function isComplete(limits: Partial<Limits>): limits is Limits {
  for (const key in DEFAULT_LIMITS) if (typeof limits[key as LimitName] !== "number") return false;
  return true;
}

/** The error a session ends with when its peer breaks `limit`. */
export function limitExceeded(limit: LimitName, message: string): CapnWebError {
  return CapnWebError.ofLifecycle("limit", message, { props: { limit } });
}

/** Whether `error` reports a broken limit (and which). */
export function limitOf(error: unknown): LimitName | undefined {
  if (!(error instanceof CapnWebError) || error.type !== "limit") return undefined;
  const limit = (error as { limit?: unknown }).limit;
  return typeof limit === "string" && limit in DEFAULT_LIMITS ? (limit as LimitName) : undefined;
}

/**
 * What one incoming `remap` may still do, shared by its nested remaps (a remap inside a mapper
 * spends from the budget of the message it arrived in): every element costs its instructions.
 */
export class RemapBudget {
  private left: number;

  constructor(
    readonly limits: Limits,
    /** Makes the error (and lets the session abort); by default just the error. */
    private readonly exceeded: (limit: LimitName, message: string) => CapnWebError = limitExceeded,
  ) {
    this.left = limits.maxRemapWork;
  }

  spend(instructions: number): void {
    this.left -= instructions;
    if (this.left < 0) {
      this.left = -Infinity;
      throw this.exceeded("maxRemapWork", `A remap needs more than ${this.limits.maxRemapWork} instruction runs (instructions times elements).`);
    }
  }
}

/** Local map() on a local value: the application's own work, not a peer's. */
export const UNLIMITED_REMAP: RemapBudget = new RemapBudget({ ...DEFAULT_LIMITS, maxRemapWork: Infinity });

// The budget of a remap travels with its instruction list (from decoding to the map applier).
const remapBudgets = new WeakMap<object, RemapBudget>();

export function attachRemapBudget(instructions: unknown[], budget: RemapBudget): void {
  remapBudgets.set(instructions, budget);
}

export function remapBudgetOf(instructions: unknown[]): RemapBudget {
  return remapBudgets.get(instructions) ?? UNLIMITED_REMAP;
}

// Who hears of broken limits: telemetry installs a listener; the protocol layer only reports.
/** Who broke a limit, as far as the session knows: its transport and the peer's address. */
export interface LimitPeer {
  transport?: string;
  address?: string;
}

export interface LimitBreach extends LimitPeer {
  limit: LimitName;
  message: string;
  error: CapnWebError;
}

let limitListener: ((breach: LimitBreach) => void) | undefined;

export function observeLimits(listener: ((breach: LimitBreach) => void) | undefined): void {
  limitListener = listener;
}

export function reportLimit(error: CapnWebError, peer: LimitPeer | undefined): void {
  const limit = limitOf(error);
  if (limitListener && limit) {
    try {
      limitListener({ limit, message: error.message, error, ...peer });
    } catch {
      // A broken observer must not break the session's shutdown.
    }
  }
}

/**
 * Names that never travel: everything `Object.prototype` has (`__proto__`, `constructor`,
 * `toString`, ...) plus `toJSON`. capnweb strips them from decoded objects and refuses them in
 * property paths; so do we, whatever the object, so that no peer can reach prototype machinery.
 */
export function isBlockedName(name: string | number): boolean {
  // "__proto__" by name too: Deno deletes Object.prototype.__proto__, and the name must be
  // refused on every runtime all the same.
  return typeof name === "string" && (name in Object.prototype || name === "toJSON" || name === "__proto__");
}
