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

/** Runs the target's disposer, if it has one, once its last reference is gone. */
export function disposeTarget(target: object): void {
  const dispose = (target as { [Symbol.dispose]?: () => void })[Symbol.dispose];
  if (typeof dispose === "function") {
    try {
      dispose.call(target);
    } catch {
      // A throwing disposer must not take the session down; the target is gone either way.
    }
  }
}
