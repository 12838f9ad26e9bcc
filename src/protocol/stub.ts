// Stubs are what the application holds: Proxies over a Hook and a property path.
//
//   api.users            a path on the same hook; no message
//   api.users()          a call: the push leaves now, the result is a promise stub
//   await api.users()    the pull leaves now; the value arrives with one resolve
//
// Each stub made by `newStub` or `newPromiseStub`, or decoded from the wire, owns one reference
// to its hook; path stubs borrow their root's. `release` (or `Symbol.dispose`, or losing the last
// reference to the stub, through a FinalizationRegistry) gives the reference back.

import { CapnWebError } from "./errors.js";
import { ErrorHook, type Hook, type PropertyKey, type PropertyPath } from "./hooks.js";
import { callEnded, callStarted, currentOwner, withPullDeadline, withReleaseReason } from "./ownership.js";
import { Payload } from "./payload.js";

/** The shared part of a root stub and its path stubs: the hook they all reach through. */
class StubRoot {
  /**
   * The reference, in a box of its own: the box is what the leak finalizer holds, so that the
   * root (reachable from every proxy, and from a pull in progress) is what must be unreachable
   * before the reference is given back.
   */
  readonly box: { hook: Hook | undefined };
  /** Set for the result of a call that telemetry follows, until its answer arrives. */
  call: object | undefined;

  constructor(
    hook: Hook | undefined,
    readonly isPromise: boolean,
    /** A borrowed root belongs to someone else (a payload's placeholder); releasing it is a no-op. */
    readonly borrowed = false,
    /**
     * A stub of the capnweb-compatible entry: its awaits reject with the errors capnweb gives
     * (the remote class itself, not a CapnWebError), and it offers `onRpcBroken`. Stubs made from
     * it (calls, dups, copies) are of the same kind.
     */
    readonly capnweb = creatingCapnwebStubs,
  ) {
    this.box = { hook };
  }

  get hook(): Hook | undefined {
    return this.box.hook;
  }

  set hook(hook: Hook | undefined) {
    this.box.hook = hook;
  }
}

/** What one Proxy stands for. */
export class StubView {
  /** The pull of this exact view, shared by every `await` of it. */
  pulled: Promise<unknown> | undefined;

  constructor(
    readonly root: StubRoot,
    readonly path: PropertyPath,
  ) {}

  get isPromise(): boolean {
    return this.root.isPromise || this.path.length > 0;
  }

  get isReleased(): boolean {
    return this.root.hook === undefined;
  }

  /** The hook, or a clear error if the stub was released. */
  liveHook(): Hook {
    const hook = this.root.hook;
    if (!hook) throw new CapnWebError("released", "This stub was released; it can no longer be used.");
    return hook;
  }
}

const VIEW: unique symbol = Symbol("capnweb-otp.stub-view");

// Set while a capnweb-compatible session decodes what it received, or while the compatible
// entry makes a stub: the stubs made then are of that kind.
let creatingCapnwebStubs = false;

/** Runs `fn` with the stubs it makes being capnweb-compatible ones (or not). */
export function withCapnwebStubs<T>(on: boolean, fn: () => T): T {
  const previous = creatingCapnwebStubs;
  creatingCapnwebStubs = on;
  try {
    return fn();
  } finally {
    creatingCapnwebStubs = previous;
  }
}

/** The prototypes `instanceof RpcStub` and `instanceof RpcPromise` look for (compatible stubs). */
let capnwebPrototypes: { stub: object; promise: object } | undefined;
export function installCapnwebPrototypes(prototypes: { stub: object; promise: object }): void {
  capnwebPrototypes = prototypes;
}

/** How the compatible entry turns an error into what capnweb would have thrown. */
let capnwebErrorOf: (error: unknown) => unknown = (error) => error;
export function installCapnwebErrors(convert: (error: unknown) => unknown): void {
  capnwebErrorOf = convert;
}
type ProxyTarget = { (): void; [VIEW]: StubView };

/** Set by map.ts while a mapper function runs: calls are recorded instead of sent. */
export interface CallInterceptor {
  call(view: StubView, args: unknown[]): unknown;
  map(view: StubView, mapper: (value: any) => unknown): unknown;
}
let interceptor: CallInterceptor | undefined;
let mapSender: ((hook: Hook, path: PropertyPath, mapper: (value: any) => unknown) => Hook) | undefined;

export function setCallInterceptor(next: CallInterceptor | undefined): CallInterceptor | undefined {
  const previous = interceptor;
  interceptor = next;
  return previous;
}
export function installMapSender(send: (hook: Hook, path: PropertyPath, mapper: (value: any) => unknown) => Hook): void {
  mapSender = send;
}

// Dropped stubs release their reference when collected. The registry watches the root (alive
// while any proxy of it, or an await of it, is) and holds only its box, never the root itself.
const finalizer = new FinalizationRegistry<{ hook: Hook | undefined }>((box) => {
  const hook = box.hook;
  box.hook = undefined;
  // Reported like every release, with reason "finalized" (telemetry and a warning log).
  if (hook) withReleaseReason("finalized", () => hook.dispose());
});

const handler: ProxyHandler<ProxyTarget> = {
  get(target, prop) {
    const view = target[VIEW];
    if (typeof prop === "symbol") {
      if (prop === VIEW) return view;
      if (prop === Symbol.dispose) return () => releaseView(view);
      if (prop === Symbol.toStringTag) return "CapnWebStub";
      if (prop === INSPECT) return () => describe(view);
      return undefined;
    }
    switch (prop) {
      case "then":
        return view.isPromise ? (onOk?: any, onErr?: any) => pullView(view).then(onOk, onErr) : undefined;
      case "catch":
        return view.isPromise ? (onErr?: any) => pullView(view).catch(onErr) : undefined;
      case "finally":
        return view.isPromise ? (onFinally?: any) => pullView(view).finally(onFinally) : undefined;
      case "map":
        return (mapper: (value: any) => unknown) => mapView(view, mapper);
      case "dup":
        return () => dupView(view);
      case "toString":
        return () => describe(view);
      case "onRpcBroken":
        if (view.root.capnweb) return (callback: (error: unknown) => void) => onBroken(view, callback);
        break;
      case "toJSON":
        return undefined;
    }
    if (prop in Object.prototype) return undefined;
    return makeProxy(new StubView(view.root, appendPath(view.path, prop)));
  },
  apply(target, _thisArg, args) {
    return callView(target[VIEW], args);
  },
  set() {
    return false;
  },
  defineProperty() {
    return false;
  },
  deleteProperty() {
    return false;
  },
  has(target, prop) {
    return prop === VIEW || (prop === "then" && target[VIEW].isPromise);
  },
  getPrototypeOf(target) {
    const view = target[VIEW];
    if (!view.root.capnweb || !capnwebPrototypes) return Function.prototype;
    return view.isPromise ? capnwebPrototypes.promise : capnwebPrototypes.stub;
  },
  ownKeys() {
    return ["prototype"];
  },
};

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

function appendPath(path: PropertyPath, prop: string): PropertyPath {
  const next = path.slice() as PropertyKey[];
  next.push(prop);
  return next;
}

function makeProxy(view: StubView): any {
  const target = function stub() {} as unknown as ProxyTarget;
  target[VIEW] = view;
  return new Proxy(target, handler);
}

function newStubOfKind(hook: Hook, isPromise: boolean, path: PropertyPath = [], capnweb = creatingCapnwebStubs): any {
  const root = new StubRoot(hook, isPromise, false, capnweb);
  const proxy = makeProxy(new StubView(root, path));
  finalizer.register(root, root.box, root);
  currentOwner()?.adopt(root);
  return proxy;
}

/** The running owner (if any) takes a stub decoded from the wire as the application receives it. */
export function adoptStub(stub: unknown): void {
  const owner = currentOwner();
  const view = stubViewOf(stub);
  if (owner && view && !view.root.borrowed) owner.adopt(view.root);
}

/** Releases the reference behind a root an owner adopted (no-op if already released). */
export function releaseRoot(root: object): void {
  if (root instanceof StubRoot && !root.borrowed) releaseRootOf(root);
}

/** Whether an adopted root still holds its reference. */
export function isRootLive(root: object): boolean {
  return root instanceof StubRoot && root.hook !== undefined;
}

/** A stub for a capability (not awaitable at its root). Owns `hook`. */
export function newStub(hook: Hook): any {
  return newStubOfKind(hook, false);
}

/** A stub for a promise (awaitable; pulls when awaited). Owns `hook`. */
export function newPromiseStub(hook: Hook): any {
  return newStubOfKind(hook, true);
}

/**
 * A capability stub that does not own `hook`: releasing it, the end of its owner and its
 * collection all leave the hook alone. For a root that lasts as long as what it stands for
 * (a supervised session's root belongs to the session, not to whoever holds a stub of it).
 */
export function newBorrowedStub(hook: Hook): any {
  return makeProxy(new StubView(new StubRoot(hook, false, true), []));
}

/**
 * A promise stub that does not own `hook`: it marks where a pending promise sits in a decoded
 * value, so that pipelining through the value reaches the promise. The payload owns the hook.
 */
export function borrowedPromiseStub(hook: Hook): any {
  return makeProxy(new StubView(new StubRoot(hook, true, true), []));
}

export function stubViewOf(value: unknown): StubView | undefined {
  if (typeof value !== "function") return undefined;
  return (value as Partial<ProxyTarget>)[VIEW];
}

export function isStub(value: unknown): boolean {
  return stubViewOf(value) !== undefined;
}

/**
 * Takes over the reference behind a stub the application just made (a call's result): the hook
 * is the caller's now, and the stub is left released (see takeStubHook). Undefined for anything
 * that is not a stub.
 */
export function takeHook(value: unknown): Hook | undefined {
  const view = stubViewOf(value);
  return view ? takeStubHook(view) : undefined;
}

/** Releases the reference a stub owns. Path stubs own none; releasing one does nothing. */
export function releaseStub(value: unknown): boolean {
  const view = stubViewOf(value);
  if (!view || view.path.length > 0) return false;
  return releaseView(view);
}

function releaseView(view: StubView): boolean {
  if (view.path.length > 0 || view.root.borrowed) return false;
  return releaseRootOf(view.root);
}

function releaseRootOf(root: StubRoot): boolean {
  const hook = root.hook;
  if (!hook) return false;
  root.hook = undefined;
  finalizer.unregister(root);
  hook.dispose();
  return true;
}

function callView(view: StubView, args: unknown[]): any {
  if (interceptor) return interceptor.call(view, args);
  let hook: Hook;
  try {
    hook = view.liveHook();
  } catch (error) {
    return newStubOfKind(new ErrorHook(error), true, [], view.root.capnweb);
  }
  const call = callStarted(view.path);
  const called = hook.call(view.path, Payload.fromApp(args));
  // capnweb throws at once when an argument cannot be serialized.
  if (view.root.capnweb && called instanceof ErrorHook && isUnserializable(called.error)) throw capnwebErrorOf(called.error);
  const result = newStubOfKind(called, true, [], view.root.capnweb);
  if (call) stubViewOf(result)!.root.call = call;
  return result;
}

function mapView(view: StubView, mapper: (value: any) => unknown): any {
  if (interceptor) return interceptor.map(view, mapper);
  if (!mapSender) return newPromiseStub(new ErrorHook(new CapnWebError("unsupported", "map() support is not loaded.")));
  try {
    return newStubOfKind(mapSender(view.liveHook(), view.path, mapper), true, [], view.root.capnweb);
  } catch (error) {
    return newStubOfKind(new ErrorHook(error), true, [], view.root.capnweb);
  }
}

/** Awaits a stub: one pull per view, however many times it is awaited. */
function pullView(view: StubView): Promise<unknown> {
  view.pulled ??= pullOnce(view);
  return view.pulled;
}

async function pullOnce(view: StubView): Promise<unknown> {
  let hook: Hook;
  let temporary = false;
  try {
    hook = view.liveHook();
    if (view.path.length > 0) {
      hook = hook.get(view.path);
      temporary = true;
    }
  } catch (error) {
    throw view.root.capnweb ? capnwebErrorOf(error) : CapnWebError.from(error);
  }
  const call = view.path.length === 0 ? view.root.call : undefined;
  view.root.call = undefined;
  try {
    const pulled = hook.pull();
    const payload = await (pulled instanceof Promise
      ? withPullDeadline(pulled, hook, () =>
          // A path's read has a call of its own (the temporary hook): that is what is cancelled.
          withReleaseReason("timeout", () => (temporary ? hook.dispose() : releaseView(view))),
        )
      : pulled);
    if (payload.hasPending) await payload.resolvePending();
    const value = withCapnwebStubs(view.root.capnweb, () => payload.takeForApp());
    if (call) callEnded(call);
    return disposableResult(value, view.root.capnweb);
  } catch (error) {
    const failure = view.root.capnweb ? undefined : CapnWebError.from(error);
    if (call) callEnded(call, failure ?? CapnWebError.from(error));
    throw failure ?? capnwebErrorOf(error);
  } finally {
    if (temporary) hook.dispose();
  }
}

/**
 * The reference behind a stub, taken over: the stub is released without releasing it. A path
 * stub owns no reference; its read gets one of its own.
 */
export function takeStubHook(view: StubView): Hook {
  const hook = view.liveHook();
  if (view.path.length > 0) return hook.get(view.path);
  if (view.root.borrowed) return hook.dup();
  view.root.hook = undefined;
  finalizer.unregister(view.root);
  return hook;
}

/**
 * A promise stub made of another (capnweb's `new RpcPromise(promise)`): a promise's reference is
 * taken over, so the source is released; a path's read shares a new reference and stays lazy.
 */
export function adoptPromiseStub(view: StubView): any {
  const hook = view.liveHook();
  // A path shares its root's reference, as the source does: releasing the root releases both.
  if (view.path.length > 0) return makeProxy(new StubView(view.root, view.path));
  if (view.root.borrowed) return newStubOfKind(hook.dup(), true);
  view.root.hook = undefined;
  finalizer.unregister(view.root);
  return newStubOfKind(hook, true);
}

/** A second, independently released reference to what `view` stands for. */
function dupView(view: StubView): any {
  const hook = view.liveHook();
  // capnweb's dup() is a plain stub even of a promise, so that resolving a promise with it
  // does not assimilate (pull) it.
  if (view.root.capnweb) return newStubOfKind(view.path.length > 0 ? hook.get(view.path) : hook.dup(), false, [], true);
  return newStubOfKind(hook.dup(), view.root.isPromise, view.path);
}

/**
 * Tells `callback` once if what the stub reaches becomes unreachable (its connection was lost,
 * the session aborted, the call failed). The returned disposable stops listening.
 */
export function onStubBroken(stub: unknown, callback: (error: unknown) => void): Disposable {
  const view = stubViewOf(stub);
  if (!view) throw new CapnWebError("invalid_argument", "onBroken() takes a stub.");
  return onBroken(view, callback);
}

function onBroken(view: StubView, callback: (error: unknown) => void): Disposable {
  let listening = true;
  const listener = (error: unknown) => {
    if (!listening) return;
    listening = false;
    callback(view.root.capnweb ? capnwebErrorOf(error) : CapnWebError.from(error));
  };
  const hook = view.root.hook;
  if (hook) hook.onBroken(listener);
  else listener(new CapnWebError("released", "This stub was released; it can no longer be used."));
  return {
    [Symbol.dispose]() {
      listening = false;
    },
  };
}

/**
 * A received object or array that holds stubs gets a `Symbol.dispose` that releases them all
 * (capnweb's results have one), so `using result = await api.pair()` releases both halves. A
 * capnweb-compatible stub gives every object result one, as capnweb does.
 */
function disposableResult(value: unknown, always: boolean): unknown {
  if (value === null || typeof value !== "object" || Symbol.dispose in value) return value;
  const proto = Object.getPrototypeOf(value);
  let dispose: () => void;
  if (proto === Object.prototype || proto === Array.prototype) {
    if (!always && !holdsStub(value, 0)) return value;
    dispose = () => releaseAll(value, 0);
  } else {
    // Any other object (a stream, a Blob, a Date): capnweb gives it a disposer too; a received
    // stream's releases the reference behind it (cancelling it, if it was never read).
    const anchored = anchors.get(value);
    if ((!always && anchored === undefined) || !Object.isExtensible(value)) return value;
    dispose = () => void releaseStub(anchored);
  }
  Object.defineProperty(value, Symbol.dispose, { value: dispose, writable: true, enumerable: false, configurable: true });
  return value;
}

/** A received value that holds stubs, given a `Symbol.dispose` that releases them (a stream chunk). */
export function disposableValue(value: unknown): unknown {
  return disposableResult(value, false);
}

// A stream decoded from the wire is backed by a stub the application never sees: the stream
// keeps it alive (so the stub's leak finalizer runs only once the stream itself is unreachable),
// and a payload that hands the stream back (an echo) keeps its reference with it.
const anchors = new WeakMap<object, unknown>();

export function anchorStub(holder: object, stub: unknown): void {
  anchors.set(holder, stub);
}

export function anchoredStubOf(holder: object): unknown {
  return anchors.get(holder);
}

function holdsStub(value: unknown, depth: number): boolean {
  if (stubViewOf(value)) return true;
  if (depth > 64 || value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.some((item) => holdsStub(item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value as Record<string, unknown>) if (holdsStub((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

function releaseAll(value: unknown, depth: number): void {
  if (releaseStub(value) || depth > 64 || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) for (const item of value) releaseAll(item, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const key in value as Record<string, unknown>) releaseAll((value as Record<string, unknown>)[key], depth + 1);
  }
}

function isUnserializable(error: unknown): boolean {
  return error instanceof CapnWebError && error.type === "invalid_argument" && error.remoteName === "TypeError";
}

/**
 * A copy of `value` in which every stub is a new, independent reference, plus the list of those
 * references (the copy's owner releases them). Plain data is shared, not copied, when it holds
 * no stub.
 */
export function copyWithNewStubs(value: unknown, stubs: unknown[] = [], depth = 0): unknown {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return value;
  const view = stubViewOf(value);
  if (view) {
    const copy = newStubOfKind(view.liveHook().dup(), view.root.isPromise, view.path, view.root.capnweb);
    stubs.push(copy);
    return copy;
  }
  if (depth > 256) return value;
  if (Array.isArray(value)) return value.map((item) => copyWithNewStubs(item, stubs, depth + 1));
  if (Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const key in value as Record<string, unknown>) {
      out[key] = copyWithNewStubs((value as Record<string, unknown>)[key], stubs, depth + 1);
    }
    return out;
  }
  return value;
}

function describe(view: StubView): string {
  if (view.root.capnweb) return view.isPromise ? "[object RpcPromise]" : "[object RpcStub]";
  const state = view.isReleased ? " (released)" : "";
  return `[CapnWebStub${view.isPromise ? " promise" : ""}${view.path.length ? " ." + view.path.join(".") : ""}${state}]`;
}
