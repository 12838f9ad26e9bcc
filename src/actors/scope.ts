// scope() and withCapability(): owners with a block's lifetime, for code outside any actor.

import { release } from "../client/release.js";
import { Owner } from "./owner.js";

/**
 * Runs `fn` as the owner of every capability obtained inside it (across awaits); when `fn`
 * settles, by return or throw, they are all released. `scope.keep(stub)` lets one outlive it.
 */
export async function scope<T>(fn: (scope: Owner) => Promise<T> | T): Promise<T> {
  const owner = new Owner("scope");
  try {
    return await owner.run(() => fn(owner));
  } finally {
    owner.end();
  }
}

/** Awaits a capability, runs `fn` with it, and releases it on every way out. */
export async function withCapability<C, T>(capability: PromiseLike<C> | C, fn: (capability: C) => Promise<T> | T): Promise<T> {
  const value = await capability;
  try {
    return await fn(value);
  } finally {
    release(value);
  }
}
