// release(x): gives back the references a stub, or a value holding stubs, owns.

import { isStub, releaseStub } from "../protocol/stub.js";

/**
 * Releases a stub (the peer is told with `["release", id, n]` once no copy is left), or every
 * stub inside a plain object or array that an RPC returned. Releasing twice is harmless.
 */
export function release(value: unknown): void {
  releaseDeep(value, 0);
}

function releaseDeep(value: unknown, depth: number): void {
  if (depth > 64 || value === null) return;
  if (isStub(value)) {
    releaseStub(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) releaseDeep(item, depth + 1);
  } else if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const key in value as Record<string, unknown>) releaseDeep((value as Record<string, unknown>)[key], depth + 1);
  }
}
