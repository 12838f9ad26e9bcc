// What supervisors and their children report to inspection: plain data, safe to serialize.
// Every kind of child says what it is in `kind`; layers above add kinds of their own (sessions,
// pools, targets), and `CapnWeb.inspect` joins them into one union to narrow on.

import type { InspectionEvent, Observer } from "xstate";

/**
 * Receives XState's inspection events of every actor in a tree: a function, or an XState
 * `Observer` (such as `inspector.inspect` of `@statelyai/inspect`).
 */
export type Inspector = ((event: InspectionEvent) => void) | Observer<InspectionEvent>;

/** What every child reports about itself; each kind adds its own fields. */
export interface Inspection {
  readonly kind: string;
  readonly status: string;
}

/** The lifecycle of a supervisor. */
export type SupervisorStatus = "starting" | "running" | "stopping" | "stopped";

/** Where a child of a supervisor is in its life, as its supervisor sees it. */
export type ChildStatus =
  /** Its first start (or a restartChild) is under way. */
  | "starting"
  | "running"
  /** It exited and is being brought back, or a restart failed and is to be tried again. */
  | "restarting"
  | "stopping"
  /** Listed, not running: terminated, ignored its start, or a transient child that ended normally. */
  | "stopped";

/** A supervisor's children by state and type (OTP's count_children). */
export interface ChildCounts {
  /** Children listed, running or not. */
  specs: number;
  /** Children running. */
  active: number;
  /** Children of type supervisor, running or not. */
  supervisors: number;
  /** Children of type worker, running or not. */
  workers: number;
}

/** One child as its supervisor lists it; `actor` is the child's own report while it runs. */
export interface ChildInspection<C extends Inspection = Inspection> {
  id: string;
  type: "worker" | "supervisor";
  restart: "permanent" | "transient" | "temporary";
  /** Whether its end can stop its supervisor (autoShutdown). */
  significant: boolean;
  status: ChildStatus;
  /** Restarts of this child since its supervisor started. */
  restarts: number;
  uptimeMs: number;
  /** The last abnormal exit or failed restart, described (or why a child supervisor gave up). */
  lastError?: string;
  actor?: C;
}

export interface SupervisorInspection<C extends Inspection = Inspection> extends Inspection {
  kind: "supervisor";
  name: string;
  status: SupervisorStatus;
  strategy: "one_for_one" | "one_for_all" | "rest_for_one";
  autoShutdown: "never" | "any_significant" | "all_significant";
  /** Restarts in the current intensity window, against the limit. */
  restarts: { used: number; max: number; withinSeconds: number };
  uptimeMs: number;
  counts: ChildCounts;
  /** How the supervisor ended, once it has. */
  exit?: string;
  /** Why it gave up, when it did (its exit reason is then "shutdown"). */
  exitCause?: string;
  children: ChildInspection<C>[];
}

/** An XState actor supervised as a child (`Supervisor.actor(logic)`). */
export interface ActorInspection extends Inspection {
  kind: "actor";
  /** XState's snapshot status: "active", "done", "error" or "stopped". */
  status: string;
  id: string;
  /** The machine's state value (a string, or an object for nested and parallel states). */
  value: unknown;
}
