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
export type ChildStatus = "starting" | "running" | "restarting" | "stopping" | "stopped";

/** One child as its supervisor lists it; `actor` is the child's own report while it runs. */
export interface ChildInspection<C extends Inspection = Inspection> {
  id: string;
  type: "worker" | "supervisor";
  restart: "permanent" | "transient" | "temporary";
  status: ChildStatus;
  /** Restarts of this child since its supervisor started. */
  restarts: number;
  uptimeMs: number;
  /** The last abnormal exit, described. */
  lastError?: string;
  actor?: C;
}

export interface SupervisorInspection<C extends Inspection = Inspection> extends Inspection {
  kind: "supervisor";
  name: string;
  status: SupervisorStatus;
  strategy: "one_for_one" | "one_for_all" | "rest_for_one";
  /** Restarts in the current intensity window, against the limit. */
  restarts: { used: number; max: number; withinSeconds: number };
  uptimeMs: number;
  /** How the supervisor ended, once it has. */
  exit?: string;
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
