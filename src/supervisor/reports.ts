// Supervisor reports (OTP's supervisor reports, by errorContext): a child's crash
// (child_terminated), a restart that failed to start (start_error), each restart, and a
// supervisor giving up at its restart intensity (shutdown, reached_max_restart_intensity).
// The supervisor only hands them to the observer installed here; logging and telemetry channels
// live in the layers above, which install one.

import type { ExitReason, RestartType } from "./child.js";

/** What every supervisor report says. */
export interface SupervisorReportBase {
  /** The supervisor's name. */
  supervisor: string;
  /** The names from the root supervisor down to this supervisor. */
  path: readonly string[];
  /** The child concerned. */
  childId: string;
}

/** A child ended abnormally, or a permanent child ended at all (OTP: child_terminated). */
export interface ChildCrashReport extends SupervisorReportBase {
  event: "crash";
  reason: ExitReason;
  restart: RestartType;
}

/** A restart attempt failed to start the child; it will be tried again (OTP: start_error). */
export interface StartErrorReport extends SupervisorReportBase {
  event: "start_error";
  error: unknown;
}

/** The child was started again after an exit (its own, or a sibling's under one_for_all / rest_for_one). */
export interface RestartReport extends SupervisorReportBase {
  event: "restart";
  /** How many times this child has been restarted. */
  restarts: number;
}

/** Too many restarts within the window: the supervisor stopped every child and exited with "shutdown". */
export interface GiveUpReport extends SupervisorReportBase {
  event: "give_up";
  /** The failure that was one restart too many (an exit reason's error, or a start error). */
  cause: unknown;
  maxRestarts: number;
  maxSeconds: number;
}

export type SupervisorReport = ChildCrashReport | StartErrorReport | RestartReport | GiveUpReport;

/** Receives every supervisor's reports; `wants` says, before one is built, whether it would be used. */
export interface ReportObserver {
  wants(event: SupervisorReport["event"]): boolean;
  report(report: SupervisorReport): void;
}

let reportObserver: ReportObserver | undefined;

/** Installs the one observer of every supervisor's reports (undefined: none); a function takes them all. */
export function observeSupervisorReports(observer: ReportObserver | ((report: SupervisorReport) => void) | undefined): void {
  reportObserver = typeof observer === "function" ? { wants: () => true, report: observer } : observer;
}

/** Whether a report of this kind would reach anyone (so that a crash loop builds none for nobody). */
export function reporting(event: SupervisorReport["event"]): boolean {
  return reportObserver !== undefined && reportObserver.wants(event);
}

export function report(event: SupervisorReport): void {
  try {
    reportObserver?.report(event);
  } catch {
    // A failing observer must not change what the supervisor does.
  }
}
