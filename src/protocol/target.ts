// What may be passed by reference. A Target's methods (its prototype members, never its
// instance fields) are what a peer can call; a plain function is a one-method capability.

/**
 * Base class of every object exported by reference. Only prototype members are reachable over
 * RPC; instance fields stay private, and reaching for one is refused with a clear error.
 */
export class Target {
  // Type-level only: without a member of its own, every object type would "extend" Target.
  declare private readonly [targetType]: true;
}
declare const targetType: unique symbol;

// A registered symbol rather than `instanceof`, so that two copies of the library in one process
// (a bundled and a hoisted one) still recognise each other's targets.
const TARGET_BRAND: unique symbol = Symbol.for("capnweb-otp.Target");
Object.defineProperty(Target.prototype, TARGET_BRAND, { value: true });

export function isTarget(value: unknown): value is Target {
  return typeof value === "object" && value !== null && TARGET_BRAND in value;
}

const disposed = new WeakSet<object>();
const liveReferences = new WeakMap<object, number>();

/** Counts a reference to a target held by an export or a local stub (any session). */
export function referenceTarget(target: object, delta: 1 | -1): void {
  liveReferences.set(target, (liveReferences.get(target) ?? 0) + delta);
}

/** How many exports and local stubs refer to the target now. */
export function referencesOf(target: object): number {
  return liveReferences.get(target) ?? 0;
}

/** Whether anything still refers to the target by reference (an export, a local stub). */
export function isTargetReferenced(target: object): boolean {
  return (liveReferences.get(target) ?? 0) > 0;
}

/** Runs the target's disposer, if it has one, once: when its last reference is gone. */
export function disposeTarget(target: object): void {
  if (disposed.has(target)) return;
  disposed.add(target);
  const dispose = (target as { [Symbol.dispose]?: () => void })[Symbol.dispose];
  if (typeof dispose === "function") {
    try {
      dispose.call(target);
    } catch {
      // A throwing disposer must not take the session down; the target is gone either way.
    }
  }
}
