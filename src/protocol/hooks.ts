// A Hook is what a stub points at: a remote import (session.ts), a local target, a local value,
// a local promise, or an error. Every operation on a stub becomes one of the five operations
// below, so pipelining works the same whether the thing at the end is near or far.
//
// Ownership: `call` and `map` take ownership of their arguments and captures; every Hook
// returned by an operation is a new reference that its receiver must `dispose`.

import { CapnWebError } from "./errors.js";
import { isBlockedName } from "./limits.js";
import { currentReleaseReason, runForTarget } from "./ownership.js";
import { Payload } from "./payload.js";
import { disposeTarget, isTarget, isTargetReferenced, referenceTarget } from "./target.js";
import { releaseStub, stubViewOf, takeStubHook } from "./stub.js";

export type PropertyKey = string | number;
export type PropertyPath = readonly PropertyKey[];

/** The operations `remap` needs from map.ts, injected to keep the import graph acyclic. */
export interface MapApplier {
  apply(input: unknown, parent: object | undefined, captures: Hook[], instructions: unknown[]): Hook;
}
let mapApplier: MapApplier | undefined;
export function installMapApplier(applier: MapApplier): void {
  mapApplier = applier;
}

/** What `Hook.stream` returns: the answer, and the encoded size when a message was sent. */
export interface StreamCall {
  promise: Promise<void>;
  size?: number;
}

export abstract class Hook {
  /** Calls the function at `path`; takes ownership of `args`. */
  abstract call(path: PropertyPath, args: Payload): Hook;
  /**
   * A call whose result is not wanted, only whether it succeeded (a stream's write): remotely one
   * `["stream", ...]` message, answered and released by the peer on its own. Takes `args`.
   */
  stream(path: PropertyPath, args: Payload): StreamCall {
    const result = this.call(path, args);
    let pulled: Payload | Promise<Payload>;
    try {
      pulled = result.pull();
    } catch (error) {
      result.dispose();
      throw error;
    }
    const promise = Promise.resolve(pulled).then(
      () => result.dispose(),
      (error) => {
        result.dispose();
        throw error;
      },
    );
    return { promise };
  }
  /** A promise for the value at `path`. */
  abstract get(path: PropertyPath): Hook;
  /** Applies a recorded mapper to the value at `path`; takes ownership of `captures`. */
  abstract map(path: PropertyPath, captures: Hook[], instructions: unknown[]): Hook;
  /** The resolved value. The payload stays owned by this hook until `takeForApp`. */
  abstract pull(): Payload | Promise<Payload>;
  /** Another reference to the same thing. */
  abstract dup(): Hook;
  abstract dispose(): void;
  /** Called once if the thing behind the hook becomes unreachable (connection lost, aborted). */
  onBroken(_callback: (error: unknown) => void): void {}
  /**
   * The hook this one currently forwards to, for a hook that is only an indirection (the root of
   * an HTTP batch client, or of a reconnecting session). Encoding uses it to refer to the peer's
   * own object rather than exporting the indirection back to it.
   */
  standsFor(): Hook | undefined {
    return undefined;
  }
}

/**
 * An indirection to whatever hook is current: the main interface of an HTTP batch client's next
 * batch, or of a reconnecting session's live connection. Every operation goes to it; the
 * indirection itself holds no reference, so dup and dispose have nothing to do.
 */
export class ForwardingHook extends Hook {
  constructor(private readonly current: () => Hook) {
    super();
  }
  call(path: PropertyPath, args: Payload): Hook {
    return this.current().call(path, args);
  }
  get(path: PropertyPath): Hook {
    return this.current().get(path);
  }
  map(path: PropertyPath, captures: Hook[], instructions: unknown[]): Hook {
    return this.current().map(path, captures, instructions);
  }
  override stream(path: PropertyPath, args: Payload): StreamCall {
    return this.current().stream(path, args);
  }
  pull(): Payload | Promise<Payload> {
    return this.current().pull();
  }
  dup(): Hook {
    return this;
  }
  dispose(): void {}
  override standsFor(): Hook {
    return this.current();
  }
}

// -----------------------------------------------------------------------------------------------

export class ErrorHook extends Hook {
  constructor(readonly error: unknown) {
    super();
  }
  call(_path: PropertyPath, args: Payload): Hook {
    args.dispose();
    return this;
  }
  get(): Hook {
    return this;
  }
  map(_path: PropertyPath, captures: Hook[]): Hook {
    for (const cap of captures) cap.dispose();
    return this;
  }
  pull(): Promise<Payload> {
    return Promise.reject(this.error);
  }
  dup(): Hook {
    return this;
  }
  dispose(): void {}
  override onBroken(callback: (error: unknown) => void): void {
    callback(this.error);
  }
}

/**
 * A hook whose target is not known yet. Operations are chained on the promise in the order they
 * were made, which is exactly E-order: calls made on the promise reach its resolution in order.
 */
export class PromiseHook extends Hook {
  private readonly promise: Promise<Hook>;

  constructor(promise: Promise<Hook>) {
    super();
    this.promise = promise;
    // A rejection is reported to whoever pulls; an unobserved one is not an unhandled rejection.
    promise.catch(noop);
  }

  call(path: PropertyPath, args: Payload): Hook {
    return new PromiseHook(
      this.promise.then(
        (hook) => hook.call(path, args),
        (error) => {
          args.dispose();
          throw error;
        },
      ),
    );
  }
  override stream(path: PropertyPath, args: Payload): StreamCall {
    // Once resolved, the write goes the resolution's way (a `stream` message, for an import).
    const promise = this.promise.then(
      (hook) => hook.stream(path, args).promise,
      (error) => {
        args.dispose();
        throw error;
      },
    );
    return { promise };
  }
  get(path: PropertyPath): Hook {
    return new PromiseHook(this.promise.then((hook) => hook.get(path)));
  }
  map(path: PropertyPath, captures: Hook[], instructions: unknown[]): Hook {
    return new PromiseHook(
      this.promise.then(
        (hook) => hook.map(path, captures, instructions),
        (error) => {
          for (const cap of captures) cap.dispose();
          throw error;
        },
      ),
    );
  }
  pull(): Promise<Payload> {
    return this.promise.then((hook) => hook.pull());
  }
  dup(): Hook {
    return new PromiseHook(this.promise.then((hook) => hook.dup()));
  }
  dispose(): void {
    this.promise.then((hook) => hook.dispose(), noop);
  }
  override onBroken(callback: (error: unknown) => void): void {
    this.promise.then((hook) => hook.onBroken(callback), callback);
  }
}

// -----------------------------------------------------------------------------------------------
// Local values and targets

type FollowResult =
  | { hook: Hook; rest: PropertyPath; value?: undefined; parent?: undefined }
  | { hook?: undefined; rest?: undefined; value: unknown; parent: object | undefined };

/**
 * Walks `path` from `value` with the reachability rules of capnweb: own properties of plain
 * objects, integer indexes of arrays, prototype members (never instance fields) of targets,
 * never anything named like an `Object.prototype` member. Reaching a stub hands the rest of the
 * path to that stub's hook.
 */
export function followPath(value: unknown, path: PropertyPath): FollowResult {
  let parent: object | undefined;
  for (let i = 0; i < path.length; i++) {
    const view = stubViewOf(value);
    if (view) return { hook: view.liveHook(), rest: view.path.concat(path.slice(i)) };
    const part = path[i]!;
    parent = value as object;
    if (isBlockedName(part)) {
      value = undefined;
      continue;
    }
    if (value === null || value === undefined) {
      throw new CapnWebError("not_found", `Cannot read property '${String(part)}' of ${String(value)}.`);
    }
    if (isTarget(value)) {
      if (Object.hasOwn(value, part)) {
        throw new CapnWebError(
          "not_found",
          `'${String(part)}' is an instance property of the target; only methods and getters ` +
            `declared on the class are reachable over RPC.`,
        );
      }
      value = (value as unknown as Record<PropertyKey, unknown>)[part];
    } else if (Array.isArray(value)) {
      value = typeof part === "number" || /^(0|[1-9][0-9]*)$/.test(part) ? value[Number(part)] : undefined;
    } else if (
      (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) ||
      typeof value === "function"
    ) {
      value = Object.hasOwn(value as object, part) ? (value as Record<PropertyKey, unknown>)[part] : undefined;
    } else {
      value = undefined;
    }
  }
  const view = stubViewOf(value);
  if (view) return { hook: view.liveHook(), rest: view.path };
  return { value, parent };
}

/**
 * Invokes a local function with decoded arguments. When no argument is a promise the function
 * runs synchronously, before this returns: an `await` here would let a later call overtake this
 * one and break E-order.
 */
export function deliverCall(fn: unknown, thisArg: unknown, path: PropertyPath, args: Payload): Hook {
  if (typeof fn !== "function") {
    args.dispose();
    return new ErrorHook(new CapnWebError("not_found", `'${path.join(".")}' is not a function.`));
  }
  if (args.hasPending) {
    return new PromiseHook(args.resolvePending().then(() => invoke(fn, thisArg, args)));
  }
  return invoke(fn, thisArg, args);
}

function invoke(fn: Function, thisArg: unknown, args: Payload): Hook {
  let result: unknown;
  try {
    // The target's owner owns what the method obtains (the argument stubs it dup()s included).
    const target = typeof thisArg === "object" && thisArg !== null ? thisArg : fn;
    result = runForTarget(target, () => {
      const list = args.deliverForCall();
      return Reflect.apply(fn, thisArg, Array.isArray(list) ? list : []);
    });
  } catch (error) {
    args.dispose();
    return new ErrorHook(error);
  }
  // The call is done when its result settles: then the argument stubs are released, as capnweb
  // does (`["release", id, n]` for a passed callback). A pipelined promise is a result at once.
  // An argument stub the method returns goes with the result instead (released with it).
  if (stubViewOf(result) === undefined && isThenable(result)) {
    const settled = Promise.resolve(result).then(
      (value) => {
        args.disposeExcept(value);
        return value;
      },
      (error) => {
        args.dispose();
        throw error;
      },
    );
    return new PromiseHook(settled.then(hookForResult));
  }
  const hook = hookForResult(result);
  args.disposeExcept(result);
  return hook;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as PromiseLike<unknown>).then === "function";
}

/** What a local function returned, as a hook: a stub is forwarded, a promise is awaited. */
export function hookForResult(result: unknown): Hook {
  const view = stubViewOf(result);
  // A promise stub is forwarded (its resolution is the result), and handed over with it: the
  // method gave it away (capnweb's rule). A capability stub is the result itself: it is held as
  // a value, so that pulling yields the stub and the encoder exports it, and released with it.
  if (view?.isPromise) return takeStubHook(view);
  if (view) return new PayloadHook(Payload.fromApp(result), true);
  if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
    return new PromiseHook(Promise.resolve(result).then(hookForResult));
  }
  return new PayloadHook(Payload.fromApp(result), true);
}

/** A value held locally: a call's result, a pushed expression, a resolution. */
export class PayloadHook extends Hook {
  private payload: Payload | undefined;

  /**
   * `ownsTargets`: the value is what a local method returned, and the Targets in it are handed
   * over with it (as in capnweb): one that nothing exported by the time the value is released
   * is disposed then.
   */
  constructor(
    payload: Payload,
    private readonly ownsTargets = false,
  ) {
    super();
    this.payload = payload;
  }

  private current(): Payload {
    if (!this.payload) throw new CapnWebError("released", "This value was already released.");
    return this.payload;
  }

  call(path: PropertyPath, args: Payload): Hook {
    return callAt(() => followPath(this.current().value, path), path, args);
  }

  get(path: PropertyPath): Hook {
    try {
      const payload = this.current();
      // A copy must not hold the payload's own promise placeholders (they die with it): read
      // the value once its promises are resolved.
      if (payload.hasPending) return new PromiseHook(payload.resolvePending().then(() => getFrom(payload, path)));
      return getFrom(payload, path);
    } catch (error) {
      return new ErrorHook(error);
    }
  }

  map(path: PropertyPath, captures: Hook[], instructions: unknown[]): Hook {
    let found: FollowResult;
    try {
      found = followPath(this.current().value, path);
    } catch (error) {
      for (const cap of captures) cap.dispose();
      return new ErrorHook(error);
    }
    if (found.hook) return found.hook.map(found.rest, captures, instructions);
    return applyMap(found.value, found.parent, captures, instructions);
  }

  pull(): Payload | Promise<Payload> {
    const payload = this.current();
    if (payload.hasPending) return payload.resolvePending().then(() => payload);
    return payload;
  }

  dup(): Hook {
    return new PayloadHook(this.current().copy());
  }

  dispose(): void {
    const payload = this.payload;
    this.payload = undefined;
    payload?.dispose();
    if (payload && this.ownsTargets) disposeReturned(payload.value, 0, !payload.wasDelivered);
  }

  override onBroken(callback: (error: unknown) => void): void {
    const view = stubViewOf(this.payload?.value);
    if (view) view.liveHook().onBroken(callback);
  }
}

/**
 * What a method returned is handed over with its result, as in capnweb: once the result is
 * released, a Target in it that nothing exported is disposed, and a stub in it is released
 * (the peer got its own reference when the result was sent), unless the value went to a local
 * caller, who owns it then.
 */
function disposeReturned(value: unknown, depth: number, releaseStubs: boolean): void {
  if (depth > 64 || value === null) return;
  if (typeof value === "function") {
    if (releaseStubs) releaseStub(value);
    return;
  }
  if (typeof value !== "object") return;
  if (isTarget(value)) {
    if (!isTargetReferenced(value)) disposeTarget(value);
  } else if (Array.isArray(value)) {
    for (const item of value) disposeReturned(item, depth + 1, releaseStubs);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const key in value as Record<string, unknown>) disposeReturned((value as Record<string, unknown>)[key], depth + 1, releaseStubs);
  }
}

/** Calls what `find` reaches: a local function, or the rest of the path on a stub's hook. */
function callAt(find: () => FollowResult, path: PropertyPath, args: Payload): Hook {
  let found: FollowResult;
  try {
    found = find();
  } catch (error) {
    args.dispose();
    return new ErrorHook(error);
  }
  if (found.hook) return found.hook.call(found.rest, args);
  return deliverCall(found.value, found.parent, path, args);
}

function getFrom(payload: Payload, path: PropertyPath): Hook {
  const found = followPath(payload.value, path);
  if (found.hook) return found.hook.get(found.rest);
  return new PayloadHook(Payload.fromApp(found.value));
}

/**
 * A local Target or function exported by reference. Its references are counted across `dup`s;
 * when the last one goes, the target's `Symbol.dispose` runs (capnweb does the same).
 */
export class TargetHook extends Hook {
  private constructor(
    readonly target: object,
    private readonly refs: { count: number; onLastRelease: (() => void) | undefined; owned: boolean },
  ) {
    super();
    referenceTarget(target, 1);
  }

  /**
   * `onLastRelease` runs when the last reference goes, after the target's disposer, which runs
   * only for an `owned` target (one not shared with other sessions).
   */
  static wrap(target: object, onLastRelease?: () => void, owned = true): TargetHook {
    return new TargetHook(target, { count: 1, onLastRelease, owned });
  }

  get isLive(): boolean {
    return this.refs.count > 0;
  }

  private live(): object {
    if (this.refs.count <= 0) throw new CapnWebError("released", "This target was already released.");
    return this.target;
  }

  call(path: PropertyPath, args: Payload): Hook {
    return callAt(() => {
      const target = this.live();
      // A bare function is callable with an empty path; a target must name a method.
      return path.length === 0 && typeof target === "function" ? { value: target, parent: undefined } : followPath(target, path);
    }, path, args);
  }

  get(path: PropertyPath): Hook {
    try {
      const target = this.live();
      if (path.length === 0) return new PayloadHook(Payload.fromApp(target));
      const found = followPath(target, path);
      if (found.hook) return found.hook.get(found.rest);
      return hookForResult(found.value);
    } catch (error) {
      return new ErrorHook(error);
    }
  }

  map(path: PropertyPath, captures: Hook[], instructions: unknown[]): Hook {
    let found: FollowResult;
    try {
      found = followPath(this.live(), path);
    } catch (error) {
      for (const cap of captures) cap.dispose();
      return new ErrorHook(error);
    }
    if (found.hook) return found.hook.map(found.rest, captures, instructions);
    return applyMap(found.value, found.parent, captures, instructions);
  }

  pull(): Payload {
    return Payload.fromApp(this.live());
  }

  dup(): Hook {
    this.live();
    this.refs.count++;
    return new TargetHook(this.target, this.refs);
  }

  private disposed = false;
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    referenceTarget(this.target, -1);
    if (--this.refs.count === 0) {
      // A local stub dropped and collected never disposes the target: others may still use it.
      if (this.refs.owned && currentReleaseReason() !== "finalized") disposeTarget(this.target);
      this.refs.onLastRelease?.();
    }
  }
}

function applyMap(value: unknown, parent: object | undefined, captures: Hook[], instructions: unknown[]): Hook {
  if (!mapApplier) {
    for (const cap of captures) cap.dispose();
    return new ErrorHook(new CapnWebError("unsupported", "map() support is not loaded."));
  }
  return mapApplier.apply(value, parent, captures, instructions);
}

function noop(): void {}
