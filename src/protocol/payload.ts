// A Payload is one value in transit: the arguments of a call, or the resolution of a promise.
//
// Ownership rule (the one place it is decided): a payload decoded from the wire owns the stubs
// the decoder created in it, until it is delivered to the application, which then owns them.
// A payload built from an application value owns nothing: the application keeps its stubs, and
// whatever the encoder exports is a new reference (`dup`). So passing a stub as an argument
// never consumes it, and a decoded payload that is dropped undelivered releases what it held.

import type { Hook } from "./hooks.js";
import { adoptStub, anchoredStubOf, copyWithNewStubs, isStub, releaseStub } from "./stub.js";

/** A place in a decoded value that holds a promise to be replaced by its resolution. */
interface PendingSlot {
  parent: Record<string | number, unknown> | Payload;
  key: string | number;
  hook: Hook;
}

export class Payload {
  private constructor(
    public value: unknown,
    /** Stubs this payload still owns (decoded, not yet delivered). */
    private owned: unknown[] | undefined,
    /** Promise placeholders still to be replaced. */
    private pending: PendingSlot[] | undefined,
    /** Whether the value was handed to the application, which then owns its stubs. */
    private delivered: boolean,
  ) {}

  static fromApp(value: unknown): Payload {
    return new Payload(value, undefined, undefined, false);
  }

  /**
   * A value the application hands over with the stubs in it (`stubs`): they are released with
   * the payload, unless it is delivered first.
   */
  static owning(value: unknown, stubs: unknown[]): Payload {
    return new Payload(value, stubs.length > 0 ? stubs : undefined, undefined, false);
  }

  /** An empty payload for the decoder to fill: it is the parent of its own root value. */
  static forDecoding(): Payload {
    return new Payload(undefined, undefined, undefined, false);
  }

  /** Called once by the decoder: the stubs it created and the promises it left in the value. */
  attach(owned: unknown[] | undefined, pending: PendingSlot[] | undefined): void {
    this.owned = owned;
    this.pending = pending;
  }

  /**
   * When the whole value is one pending promise (a push of a single call, the common case),
   * hands over that promise's hook and leaves the payload empty, saving a wrapper per call.
   */
  soleHook(): Hook | undefined {
    const pending = this.pending;
    if (this.owned || !pending || pending.length !== 1) return undefined;
    const slot = pending[0]!;
    if (slot.parent !== (this as unknown) || slot.key !== "value") return undefined;
    this.pending = undefined;
    return slot.hook;
  }

  /** One payload whose value is the array of the parts' values (a map over an array). */
  static combine(parts: Payload[]): Payload {
    const value = new Array(parts.length);
    const owned: unknown[] = [];
    const pending: PendingSlot[] = [];
    parts.forEach((part, index) => {
      value[index] = part.value;
      if (part.owned) owned.push(...part.owned);
      if (part.pending) {
        for (const slot of part.pending) {
          pending.push(slot.parent === part ? { parent: value as unknown as Record<number, unknown>, key: index, hook: slot.hook } : slot);
        }
      }
    });
    const combined = new Payload(value, undefined, undefined, false);
    combined.attach(owned.length ? owned : undefined, pending.length ? pending : undefined);
    return combined;
  }

  /** Whether the value went to the application (which then owns its stubs). */
  get wasDelivered(): boolean {
    return this.delivered;
  }

  get hasPending(): boolean {
    return this.pending !== undefined && this.pending.length > 0;
  }

  /**
   * Replaces every promise placeholder by its resolution. Placeholders inside a resolution are
   * resolved too, since a resolution's own payload resolves its own before it is pulled.
   */
  async resolvePending(): Promise<void> {
    const pending = this.pending;
    if (!pending || pending.length === 0) return;
    this.pending = undefined;
    await Promise.all(
      pending.map(async (slot) => {
        try {
          const resolved = await slot.hook.pull();
          if (resolved.hasPending) await resolved.resolvePending();
          (slot.parent as Record<string | number, unknown>)[slot.key] = resolved.takeForApp();
        } finally {
          slot.hook.dispose();
        }
      }),
    );
  }

  /**
   * Hands a call's arguments to the method that runs now. The payload keeps its stubs: they are
   * released when the call is done (capnweb's rule), so a method that keeps one `dup()`s it.
   */
  deliverForCall(): unknown {
    if (!this.delivered) {
      this.delivered = true;
      return this.value;
    }
    return this.takeForApp();
  }

  /**
   * Hands the value to the application. The first taker receives the stubs themselves; a later
   * taker (the same resolution read twice) receives its own duplicates, so that releasing one
   * copy never breaks the other.
   */
  takeForApp(): unknown {
    if (!this.delivered) {
      this.delivered = true;
      const owned = this.owned;
      this.owned = undefined;
      if (owned) for (const stub of owned) adoptStub(stub);
      return this.value;
    }
    return copyWithNewStubs(this.value);
  }

  /** An independent payload holding the same value, with its own references to any stubs. */
  copy(): Payload {
    const stubs: unknown[] = [];
    const value = copyWithNewStubs(this.value, stubs);
    const copy = new Payload(value, undefined, undefined, false);
    copy.owned = stubs.length ? stubs : undefined;
    return copy;
  }

  /**
   * Releases what the payload owns except the stubs that `kept` holds (a call's arguments that
   * the method handed back in its result, which now carries them).
   */
  disposeExcept(kept: unknown): void {
    const owned = this.owned;
    if (owned && kept !== null && (typeof kept === "object" || typeof kept === "function")) {
      const inResult = new Set<unknown>();
      collectStubs(kept, inResult, 0);
      if (inResult.size > 0) this.owned = owned.filter((stub) => !inResult.has(stub));
    }
    this.dispose();
  }

  /** Releases whatever the payload still owns. Safe to call more than once. */
  dispose(): void {
    const owned = this.owned;
    this.owned = undefined;
    if (owned) for (const stub of owned) releaseStub(stub);
    const pending = this.pending;
    this.pending = undefined;
    if (pending) for (const slot of pending) slot.hook.dispose();
  }
}

function collectStubs(value: unknown, into: Set<unknown>, depth: number): void {
  if (typeof value === "function") {
    if (isStub(value)) into.add(value);
    return;
  }
  if (depth > 64 || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) for (const item of value) collectStubs(item, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const key in value as Record<string, unknown>) collectStubs((value as Record<string, unknown>)[key], into, depth + 1);
  } else {
    // A received stream handed back in the result keeps the reference behind it.
    const anchored = anchoredStubOf(value);
    if (anchored !== undefined) into.add(anchored);
  }
}

export type { PendingSlot };
