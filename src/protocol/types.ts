// Static types of stubs: `Stub<Api>` turns an interface into what a remote reference to it looks
// like. Methods return pipelined promises (awaitable, and usable as a stem for further calls);
// targets and functions travel by reference and come back as stubs; data comes back as data.
//
// `Stub` and `Pipelined` are each an intersection at their top level, never a conditional type:
// TypeScript keeps the name of an intersection alias when it prints a type, so a user's
// `const getUser = (id: number) => api.users().get(id)` declares `Pipelined<User>` in its
// `.d.ts`, not the hundreds of kilobytes of the expanded structure (test/types/declaration-size).
// The `any` escape hatch lives inside the members: `any & X` is `any`, so `Stub<any>` is `any`.

import type { Target } from "./target.js";

// The `any`s below are in constraint positions only (what counts as "a function"), never in a
// type a user receives.
type AnyFunction = (...args: any[]) => any;
type IsAny<T> = 0 extends 1 & T ? true : false;

/** Values that travel by pipe (streams) or with their body piped (Blob, Request, Response); they arrive as themselves. */
export type StreamsAndBodies = ReadableStream<any> | WritableStream<any> | Blob | Request | Response;

/** What awaiting a remote value yields: data as data, capabilities as stubs. */
export type Resolved<T> = T extends AnyFunction
  ? Stub<T>
  : T extends Target
    ? Stub<T>
    : T extends PromiseLike<infer U>
      ? Resolved<U>
      : T extends readonly (infer E)[]
        ? Resolved<E>[]
        : T extends Date | Uint8Array | ArrayBuffer | ArrayBufferView | URL | Headers | Error | RegExp | StreamsAndBodies
          ? T
          : T extends object
            ? { [K in keyof T]: Resolved<T[K]> }
            : T;

/**
 * What may be passed where the interface expects `T`: the value itself, a stub, or a promise for
 * it. A function parameter takes a local function as is, so that its parameters are inferred.
 */
export type Passable<T> = T extends AnyFunction ? T : T | Stub<T> | Pipelined<T>;

/** The arguments of a remote method: each parameter, or a stub or promise of it. */
export type PassableArgs<P extends readonly unknown[]> = { [I in keyof P]: Passable<P[I]> };

/** A remote method: its call is sent at once and returns a pipelined promise of its result. */
export type RemoteMethod<F extends AnyFunction> = (...args: PassableArgs<Parameters<F>>) => Pipelined<Awaited<ReturnType<F>>>;

/** The members a stub of `T` offers: its methods as remote methods, its properties as promises. */
export type RemoteMembers<T> = {
  readonly [K in keyof T as K extends string | number ? K : never]: T[K] extends AnyFunction ? RemoteMethod<T[K]> : Pipelined<Awaited<T[K]>>;
};

/** A stub of a function is callable itself. */
export type RemoteCall<T> = T extends AnyFunction ? RemoteMethod<T> : unknown;

/** The element a `map` callback receives: an array's element, or the value itself. */
export type MapElement<T> = T extends readonly (infer E)[] ? E : T;
/** What a `map` yields: an array of the callback's results for an array, else one result. */
export type MapResult<T, U> = T extends readonly unknown[] ? Unpipelined<U>[] : Unpipelined<U>;
/** The value type behind a pipelined promise or stub (what a `map` callback returned). */
export type Unpipelined<U> = U extends Pipelined<infer V> ? V : U extends Stub<infer V> ? V : U;

declare const remoteType: unique symbol;

/** What every stub and pipelined promise has, whatever `T` is. */
export interface StubMembers<T> {
  /** Type-level only: the remote type, so that functions taking any stub can infer it. */
  readonly [remoteType]?: T;
  /** Runs `mapper` on the peer for each element (or for the value), in one round trip. */
  map<U>(mapper: (element: Pipelined<MapElement<T>>) => U): Pipelined<MapResult<T, U>>;
  /** Gives back this reference; the peer is told once nothing refers to the capability. */
  [Symbol.dispose](): void;
}

/** What a capability stub has beyond its members. */
export interface CapabilityMembers<T> extends StubMembers<T> {
  /** A second, independently released reference to the same capability. */
  dup(): Stub<T>;
}

// `Methods` of an array, a primitive or a stream (or Blob, Request, Response) are none:
// pipelining goes into plain objects and capabilities only; a stream's methods are local.
type PipelinedMembers<T> =
  IsAny<T> extends true
    ? any
    : NonNullable<T> extends readonly unknown[] | StreamsAndBodies
      ? unknown
      : NonNullable<T> extends object
        ? RemoteMembers<NonNullable<T>>
        : unknown;

type StubRemoteMembers<T> = IsAny<T> extends true ? any : RemoteMembers<T>;

/** A promise for a remote value that can be pipelined on before it resolves. */
export type Pipelined<T> = Promise<Resolved<T>> & PipelinedMembers<T> & RemoteCall<T> & StubMembers<T>;

/**
 * A remote reference to `T`: each method call is sent at once and returns a pipelined promise.
 * `Stub<any>` (a connection the application chose to leave untyped) is `any`; `Stub<unknown>`,
 * what a connection gets when no type is given, offers no methods until one is.
 */
export type Stub<T> = StubRemoteMembers<T> & RemoteCall<T> & CapabilityMembers<T>;
