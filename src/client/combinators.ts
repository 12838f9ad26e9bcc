// batch(), rescue() and map(): the original's pipeline combinators over stubs.

import { CapnWebError } from "../protocol/errors.js";
import type { MapElement, MapResult, Pipelined, StubMembers } from "../protocol/types.js";
import type { Result } from "./await.js";

/** The values of the promises given to batch(), as a tuple. */
export type BatchValues<T extends readonly unknown[]> = { -readonly [K in keyof T]: Awaited<T[K]> };

/**
 * Resolves several promises at once and returns a Result of the tuple. Their calls already left
 * when they were made, and every pull leaves now, in the same turn: over WebSocket one round
 * trip, over HTTP batch one request, when they share a stem or not.
 */
export async function batch<const T extends readonly unknown[]>(promises: T): Promise<Result<BatchValues<T>>> {
  try {
    return { ok: true, value: (await Promise.all(promises)) as BatchValues<T> };
  } catch (error) {
    return { ok: false, error: CapnWebError.from(error) };
  }
}

/**
 * The value of `promise`, or, if it fails anywhere in its pipeline, what `fallback` returns for
 * the error. A fallback that throws (or rethrows) makes the whole thing fail with that.
 */
export function rescue<T, U>(promise: PromiseLike<T>, fallback: (error: CapnWebError) => U | PromiseLike<U>): Promise<Awaited<T> | Awaited<U>> {
  return Promise.resolve(promise).then(
    (value) => value as Awaited<T>,
    (error) => fallback(CapnWebError.from(error)) as Awaited<U>,
  );
}

/** `CapnWeb.map(p, fn)`: the same as `p.map(fn)`, as a function. */
export function map<T, U>(promise: StubMembers<T>, mapper: (element: Pipelined<MapElement<T>>) => U): Pipelined<MapResult<T, U>> {
  if (!promise || typeof (promise as { map?: unknown }).map !== "function") {
    throw new CapnWebError("invalid_argument", "map() needs a stub or a pipelined promise.");
  }
  return promise.map(mapper);
}
