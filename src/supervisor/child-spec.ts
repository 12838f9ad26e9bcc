// Checking child specs and supervisor options before anything starts, as OTP does (its
// check_childspecs and supervisor flags): a typo such as restart "prmanent" is refused with a
// clear reason instead of silently acting as a default.

import type { ChildSpec, ChildType, RestartType, Shutdown, StartContext, StartResult } from "./child.js";
import { type ChildSpecProblem, SupervisorError, type SupervisorOptionProblem } from "./errors.js";

export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one";

/**
 * When the end of significant children stops the supervisor (OTP's auto_shutdown): "never"; at
 * the end of "any_significant" child; once "all_significant" children have ended. Only an end
 * of the child's own counts, not one the supervisor caused.
 */
export type AutoShutdown = "never" | "any_significant" | "all_significant";

/** A child spec with OTP's defaults filled in (what getChildSpec returns). */
export interface ResolvedChildSpec extends ChildSpec {
  start(context: StartContext): StartResult | Promise<StartResult>;
  restart: RestartType;
  shutdown: Shutdown;
  type: ChildType;
  significant: boolean;
}

/** The checked spec a supervisor keeps: the defaults filled in, and the spec as given. */
export interface CheckedChildSpec {
  readonly id: string;
  readonly start: (context: StartContext) => StartResult | Promise<StartResult>;
  readonly restart: RestartType;
  readonly shutdown: Shutdown;
  readonly type: ChildType;
  readonly significant: boolean;
  readonly given: ChildSpec;
}

export const STRATEGIES: readonly unknown[] = ["one_for_one", "one_for_all", "rest_for_one"];
const AUTO_SHUTDOWNS: readonly unknown[] = ["never", "any_significant", "all_significant"];

/** setTimeout's largest delay: a longer one would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function refuse(problem: ChildSpecProblem, message: string): never {
  throw new SupervisorError("invalid_child_spec", message, { problem });
}

/** Checks one spec and fills in the defaults; throws invalid_child_spec. */
export function resolveChildSpec(spec: unknown, autoShutdown: AutoShutdown, significantAllowed = true): CheckedChildSpec {
  if (typeof spec !== "object" || spec === null) refuse("not_a_child_spec", `A child spec must be an object, got ${String(spec)}.`);
  const s = spec as Partial<ChildSpec>;
  if (typeof s.id !== "string" || s.id === "") refuse("missing_id", `A child spec needs an id (a non-empty string), got ${String(s.id)}.`);
  const name = `Child ${s.id}`;
  if (typeof s.start !== "function") refuse("missing_start", `${name} needs a start function.`);
  const restart = s.restart ?? "permanent";
  if (restart !== "permanent" && restart !== "transient" && restart !== "temporary") {
    refuse("invalid_restart_type", `${name}: restart must be "permanent", "transient" or "temporary", got ${String(restart)}.`);
  }
  const type = s.type ?? "worker";
  if (type !== "worker" && type !== "supervisor") refuse("invalid_child_type", `${name}: type must be "worker" or "supervisor", got ${String(type)}.`);
  const shutdown = s.shutdown ?? (type === "supervisor" ? "infinity" : 5_000);
  if (shutdown !== "brutal_kill" && shutdown !== "infinity" && !(Number.isInteger(shutdown) && shutdown >= 0 && shutdown <= MAX_TIMEOUT_MS)) {
    refuse("invalid_shutdown", `${name}: shutdown must be an integer number of ms from 0 to ${MAX_TIMEOUT_MS}, "brutal_kill" or "infinity", got ${String(shutdown)}.`);
  }
  const significant = s.significant ?? false;
  if (typeof significant !== "boolean") refuse("invalid_significant", `${name}: significant must be true or false, got ${String(significant)}.`);
  if (significant && !significantAllowed) refuse("invalid_significant", `${name}: a dynamic supervisor's children cannot be significant.`);
  if (significant && restart === "permanent") {
    refuse("bad_combination", `${name}: a permanent child cannot be significant (it is always restarted).`);
  }
  if (significant && autoShutdown === "never") {
    refuse("bad_combination", `${name} is significant, but its supervisor's autoShutdown is "never".`);
  }
  // Checked and defaulted, without copying the spec: starts are on the fast path of a dynamic supervisor.
  return { id: s.id, start: s.start, restart, shutdown, type, significant, given: spec as ChildSpec };
}

/** Checks every spec and that no two share an id, before any starts. */
export function resolveChildSpecs(specs: unknown, autoShutdown: AutoShutdown, significantAllowed = true): CheckedChildSpec[] {
  if (!Array.isArray(specs)) refuse("not_a_child_spec", "The children must be an array of child specs.");
  const ids = new Set<string>();
  return specs.map((spec) => {
    const resolved = resolveChildSpec(spec, autoShutdown, significantAllowed);
    if (ids.has(resolved.id)) refuse("duplicate_child_name", `Two children have the id ${resolved.id}.`);
    ids.add(resolved.id);
    return resolved;
  });
}

function refuseOption(problem: SupervisorOptionProblem, message: string): never {
  throw new SupervisorError("invalid_options", message, { problem });
}

/** Supervisor options, checked and with the defaults filled in. */
export interface ResolvedSupervisorOptions {
  name: string;
  strategy: Strategy;
  maxRestarts: number;
  maxSeconds: number;
  maxChildren: number;
  autoShutdown: AutoShutdown;
}

export interface OptionsToResolve {
  name?: unknown;
  strategy?: unknown;
  maxRestarts?: unknown;
  maxSeconds?: unknown;
  maxChildren?: unknown;
  autoShutdown?: unknown;
}

/** Checks supervisor options (OTP's supervisor flags) and fills in the defaults. */
export function resolveOptions(options: OptionsToResolve, defaultName: string, autoShutdownAllowed = true): ResolvedSupervisorOptions {
  const name = options.name ?? defaultName;
  if (typeof name !== "string" || name === "") refuseOption("invalid_name", `A supervisor's name must be a non-empty string, got ${String(name)}.`);
  const strategy = options.strategy ?? "one_for_one";
  if (!STRATEGIES.includes(strategy)) {
    refuseOption("invalid_strategy", `${name}: unknown strategy ${String(strategy)} (one_for_one, one_for_all, rest_for_one).`);
  }
  const maxRestarts = options.maxRestarts ?? 3;
  if (!(Number.isInteger(maxRestarts) && (maxRestarts as number) >= 0)) {
    refuseOption("invalid_intensity", `${name}: maxRestarts must be an integer >= 0 (not Infinity), got ${String(maxRestarts)}.`);
  }
  const maxSeconds = options.maxSeconds ?? 5;
  if (!(typeof maxSeconds === "number" && maxSeconds > 0 && Number.isFinite(maxSeconds))) {
    refuseOption("invalid_period", `${name}: maxSeconds must be a finite number > 0, got ${String(maxSeconds)}.`);
  }
  const maxChildren = options.maxChildren ?? Infinity;
  if (!(maxChildren === Infinity || (Number.isInteger(maxChildren) && (maxChildren as number) >= 0))) {
    refuseOption("invalid_max_children", `${name}: maxChildren must be an integer >= 0 or Infinity, got ${String(maxChildren)}.`);
  }
  const autoShutdown = options.autoShutdown ?? "never";
  if (!AUTO_SHUTDOWNS.includes(autoShutdown) || (!autoShutdownAllowed && autoShutdown !== "never")) {
    refuseOption(
      "invalid_auto_shutdown",
      autoShutdownAllowed
        ? `${name}: autoShutdown must be "never", "any_significant" or "all_significant", got ${String(autoShutdown)}.`
        : `${name}: a dynamic supervisor has no autoShutdown, got ${String(autoShutdown)}.`,
    );
  }
  return {
    name,
    strategy: strategy as Strategy,
    maxRestarts: maxRestarts as number,
    maxSeconds,
    maxChildren: maxChildren as number,
    autoShutdown: autoShutdown as AutoShutdown,
  };
}
