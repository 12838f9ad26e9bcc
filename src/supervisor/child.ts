// What a supervisor supervises. A child is anything that can be started, asked to stop, killed,
// and that reports once how it ended. The supervisor knows nothing else about it: sessions, user
// state machines and nested supervisors all look like this.

import type { Inspection, Inspector } from "./inspection.js";

/**
 * How a child ended (OTP's exit reasons). `normal`, `shutdown` and `{ shutdown: term }` are
 * normal ends (a transient child is not restarted after them; the term is kept for reports);
 * `killed` (what `kill()` reports) and `{ error }` are abnormal.
 */
export type ExitReason = "normal" | "shutdown" | "killed" | { shutdown: unknown } | { error: unknown };

/** True for `killed` and `{ error }`: the ends after which a transient child is restarted. */
export const isAbnormal = (reason: ExitReason): reason is "killed" | { error: unknown } =>
  reason === "killed" || (typeof reason === "object" && "error" in reason);

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

export type ChildType = "worker" | "supervisor";

/** A running child. */
export interface Child {
  /** Settles once, when the child has ended, with the reason. Never rejects. */
  readonly exited: Promise<ExitReason>;
  /** Asks the child to end; it settles `exited` with "shutdown" when it has. Idempotent. */
  stop(): void;
  /** Ends the child at once, without cleanup of its own (its resources are still released); `exited` settles with "killed". */
  kill(): void;
  /** A plain snapshot for inspection. */
  inspect(): Inspection;
  /**
   * Why it ended, where its exit reason does not say: a supervisor that gave up exits with
   * "shutdown" and keeps the cause here, so that its parent's reports and inspection show it.
   */
  readonly exitCause?: unknown;
}

export type { Inspection } from "./inspection.js";

/** Passed to every child at start: what the tree shares with its members. */
export interface StartContext {
  /** The names from the root supervisor down to this child. */
  readonly path: readonly string[];
  /** The XState inspection observer given to the root, for every actor in the tree. */
  readonly inspect?: Inspector | undefined;
}

/**
 * What a start returns: the running child, or "ignore" (OTP's `ignore`): nothing was started,
 * the child is listed as not running and is not restarted.
 */
export type StartResult = Child | "ignore";

export interface ChildSpec {
  /** Unique among its siblings. */
  id: string;
  start(context: StartContext): StartResult | Promise<StartResult>;
  restart?: RestartType;
  shutdown?: Shutdown;
  type?: ChildType;
  /**
   * A significant child's end can stop its supervisor (see `autoShutdown`). Only transient and
   * temporary children can be significant, and only under a supervisor whose autoShutdown is
   * not "never".
   */
  significant?: boolean;
}

/** A child's exit as a promise plus the resolver, for implementations of Child. */
export function exitSignal(): { exited: Promise<ExitReason>; exit: (reason: ExitReason) => void } {
  let exit!: (reason: ExitReason) => void;
  const exited = new Promise<ExitReason>((resolve) => (exit = resolve));
  return { exited, exit };
}

export function describeReason(reason: ExitReason): string {
  if (typeof reason === "string") return reason;
  if ("shutdown" in reason) return `shutdown: ${describeTerm(reason.shutdown)}`;
  return describeTerm(reason.error);
}

function describeTerm(term: unknown): string {
  return term instanceof Error ? `${term.name}: ${term.message}` : String(term);
}
