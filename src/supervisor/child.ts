// What a supervisor supervises. A child is anything that can be started, asked to stop, killed,
// and that reports once how it ended. The supervisor knows nothing else about it: sessions, user
// state machines and nested supervisors all look like this.

import type { Inspection, Inspector } from "./inspection.js";

/** How a child ended (OTP's exit reasons). Only `{ error }` is abnormal. */
export type ExitReason = "normal" | "shutdown" | { error: unknown };

export const isAbnormal = (reason: ExitReason): reason is { error: unknown } => typeof reason === "object";

/**
 * OTP restart types: a `permanent` child is always restarted, a `transient` one only after an
 * abnormal exit, a `temporary` one never (and is forgotten when it ends).
 */
export type RestartType = "permanent" | "transient" | "temporary";

/**
 * How long a child may take to stop after being asked: milliseconds, then it is killed;
 * "brutal_kill" kills at once; "infinity" waits as long as it takes (the default for supervisors).
 */
export type Shutdown = number | "brutal_kill" | "infinity";

/** A running child. */
export interface Child {
  /** Settles once, when the child has ended, with the reason. Never rejects. */
  readonly exited: Promise<ExitReason>;
  /** Asks the child to end; it settles `exited` with "shutdown" when it has. Idempotent. */
  stop(): void;
  /** Ends the child at once, without cleanup of its own (its resources are still released). */
  kill(): void;
  /** A plain snapshot for inspection. */
  inspect(): Inspection;
}

export type { Inspection } from "./inspection.js";

/** Passed to every child at start: what the tree shares with its members. */
export interface StartContext {
  /** The names from the root supervisor down to this child. */
  readonly path: readonly string[];
  /** The XState inspection observer given to the root, for every actor in the tree. */
  readonly inspect?: Inspector | undefined;
}

export interface ChildSpec {
  /** Unique among its siblings. */
  id: string;
  start(context: StartContext): Child | Promise<Child>;
  restart?: RestartType;
  shutdown?: Shutdown;
  type?: "worker" | "supervisor";
}

/** A child's exit as a promise plus the resolver, for implementations of Child. */
export function exitSignal(): { exited: Promise<ExitReason>; exit: (reason: ExitReason) => void } {
  let exit!: (reason: ExitReason) => void;
  const exited = new Promise<ExitReason>((resolve) => (exit = resolve));
  return { exited, exit };
}

export function describeReason(reason: ExitReason): string {
  if (!isAbnormal(reason)) return reason;
  const error = reason.error;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
