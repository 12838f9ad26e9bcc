// Restorable capabilities: what an application derived from a supervised session's root (an
// authenticated session, a subscription) derived again on every new connection.
//
// Invariants:
// - A restorable's derivation runs once per connection, in creation order, so a restorable
//   derived from another is derived after it, from its fresh value. All derivations of one
//   connection run in one turn: their pushes and pulls leave together, one round trip for all.
// - Between connections a restorable holds no reference on any connection; calls on it follow
//   the session's queue policy (fail fast, or wait for the restore).
// - A restorable released (by its holder, or by the owner that adopted it) is released on the
//   peer and never derived again; so are the restorables derived from it.

import { CapnWebError } from "../protocol/errors.js";
import { ErrorHook, Hook, PayloadHook, PromiseHook, type PropertyPath } from "../protocol/hooks.js";
import { Payload } from "../protocol/payload.js";
import { newBorrowedStub, stubViewOf, takeHook } from "../protocol/stub.js";
import { withoutOwner } from "./owner.js";

export type RestorableState = "pending" | "restoring" | "live" | "failed" | "released";

export interface RestorableOptions {
  /** Shown in inspection, logs and errors (default: the derivation's source, shortened). */
  label?: string;
  /** A failed restore crashes the session (its supervisor decides); by default only this restorable fails. */
  fatal?: boolean;
}

export interface RestorableInspection {
  label: string;
  state: RestorableState;
  /** Derivations so far, the first one included. */
  restores: number;
  /** The label of the restorable this one is derived from. */
  derivedFrom?: string;
  lastError?: string;
}

/** What a session offers its restorables. */
export interface RestoreHost {
  readonly label: string;
  /**
   * What a call made now on a restorable waiting for its connection gets: a rejection (fail
   * fast, queue full, session stopped) or a promise that settles once the session is restored.
   */
  waitForRestore(): Promise<void>;
  /** A restore marked `fatal` failed: the session must crash. */
  restoreFailedFatally(error: CapnWebError): void;
}

export interface RestoreOutcome {
  restored: number;
  failed: Restorable[];
}

export class RestorableSet {
  // Insertion order is creation order: a restorable comes after the one it is derived from.
  private readonly items = new Set<Restorable>();
  private ended: CapnWebError | undefined;
  /** Derivations of restorables made while connected, still waiting for their answer. */
  private readonly settling = new Set<Promise<boolean>>();

  constructor(readonly host: RestoreHost) {}

  /** Resolves when every restorable made while connected has had its answer. */
  async settled(): Promise<void> {
    while (this.settling.size > 0) await Promise.all(this.settling);
  }

  get size(): number {
    return this.items.size;
  }

  add(derive: (base: unknown) => unknown, parent: Restorable | undefined, options: RestorableOptions, root: unknown, connected: boolean): Restorable {
    if (this.ended) throw this.ended;
    const restorable = new Restorable(this, derive, parent, options);
    this.items.add(restorable);
    parent?.children.add(restorable);
    if (connected) {
      restorable.derive(root);
      const settling = restorable.settle();
      this.settling.add(settling);
      void settling.finally(() => this.settling.delete(settling));
    }
    return restorable;
  }

  remove(restorable: Restorable): void {
    this.items.delete(restorable);
  }

  /** Derives every restorable on the new connection, all in this turn; settles when all answered. */
  async restoreAll(root: unknown): Promise<RestoreOutcome> {
    const restoring = [...this.items];
    for (const restorable of restoring) restorable.derive(root);
    const outcomes = await Promise.all(restoring.map((restorable) => restorable.settle()));
    const failed = restoring.filter((_, i) => !outcomes[i]);
    return { restored: restoring.length - failed.length, failed };
  }

  /** The connection dropped: every restorable waits for the next one. */
  connectionEnded(): void {
    for (const restorable of this.items) restorable.connectionEnded();
  }

  /** The session itself ended: nothing will be restored again. */
  sessionEnded(reason: CapnWebError): void {
    this.ended = reason;
    for (const restorable of [...this.items]) restorable.sessionEnded(reason);
    this.items.clear();
  }

  inspect(): RestorableInspection[] {
    return [...this.items].map((restorable) => restorable.inspect());
  }
}

export class Restorable {
  state: RestorableState = "pending";
  restores = 0;
  readonly label: string;
  readonly children = new Set<Restorable>();
  /** The stub a derived restorable's derivation receives: borrowed, it owns nothing. */
  readonly base: unknown;
  readonly host: RestoreHost;
  private hook: Hook | undefined;
  private failure: CapnWebError | undefined;
  private references = 0;

  constructor(
    private readonly set: RestorableSet,
    private readonly derivation: (base: unknown) => unknown,
    private readonly parent: Restorable | undefined,
    private readonly options: RestorableOptions,
  ) {
    this.label = options.label ?? describeDerivation(derivation);
    this.host = set.host;
    this.base = newBorrowedStub(new RestorableHook(this, false));
  }

  get isLive(): boolean {
    return this.state === "live";
  }

  /** Why the last restore failed. */
  get error(): CapnWebError | undefined {
    return this.state === "failed" ? this.failure : undefined;
  }

  /** A new counted reference, for the stub the application holds. */
  reference(): Hook {
    return new RestorableHook(this, true);
  }

  retain(): void {
    this.references++;
  }

  unretain(): void {
    if (--this.references === 0) this.release();
  }

  /** Where a call made now goes. */
  current(): Hook {
    switch (this.state) {
      case "live":
      case "restoring":
        return this.hook!;
      case "failed":
        return new ErrorHook(this.failure);
      case "released":
        return new ErrorHook(this.failure ?? new CapnWebError("released", `The restorable ${this.label} was released.`));
      case "pending":
        return new PromiseHook(this.set.host.waitForRestore().then(() => this.current()));
    }
  }

  /** Derives this restorable on the connection whose root is `root` (sends its calls; no wait). */
  derive(root: unknown): void {
    if (this.state === "released") return;
    this.disposeHook();
    this.restores++;
    this.state = "restoring";
    this.failure = undefined;
    const base = this.parent ? this.parent.base : root;
    try {
      this.hook = hookOf(withoutOwner(() => this.derivation(base)));
    } catch (error) {
      this.fail(error);
    }
  }

  /** Waits for the derivation's answer; true when it succeeded. */
  async settle(): Promise<boolean> {
    const hook = this.hook;
    if (this.state !== "restoring" || !hook) return this.state === "live";
    try {
      const payload = await hook.pull();
      // Dropped or released while the answer travelled: that outcome stands.
      if (this.hook !== hook || this.state !== "restoring") return this.isLive;
      // A capability answer: hold the capability itself, so that passing the restorable refers
      // the peer to its own object, and the promise's import is gone.
      const view = stubViewOf(payload.value);
      if (view && !view.isPromise) {
        this.hook = view.liveHook().dup();
        hook.dispose();
      }
      this.state = "live";
      return true;
    } catch (error) {
      if (this.hook === hook) this.fail(error);
      return false;
    }
  }

  connectionEnded(): void {
    if (this.state === "released") return;
    this.disposeHook();
    if (this.state !== "failed") this.state = "pending";
  }

  sessionEnded(reason: CapnWebError): void {
    this.disposeHook();
    this.state = "released";
    this.failure = new CapnWebError("stale", `The restorable ${this.label} belonged to a session that has ended (${reason.message}).`, { cause: reason });
  }

  release(): void {
    if (this.state === "released") return;
    this.state = "released";
    this.disposeHook();
    this.set.remove(this);
    this.parent?.children.delete(this);
    for (const child of [...this.children]) child.release();
  }

  inspect(): RestorableInspection {
    return {
      label: this.label,
      state: this.state,
      restores: this.restores,
      ...(this.parent ? { derivedFrom: this.parent.label } : {}),
      ...(this.failure && this.state === "failed" ? { lastError: this.failure.message } : {}),
    };
  }

  private fail(cause: unknown): void {
    this.disposeHook();
    this.state = "failed";
    const reason = CapnWebError.from(cause);
    this.failure = new CapnWebError("restore_failed", `The restorable ${this.label} could not be restored: ${reason.message}`, { cause: reason });
    if (this.options.fatal) this.set.host.restoreFailedFatally(this.failure);
  }

  private disposeHook(): void {
    const hook = this.hook;
    this.hook = undefined;
    hook?.dispose();
  }
}

/** A stub's way into a restorable: every operation goes to what the restorable is now. */
class RestorableHook extends Hook {
  private disposed = false;

  constructor(
    readonly restorable: Restorable,
    private readonly counted: boolean,
  ) {
    super();
    if (counted) restorable.retain();
  }
  call(path: PropertyPath, args: Payload): Hook {
    return this.restorable.current().call(path, args);
  }
  get(path: PropertyPath): Hook {
    return this.restorable.current().get(path);
  }
  map(path: PropertyPath, captures: Hook[], instructions: unknown[]): Hook {
    return this.restorable.current().map(path, captures, instructions);
  }
  pull(): Payload | Promise<Payload> {
    return this.restorable.current().pull();
  }
  dup(): Hook {
    return this.counted ? new RestorableHook(this.restorable, true) : this;
  }
  dispose(): void {
    if (!this.counted || this.disposed) return;
    this.disposed = true;
    this.restorable.unretain();
  }
  override standsFor(): Hook {
    return this.restorable.current();
  }
}

/** The restorable a stub reaches, when it is a stub of one. */
export function restorableOf(stub: unknown): Restorable | undefined {
  const hook = stubViewOf(stub)?.root.hook;
  return hook instanceof RestorableHook ? hook.restorable : undefined;
}

/** The session behind a restorable's hook, for finding a stub's session. */
export function restoreHostOf(hook: Hook): RestoreHost | undefined {
  return hook instanceof RestorableHook ? hook.restorable.host : undefined;
}

/** What a derivation returned, as a hook this restorable owns. */
function hookOf(result: unknown): Hook {
  const hook = takeHook(result);
  if (hook) return hook;
  if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
    return new PromiseHook(Promise.resolve(result).then((value) => takeHook(value) ?? new PayloadHook(Payload.fromApp(value))));
  }
  return new PayloadHook(Payload.fromApp(result));
}

function describeDerivation(derive: (base: unknown) => unknown): string {
  const source = String(derive).replace(/\s+/g, " ").trim();
  return source.length > 80 ? `${source.slice(0, 77)}...` : source;
}
