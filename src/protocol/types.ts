// Static types of stubs: `Stub<Api>` turns an interface into what a remote reference to it looks
// like. Methods return pipelined promises (awaitable, and usable as a stem for further calls);
// targets and functions travel by reference and come back as stubs; data comes back as data.

import type { Target } from "./target.js";

type AnyFunction = (...args: any[]) => any;

/** What awaiting a remote value yields: data as data, capabilities as stubs. */
export type Resolved<T> = T extends AnyFunction
  ? Stub<T>
  : T extends Target
    ? Stub<T>
    : T extends PromiseLike<infer U>
      ? Resolved<U>
      : T extends readonly (infer E)[]
        ? Resolved<E>[]
        : T extends Date | Uint8Array | ArrayBuffer | ArrayBufferView | URL | Headers | Error | RegExp
          ? T
          : T extends object
            ? { [K in keyof T]: Resolved<T[K]> }
            : T;

/**
 * What may be passed where the interface expects `T`: the value itself, a stub, or a promise for
 * it. A function parameter takes a local function as is, so that its parameters are inferred.
 */
export type Passable<T> = T extends AnyFunction ? T : T | Stub<T> | Pipelined<T>;

type PassableArgs<P extends readonly unknown[]> = { [I in keyof P]: Passable<P[I]> };

type Methods<T> = {
  readonly [K in keyof T as K extends string | number ? K : never]: T[K] extends AnyFunction
    ? (...args: PassableArgs<Parameters<T[K]>>) => Pipelined<Awaited<ReturnType<T[K]>>>
    : Pipelined<Awaited<T[K]>>;
};

type Callable<T> = T extends AnyFunction
  ? (...args: PassableArgs<Parameters<T>>) => Pipelined<Awaited<ReturnType<T>>>
  : unknown;

type ElementOf<T> = T extends readonly (infer E)[] ? E : T;
type MapResult<T, U> = T extends readonly unknown[] ? Unpipelined<U>[] : Unpipelined<U>;
type Unpipelined<U> = U extends Pipelined<infer V> ? V : U extends Stub<infer V> ? V : U;

type IsAny<T> = 0 extends 1 & T ? true : false;

/** A promise for a remote value that can be pipelined on before it resolves. */
export type Pipelined<T> = IsAny<T> extends true ? any : PipelinedOf<T>;

type PipelinedOf<T> = PromiseLike<Resolved<T>> &
  Promise<Resolved<T>> &
  (NonNullable<T> extends readonly unknown[] ? unknown : NonNullable<T> extends object ? Methods<NonNullable<T>> : unknown) &
  Callable<T> & {
    /** Runs `mapper` on the peer for each element (or for the value), in one round trip. */
    map<U>(mapper: (element: Pipelined<ElementOf<T>>) => U): Pipelined<MapResult<T, U>>;
    [Symbol.dispose](): void;
  };

/**
 * A remote reference to `T`: each method call is sent at once and returns a pipelined promise.
 * `Stub<any>` (an untyped connection) is `any`.
 */
export type Stub<T> = IsAny<T> extends true ? any : StubOf<T>;

type StubOf<T> = Methods<T> &
  Callable<T> & {
    map<U>(mapper: (element: Pipelined<ElementOf<T>>) => U): Pipelined<MapResult<T, U>>;
    /** A second, independently released reference to the same capability. */
    dup(): Stub<T>;
    [Symbol.dispose](): void;
  };
