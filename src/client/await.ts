// await(p): the Result form of awaiting a stub, for code that prefers branching to try/catch.

import { CapnWebError } from "../protocol/errors.js";
import { withReleaseReason } from "../protocol/ownership.js";
import { releaseStub } from "../protocol/stub.js";
import { deadline } from "./deadlines.js";

export type Result<T> = { ok: true; value: T } | { ok: false; error: CapnWebError };

export interface AwaitOptions {
  /** Milliseconds to wait. On expiry the call is released (cancelled) and the result is `timeout`. */
  timeout?: number;
}

/** Awaits `promise` and never throws: every failure becomes `{ ok: false, error }`. */
export async function awaitResult<T>(promise: PromiseLike<T> | T, options: AwaitOptions = {}): Promise<Result<Awaited<T>>> {
  try {
    const value = options.timeout === undefined ? await promise : await withTimeout(promise, options.timeout);
    return { ok: true, value: value as Awaited<T> };
  } catch (error) {
    return { ok: false, error: CapnWebError.from(error) };
  }
}

function withTimeout<T>(promise: PromiseLike<T> | T, ms: number): Promise<T> {
  if (!(ms >= 0) || !Number.isFinite(ms)) {
    return Promise.reject(new CapnWebError("invalid_argument", `timeout must be a finite number of milliseconds, got ${ms}`));
  }
  // On expiry the answer is no longer wanted: releasing the stub tells the peer, and a late
  // answer is then dropped (and any capability in it released) instead of kept.
  return deadline(Promise.resolve(promise), ms, () => withReleaseReason("timeout", () => releaseStub(promise)));
}
