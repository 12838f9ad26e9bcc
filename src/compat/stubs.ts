// capnweb's RpcStub and RpcPromise, as constructors that make stubs of our engine. Stubs of this
// entry reject with capnweb's errors, offer `onRpcBroken`, and are `instanceof` these classes.

import { adoptPromiseStub, installCapnwebErrors, installCapnwebPrototypes, stubViewOf, withCapnwebStubs } from "../protocol/stub.js";
import { hookForLocal } from "../protocol/local.js";
import { PromiseHook } from "../protocol/hooks.js";
import { newPromiseStub, newStub } from "../protocol/stub.js";
import type { Pipelined, Stub } from "../protocol/types.js";
import { capnwebErrorOf } from "./errors.js";

/** What capnweb's stubs have beyond ours. */
export interface CapnwebStubMembers {
  /**
   * Tells `callback` once if the capability becomes unreachable (its connection was lost, the
   * call failed). Returns a disposable that stops listening (capnweb 0.12 returns nothing).
   */
  onRpcBroken(callback: (error: unknown) => void): Disposable;
}

/** A stub, as capnweb types it. */
export type RpcStub<T> = Stub<T> & CapnwebStubMembers;
/** A pipelined promise, as capnweb types it. */
export type RpcPromise<T> = Pipelined<T> & CapnwebStubMembers;

export interface RpcStubConstructor {
  /** A local stub of a Target, a function or a plain value. */
  new <T>(value: T): RpcStub<T>;
  readonly prototype: object;
}

export interface RpcPromiseConstructor {
  /** A capability for what `value` resolves to; calls on it queue in order until it settles. */
  new <T>(value: PromiseLike<T>): RpcPromise<Awaited<T>>;
  readonly prototype: object;
}

// Classes only in name: the constructor returns a stub, and the prototypes are what the stubs
// of this entry report, so that `instanceof` works the way it does with capnweb.
function RpcStubImpl(value: unknown): unknown {
  return withCapnwebStubs(true, () => newStub(hookForLocal(value)));
}

function RpcPromiseImpl(value: unknown): unknown {
  return withCapnwebStubs(true, () => {
    const view = stubViewOf(value);
    if (view?.isPromise) return adoptPromiseStub(view);
    return newPromiseStub(new PromiseHook(Promise.resolve(value).then(hookForLocal)));
  });
}

export const RpcStub = RpcStubImpl as unknown as RpcStubConstructor;
export const RpcPromise = RpcPromiseImpl as unknown as RpcPromiseConstructor;
Object.setPrototypeOf(RpcPromise.prototype, RpcStub.prototype);
Object.defineProperty(RpcStub.prototype, Symbol.toStringTag, { value: "RpcStub" });

installCapnwebPrototypes({ stub: RpcStub.prototype, promise: RpcPromise.prototype });
installCapnwebErrors(capnwebErrorOf);
