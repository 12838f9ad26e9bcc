// Owners of capabilities. Whoever's code is running owns the stubs it obtains (AsyncLocalStorage
// carries "whoever" across awaits); when the owner ends, crash included, every stub it still
// holds is released with reason "owner-ended". Scopes, target actors and supervised actors are
// owners. Where the runtime has no AsyncLocalStorage (browsers), an owner sees only what is
// obtained in the synchronous part of its callback: after an `await`, keep() or release by hand.

import { asyncContext } from "../platform/async-context.js";
import { type StubOwner, installOwnership, withReleaseReason } from "../protocol/ownership.js";
import { labelImportOwner } from "../protocol/session.js";
import { anchoredStubOf, isRootLive, releaseRoot, stubViewOf } from "../protocol/stub.js";
import { setDefaultActorScope } from "../supervisor/actor-child.js";

const running = asyncContext<Owner>();
const ownerOfTarget = new WeakMap<object, Owner>();

// Adopted roots that were released meanwhile are swept out once the set grows past this, so a
// long-lived owner holding few live stubs stays small however many it saw.
const SWEEP_AT = 1_024;

export class Owner implements StubOwner {
  private readonly roots = new Set<object>();
  private sweepAt = SWEEP_AT;
  private ended = false;

  constructor(readonly label: string) {}

  adopt(root: object): void {
    if (this.ended) {
      // Obtained after its owner ended (a late answer): nobody is left to hold it.
      withReleaseReason("owner-ended", () => releaseRoot(root));
      return;
    }
    this.roots.add(root);
    labelImportOwner(root, this.label);
    if (this.roots.size >= this.sweepAt) this.sweep();
  }

  /**
   * Adopts every stub in a value (arguments a handler received): plain objects and arrays, and
   * the streams among them.
   */
  adoptAll(value: unknown, depth = 0): void {
    if (depth > 64 || value === null) return;
    const view = stubViewOf(value);
    if (view) {
      if (!view.isReleased && view.path.length === 0) this.adopt(view.root);
      return;
    }
    if (typeof value === "object" && (value instanceof ReadableStream || value instanceof WritableStream)) {
      this.adoptStream(value);
      return;
    }
    if (Array.isArray(value)) {
      for (const item of value) this.adoptAll(item, depth + 1);
    } else if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      for (const key in value as Record<string, unknown>) this.adoptAll((value as Record<string, unknown>)[key], depth + 1);
    }
  }

  /**
   * A received stream is backed by a stub its call's arguments release when the call returns
   * (capnweb's rule: an untouched stream is cancelled then). Received by an actor, it is the
   * actor's like a stub: a reference of its own keeps it until the actor ends, which cancels it.
   */
  private adoptStream(stream: ReadableStream | WritableStream): void {
    const anchor = anchoredStubOf(stream);
    const view = stubViewOf(anchor);
    if (!view || view.isReleased) return;
    const own = stubViewOf((anchor as { dup(): unknown }).dup());
    if (own) this.adopt(own.root);
  }

  /** Gives a stub up: it outlives this owner (the caller takes responsibility for it). */
  keep(stub: unknown): void {
    const view = stubViewOf(stub);
    if (view) this.roots.delete(view.root);
  }

  /** Runs `fn` as this owner: stubs obtained in it, and in what it awaits, are this owner's. */
  run<T>(fn: () => T): T {
    return running.run(this, fn);
  }

  /** Stubs held right now. */
  get holding(): number {
    let live = 0;
    for (const root of this.roots) if (isRootLive(root)) live++;
    return live;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Releases everything still held. Later adoptions are released at once. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const roots = [...this.roots];
    this.roots.clear();
    withReleaseReason("owner-ended", () => {
      for (const root of roots) releaseRoot(root);
    });
  }

  private sweep(): void {
    for (const root of this.roots) if (!isRootLive(root)) this.roots.delete(root);
    this.sweepAt = Math.max(SWEEP_AT, this.roots.size * 2);
  }
}

/** Calls on `target` run as `owner`. */
export function setTargetOwner(target: object, owner: Owner): void {
  ownerOfTarget.set(target, owner);
}

export function currentOwner(): Owner | undefined {
  return running.getStore();
}

/** Runs `fn` owned by nobody: what it obtains is the caller's to keep (a session's restorables). */
export function withoutOwner<T>(fn: () => T): T {
  return running.exit(fn);
}

installOwnership({
  current: () => running.getStore(),
  runFor: (target, fn) => {
    const owner = ownerOfTarget.get(target);
    return owner ? owner.run(fn) : fn();
  },
});

// A supervised actor owns what it obtains: its stop or crash releases it.
setDefaultActorScope((id) => new Owner(`actor ${id}`));
