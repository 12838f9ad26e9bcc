// What the observer page receives: plain data, the same shape on the server that builds it and
// in the page that draws it (the page imports these types only).

import type { TreeInspection } from "../actors/inspect.js";
import type { CapabilityTables } from "../protocol/tables.js";

/** One second of calls, as telemetry's call:stop and call:exception (or serve:stop and serve:exception) saw them. */
export interface CallSecond {
  /** The second's start, ms since the epoch. */
  at: number;
  calls: number;
  errors: number;
  /** Mean and slowest latency of the calls answered in that second, ms. */
  meanMs: number;
  maxMs: number;
}

/** What the observer's log records. */
export type ObserverLogKind = "crash" | "restart" | "start_error" | "give_up" | "connected" | "disconnected" | "reconnecting" | "restored" | "restore_failed" | "release";

export interface ObserverLogEntry {
  /** Increases by one per entry: the page asks for what follows the last it has. */
  seq: number;
  /** ms since the epoch. */
  at: number;
  kind: ObserverLogKind;
  /** Where in the tree, or which session (by name), when known. */
  subject: string;
  message: string;
}

/** One update pushed to an observer page. */
export interface ObserverSnapshot {
  /** When it was taken, ms since the epoch (uptimes in `tree` are as of then). */
  at: number;
  tree: TreeInspection;
  /** Every session's import and export tables, by path of child ids from the root ("app/api"). */
  tables: Record<string, CapabilityTables>;
  /** The last minutes of calls made through stubs in this process, one entry per second, oldest first (seconds with no call included). */
  calls: CallSecond[];
  /** The same seconds of the peers' calls that this process's exports answered. */
  served: CallSecond[];
  /** Log entries after the cursor the page sent, oldest first. */
  log: ObserverLogEntry[];
  /** Whether the page may restart, stop and drop (the application's `controls` option). */
  controls: boolean;
}
