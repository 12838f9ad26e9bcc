// Who owns a stub, and why a release went out. The protocol layer only asks; the actors layer
// answers (with AsyncLocalStorage: the owner is whoever's code is running, across awaits), and
// telemetry listens. With nothing installed, nobody owns anything and nobody listens.

import type { CapnWebError } from "./errors.js";

/** Something that ends, and releases the stubs it adopted when it does. */
export interface StubOwner {
  /** Takes responsibility for a stub's reference (its shared root object). */
  adopt(root: object): void;
}

export interface Ownership {
  /** The owner of the code running now, if any. */
  current(): StubOwner | undefined;
  /** Runs a local target's method as (and on behalf of) that target's owner, if it has one. */
  runFor<T>(target: object, fn: () => T): T;
}

const nobody: Ownership = { current: () => undefined, runFor: (_target, fn) => fn() };
let ownership: Ownership = nobody;

export function installOwnership(next: Ownership | undefined): void {
  ownership = next ?? nobody;
}

export function currentOwner(): StubOwner | undefined {
  return ownership.current();
}

export function runForTarget<T>(target: object, fn: () => T): T {
  return ownership.runFor(target, fn);
}

// -----------------------------------------------------------------------------------------------

/** Why a `["release", id, n]` went out. */
export type ReleaseReason =
  /** `release()`, `Symbol.dispose`, `using`, `withCapability`. */
  | "explicit"
  /** The owner (a scope, a target actor, a supervised actor) ended. */
  | "owner-ended"
  /** The stub was garbage-collected without a release: a leak the safety net caught. */
  | "finalized"
  /** A call's answer arrived; the peer's copy is no longer needed. */
  | "resolved"
  /** The caller stopped waiting (`await(p, { timeout })`). */
  | "timeout";

let reason: ReleaseReason = "explicit";

/** Runs `fn` (which releases something) with `why` as the reason reported for its releases. */
export function withReleaseReason<T>(why: ReleaseReason, fn: () => T): T {
  const previous = reason;
  reason = why;
  try {
    return fn();
  } finally {
    reason = previous;
  }
}

export function currentReleaseReason(): ReleaseReason {
  return reason;
}

export interface ReleaseEvent {
  importId: number;
  refcount: number;
  reason: ReleaseReason;
  /** The session that sent it: a supervised session's name, a server session's child id; absent when unnamed. */
  name?: string;
}

let releaseObserver: ((event: ReleaseEvent) => void) | undefined;

/** Sees every release a session sends (telemetry). */
export function observeReleases(observer: ((event: ReleaseEvent) => void) | undefined): void {
  releaseObserver = observer;
}

export function reportRelease(event: ReleaseEvent): void {
  releaseObserver?.(event);
}

// -----------------------------------------------------------------------------------------------

/** A call made through a stub, from the push to the arrival of its answer. */
export interface CallObserver {
  /** A call left; returns what `end` receives, or undefined to not follow it. */
  start(path: readonly (string | number)[]): object | undefined;
  /** Its answer arrived (`error` set when it failed). */
  end(call: object, error?: CapnWebError): void;
}

let callObserver: CallObserver | undefined;

export function observeCalls(observer: CallObserver | undefined): void {
  callObserver = observer;
}

export function callStarted(path: readonly (string | number)[]): object | undefined {
  return callObserver?.start(path);
}

export function callEnded(call: object, error?: CapnWebError): void {
  callObserver?.end(call, error);
}

let servedObserver: CallObserver | undefined;

/** Sees the peer's calls to our exports, from their pull to the answer we send (telemetry). */
export function observeServedCalls(observer: CallObserver | undefined): void {
  servedObserver = observer;
}

export function servedStarted(path: readonly (string | number)[]): object | undefined {
  return servedObserver?.start(path);
}

export function servedEnded(call: object, error?: CapnWebError): void {
  servedObserver?.end(call, error);
}

// -----------------------------------------------------------------------------------------------

/**
 * How long an await may wait for an answer. The client layer installs this (it owns the timers
 * and knows the session's and the application's default timeouts); `onExpiry` releases the call.
 */
export type PullDeadline = <T>(pull: Promise<T>, hook: object, onExpiry: () => void) => Promise<T>;

let pullDeadline: PullDeadline | undefined;

export function installPullDeadline(deadline: PullDeadline | undefined): void {
  pullDeadline = deadline;
}

export function withPullDeadline<T>(pull: Promise<T>, hook: object, onExpiry: () => void): Promise<T> {
  return pullDeadline ? pullDeadline(pull, hook, onExpiry) : pull;
}

let timeoutOverride: number | undefined;

/** Runs `fn` (which starts awaits) with `ms` as their timeout, whatever the defaults say. */
export function withCallTimeout<T>(ms: number, fn: () => T): T {
  const previous = timeoutOverride;
  timeoutOverride = ms;
  try {
    return fn();
  } finally {
    timeoutOverride = previous;
  }
}

/** The per-call timeout in force for awaits starting now, if one was given. */
export function callTimeoutOverride(): number | undefined {
  return timeoutOverride;
}
