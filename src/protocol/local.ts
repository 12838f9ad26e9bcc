// Stubs of things in this process: a Target, a function or a plain value wrapped as a capability
// (capnweb's `new RpcStub(value)`), and a capability that stands for a promise's eventual value
// (capnweb's `new RpcPromise(promise)`), on which calls queue, in order, until it settles.

import { type Hook, PayloadHook, PromiseHook, TargetHook } from "./hooks.js";
import { Payload } from "./payload.js";
import { newPromiseStub, newStub, stubViewOf } from "./stub.js";
import { isTarget } from "./target.js";
import type { Pipelined, Stub } from "./types.js";

/**
 * A local stub of `value`: a Target or a function is called through it by reference (its
 * `Symbol.dispose` runs when the stub and its dups are all released); a plain object or array is
 * reachable by path, and the stubs and Targets in it are released with the stub.
 */
export function localStub<T>(value: T): Stub<T> {
  return newStub(hookForLocal(value));
}

/**
 * A capability backed by a promise: calls and property reads made before it settles are queued
 * and reach its value in the order they were made; if it rejects, they all fail with its error.
 * Awaiting it yields the value (a stub, for a Target or a stub).
 */
export function promisedStub<T>(promise: PromiseLike<T>): Pipelined<Awaited<T>> {
  return newPromiseStub(new PromiseHook(Promise.resolve(promise).then(hookForLocal)));
}

/** @internal The hook a local value is reached through. */
export function hookForLocal(value: unknown): Hook {
  if (isTarget(value) || (typeof value === "function" && !stubViewOf(value))) return TargetHook.wrap(value as object);
  const stubs: unknown[] = [];
  collectStubs(value, stubs, 0);
  return new PayloadHook(Payload.owning(value, stubs), true);
}

function collectStubs(value: unknown, into: unknown[], depth: number): void {
  if (stubViewOf(value)) {
    into.push(value);
    return;
  }
  if (depth > 64 || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) for (const item of value) collectStubs(item, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const key in value as Record<string, unknown>) collectStubs((value as Record<string, unknown>)[key], into, depth + 1);
  }
}
