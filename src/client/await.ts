// await(p): the Result form of awaiting a stub, for code that prefers branching to try/catch.

import { CapnWebError } from "../protocol/errors.js";
import { withCallTimeout, withReleaseReason } from "../protocol/ownership.js";
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
  // A stub's await starts inside withCallTimeout: its own deadline uses `ms` rather than the
  // session's or the application's, and on expiry releases the call, so that a late answer is
  // dropped (and any capability in it released) instead of kept. The outer deadline covers
  // anything else that was passed in.
  const started = withCallTimeout(ms, () => new Promise<T>((resolve, reject) => void toThenable(promise).then(resolve, reject)));
  return deadline(started, ms, () => withReleaseReason("timeout", () => releaseStub(promise)));
}

/** A value `then` can be called on now, synchronously (a stub's pull starts in that call). */
function toThenable<T>(value: PromiseLike<T> | T): PromiseLike<T> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as PromiseLike<T>).then === "function"
    ? (value as PromiseLike<T>)
    : Promise.resolve(value);
}
