// A supervisor with Erlang/OTP's semantics (OTP's `supervisor` documentation):
//
// - Children start in order; if one fails to start, the ones already started are stopped in
//   reverse order and the start fails. A start may return "ignore": the child is listed, not
//   running, and not restarted.
// - When a child exits and its restart type asks for it, the strategy decides what restarts:
//   one_for_one the child alone; one_for_all every child (the others are stopped first, in
//   reverse order); rest_for_one the child and those started after it.
// - A restart that fails to start is tried again, as a new task (OTP's try_again_restart): the
//   supervisor serves other requests between attempts, terminateChild ends the loop, and the
//   retry starts from the child whose start failed.
// - Restart intensity: more than `maxRestarts` restarts within `maxSeconds` (monotonic time) and
//   the supervisor gives up: it stops all children in reverse order and exits with "shutdown";
//   the cause is kept in `exitCause`, inspection and the give_up report.
// - Significant children and autoShutdown: the end of a significant child (its own, not one the
//   supervisor caused) can stop the supervisor, with "shutdown".
// - Stopping stops children in reverse start order, each within its `shutdown` time, after
//   which it is killed.
//
// Requests that change children (terminateChild, restartChild, deleteChild, exits and their
// restarts) run one at a time, in arrival order, like the messages of OTP's supervisor process.
// Children live in a Map, in start order, so adding or removing one costs the same at the
// 10,000th child as at the first.

import { nextMacrotask } from "../platform/macrotask.js";
import { supervisorStandIn, stopTreeActor } from "./inspection-actors.js";
import type { AnyActorRef } from "xstate";
import {
  type Child,
  type ChildSpec,
  type ChildType,
  type ExitReason,
  type Inspection,
  type RestartType,
  type StartContext,
  type StartResult,
  describeReason,
  exitSignal,
  isAbnormal,
} from "./child.js";
import { actorSpec } from "./actor-child.js";
import type { ChildCounts, ChildStatus, Inspector, SupervisorInspection, SupervisorStatus } from "./inspection.js";
import {
  type AutoShutdown,
  type CheckedChildSpec,
  type ResolvedChildSpec,
  type ResolvedSupervisorOptions,
  type Strategy,
  resolveChildSpec,
  resolveChildSpecs,
  resolveOptions,
} from "./child-spec.js";
import { SupervisorError } from "./errors.js";
import { report, reporting } from "./reports.js";

export { SupervisorError } from "./errors.js";
export type { AutoShutdown, ResolvedChildSpec, ResolvedSupervisorOptions, Strategy } from "./child-spec.js";

export interface SupervisorOptions {
  strategy?: Strategy;
  /**
   * Restarts allowed within `maxSeconds`: an integer >= 0 (default 3, Elixir's default; OTP's is
   * 1). Infinity is refused, as in OTP.
   */
  maxRestarts?: number;
  /** The window of the intensity limit, seconds, > 0 (default 5). */
  maxSeconds?: number;
  name?: string;
  /** XState inspection, handed to every actor in the tree: a function or an XState Observer. */
  inspect?: Inspector;
  /** Refuse new children beyond this many: an integer >= 0, or Infinity (the default). */
  maxChildren?: number;
  /** Whether the end of significant children stops this supervisor (default "never"). */
  autoShutdown?: AutoShutdown;
}

/** The options of a nested supervisor's child spec. */
export interface SupervisorSpecOptions extends SupervisorOptions {
  id?: string;
  restart?: RestartType;
  significant?: boolean;
}

/** One entry of whichChildren() (OTP's which_children). */
export interface WhichChild {
  id: string;
  /** The running child; "restarting" between failed restart attempts; undefined when not running. */
  child: Child | "restarting" | undefined;
  type: ChildType;
}

class Entry {
  child: Child | undefined;
  status: ChildStatus = "starting";
  restarts = 0;
  startedAt = 0;
  lastError: unknown;
  hasError = false;
  /** Set while the supervisor itself stops this child, so its exit is not taken for a crash. */
  terminating = false;
  /** Bumped by every start and stop: an exit noticed before one of them is stale after it. */
  generation = 0;
  /** Which scheduled retry is the current one. */
  retryToken = 0;
  /** The start in progress (or, after a start that threw at once, that settled start). */
  starting: Promise<Child | undefined> | undefined;
  /** An exit that came while the supervisor was still starting its children. */
  exitDuringStart: { reason: ExitReason; failure: unknown; generation: number } | undefined;

  constructor(readonly spec: CheckedChildSpec) {}

  failed(error: unknown): void {
    this.lastError = error;
    this.hasError = true;
  }
}

/** A task for the next turn of the event loop, after timers and I/O that are due. */
const later = nextMacrotask;

const now = (): number => performance.now();

export class Supervisor implements Child {
  readonly name: string;
  readonly strategy: Strategy;
  readonly maxRestarts: number;
  readonly maxSeconds: number;
  readonly maxChildren: number;
  readonly autoShutdown: AutoShutdown;
  readonly exited: Promise<ExitReason>;
  private readonly exit: (reason: ExitReason) => void;
  /** @internal */
  protected readonly entries = new Map<string, Entry>();
  /** Restart times, oldest first; the ones before `restartLogHead` have left the window. */
  private readonly restartLog: number[] = [];
  private restartLogHead = 0;
  private state: SupervisorStatus = "starting";
  private work: Promise<void> = Promise.resolve();
  private readonly context: StartContext;
  private readonly startedAt = now();
  private exitReason: ExitReason | undefined;
  private giveUpError: SupervisorError | undefined;
  /** OTP's supervisors keep the spec of a child that is not running; simple_one_for_one does not. */
  protected keepsStoppedChildren = true;
  protected significantAllowed = true;

  protected constructor(options: ResolvedSupervisorOptions, inspect: SupervisorOptions["inspect"], parent: StartContext | undefined) {
    this.name = options.name;
    this.strategy = options.strategy;
    this.maxRestarts = options.maxRestarts;
    this.maxSeconds = options.maxSeconds;
    this.maxChildren = options.maxChildren;
    this.autoShutdown = options.autoShutdown;
    const path = [...(parent?.path ?? []), this.name];
    const inspector = inspect ?? parent?.inspect;
    this.standIn = inspector ? supervisorStandIn(path, inspector, parent?.inspectionParent) : undefined;
    this.context = { path, inspect: inspector, inspectionParent: this.standIn };
    ({ exited: this.exited, exit: this.exit } = exitSignal());
  }

  /**
   * Starts a supervisor and its children, in order. Rejects with invalid_options or
   * invalid_child_spec before starting anything, or with start_failed (having stopped the
   * children already started) if one fails.
   */
  static async start(children: readonly ChildSpec[], options: SupervisorOptions = {}, parent?: StartContext): Promise<Supervisor> {
    const supervisor = new Supervisor(resolveOptions(options, "supervisor"), options.inspect, parent);
    await supervisor.startInitial(children);
    return supervisor;
  }

  /** A child spec that runs any XState actor logic (an application's own state machine). */
  static actor = actorSpec;

  /** A child spec that runs a nested supervisor. */
  static spec(children: readonly ChildSpec[], options: SupervisorSpecOptions = {}): ChildSpec {
    return {
      id: options.id ?? options.name ?? "supervisor",
      type: "supervisor",
      restart: options.restart ?? "permanent",
      shutdown: "infinity",
      ...(options.significant !== undefined ? { significant: options.significant } : {}),
      start: (context) => Supervisor.start(children, options, context),
    };
  }

  protected async startInitial(specs: readonly ChildSpec[]): Promise<void> {
    let resolved: CheckedChildSpec[];
    try {
      // All specs are checked before anything starts, as OTP does.
      resolved = resolveChildSpecs(specs, this.autoShutdown, this.significantAllowed);
    } catch (error) {
      this.state = "stopped";
      this.finish({ error });
      throw error;
    }
    for (const spec of resolved) {
      const entry = new Entry(spec);
      this.entries.set(spec.id, entry);
      try {
        const child = await this.startEntry(entry, "starting");
        if (!child) this.forgetIfNotKept(entry);
      } catch (error) {
        this.entries.delete(spec.id);
        await this.terminateAll();
        this.state = "stopped";
        this.finish({ error });
        throw new SupervisorError("start_failed", `${this.name}: child ${spec.id} failed to start: ${messageOf(error)}`, { cause: error });
      }
    }
    this.state = "running";
    // A child that exited while its later siblings were still starting is handled now.
    for (const entry of this.entries.values()) {
      const exit = entry.exitDuringStart;
      entry.exitDuringStart = undefined;
      // After start() has returned, as OTP handles such an EXIT once init is done.
      if (exit !== undefined) later(() => this.childExitedWhileRunning(entry, exit.reason, exit.failure, exit.generation));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Managing children (OTP's start_child, terminate_child, restart_child, delete_child)

  /**
   * Adds and starts a child; resolves with it, or with undefined if its start returned "ignore".
   * Rejects with invalid_child_spec, already_started (running), already_present (listed, not
   * running: restartChild it), max_children, start_failed or noproc. Children start
   * concurrently (a session's start waits for its first connection attempt): the id is
   * reserved at once, so two starts of one id still conflict.
   */
  async startChild(spec: ChildSpec): Promise<Child | undefined> {
    this.assertAlive();
    const resolved = resolveChildSpec(spec, this.autoShutdown, this.significantAllowed);
    const existing = this.entries.get(resolved.id);
    if (existing) {
      const present = existing.status === "stopped" || existing.status === "restarting";
      throw new SupervisorError(
        present ? "already_present" : "already_started",
        present ? `${this.name} already lists a child ${resolved.id} (not running).` : `${this.name} already has a child ${resolved.id}.`,
      );
    }
    if (this.entries.size >= this.maxChildren) {
      throw new SupervisorError("max_children", `${this.name} has reached its maxChildren of ${this.maxChildren}.`);
    }
    const entry = new Entry(resolved);
    this.entries.set(resolved.id, entry);
    try {
      const child = await this.startEntry(entry, "starting");
      if (!child && this.entries.get(resolved.id) === entry) this.forgetIfNotKept(entry);
      return child;
    } catch (error) {
      if (this.entries.get(resolved.id) === entry) this.entries.delete(resolved.id);
      if (error instanceof SupervisorError && error.code === "noproc") throw error;
      throw new SupervisorError("start_failed", `${this.name}: child ${resolved.id} failed to start: ${messageOf(error)}`, { cause: error });
    }
  }

  /**
   * Stops a child (within its shutdown time) and keeps its spec, listed as not running: it is
   * not restarted until restartChild. A temporary child, and any child of a dynamic supervisor,
   * is forgotten instead. Ends a restart loop of that child. Already stopped: resolves.
   */
  terminateChild(id: string): Promise<void> {
    return this.request(async () => {
      const entry = this.found(id);
      if (entry.starting) await entry.starting.catch(noop);
      await this.terminate(entry);
      entry.status = "stopped";
      this.forgetIfNotKept(entry);
    });
  }

  /** Starts again a child that is listed and not running. Rejects with not_found, running, restarting, start_failed. */
  restartChild(id: string): Promise<Child | undefined> {
    return this.request(async () => {
      const entry = this.found(id);
      this.assertNotRunning(entry);
      try {
        const child = await this.startEntry(entry, "starting");
        if (!child) this.forgetIfNotKept(entry);
        return child;
      } catch (error) {
        if (error instanceof SupervisorError && error.code === "noproc") throw error;
        throw new SupervisorError("start_failed", `${this.name}: child ${id} failed to start: ${messageOf(error)}`, { cause: error });
      }
    });
  }

  /** Forgets a child that is listed and not running. Rejects with not_found, running, restarting. */
  deleteChild(id: string): Promise<void> {
    return this.request(async () => {
      const entry = this.found(id);
      this.assertNotRunning(entry);
      this.entries.delete(id);
    });
  }

  /** A child's spec with the defaults filled in, or undefined if there is no such child. */
  getChildSpec(id: string): ResolvedChildSpec | undefined {
    const spec = this.entries.get(id)?.spec;
    if (!spec) return undefined;
    const { id: _, start, restart, shutdown, type, significant } = spec;
    return { ...spec.given, id, start, restart, shutdown, type, significant };
  }

  /** Every listed child, in start order. */
  whichChildren(): WhichChild[] {
    return [...this.entries.values()].map((entry) => ({
      id: entry.spec.id,
      child: entry.child ?? (entry.status === "restarting" ? "restarting" : undefined),
      type: entry.spec.type,
    }));
  }

  countChildren(): ChildCounts {
    let active = 0;
    let supervisors = 0;
    for (const entry of this.entries.values()) {
      if (entry.child) active++;
      if (entry.spec.type === "supervisor") supervisors++;
    }
    return { specs: this.entries.size, active, supervisors, workers: this.entries.size - supervisors };
  }

  /** The running child with this id, if any. */
  child(id: string): Child | undefined {
    return this.entries.get(id)?.child;
  }

  get size(): number {
    return this.entries.size;
  }

  get isRunning(): boolean {
    return this.state === "running";
  }

  /** Why the supervisor gave up (code max_restart_intensity, `cause` the last failure), if it did. */
  get exitCause(): SupervisorError | undefined {
    return this.giveUpError;
  }

  private found(id: string): Entry {
    const entry = this.entries.get(id);
    if (!entry) throw new SupervisorError("not_found", `${this.name} has no child ${id}.`);
    return entry;
  }

  private assertNotRunning(entry: Entry): void {
    if (entry.status === "restarting") throw new SupervisorError("restarting", `${this.name}: child ${entry.spec.id} is restarting.`);
    if (entry.status !== "stopped") throw new SupervisorError("running", `${this.name}: child ${entry.spec.id} is running.`);
  }

  private forgetIfNotKept(entry: Entry): void {
    if (this.entries.get(entry.spec.id) !== entry || entry.child) return;
    if (entry.spec.restart === "temporary" || !this.keepsStoppedChildren) this.entries.delete(entry.spec.id);
  }

  // ---------------------------------------------------------------------------------------------
  // Child exits and restarts

  private startEntry(entry: Entry, status: "starting" | "restarting"): Promise<Child | undefined> {
    const run = this.runStart(entry, status);
    entry.starting = run;
    return run;
  }

  private async runStart(entry: Entry, status: "starting" | "restarting"): Promise<Child | undefined> {
    entry.status = status;
    entry.generation++;
    let result: StartResult;
    try {
      result = await entry.spec.start(this.context);
      entry.starting = undefined;
      if (result !== "ignore" && !isChild(result)) {
        throw new SupervisorError("start_failed", `${this.name}: the start of ${entry.spec.id} returned neither a Child nor "ignore".`);
      }
    } catch (error) {
      entry.starting = undefined;
      entry.status = "stopped";
      entry.failed(error);
      throw error;
    }
    if (result === "ignore") {
      entry.status = "stopped";
      return undefined;
    }
    const child = result;
    entry.child = child;
    if (this.state === "stopping" || this.state === "stopped") {
      // The supervisor began stopping while this child was starting: it must not outlive it.
      await this.terminate(entry);
      entry.status = "stopped";
      throw new SupervisorError("noproc", `${this.name} stopped while ${entry.spec.id} was starting.`);
    }
    entry.status = "running";
    entry.startedAt = now();
    entry.terminating = false;
    child.exited.then((reason) => this.childExited(entry, child, reason));
    return child;
  }

  private childExited(entry: Entry, child: Child, reason: ExitReason): void {
    if (entry.child !== child) return;
    entry.child = undefined;
    const failure = isAbnormal(reason) ? errorOf(reason) : child.exitCause;
    if (failure !== undefined) entry.failed(failure);
    if (entry.terminating) return;
    if (this.state === "starting") {
      entry.status = "stopped";
      entry.exitDuringStart = { reason, failure, generation: entry.generation };
      return;
    }
    this.childExitedWhileRunning(entry, reason, failure, entry.generation);
  }

  private childExitedWhileRunning(entry: Entry, reason: ExitReason, failure: unknown, generation: number): void {
    if (this.state !== "running" || entry.generation !== generation) {
      if (!entry.child) entry.status = "stopped";
      return;
    }
    entry.status = wantsRestart(entry.spec.restart, reason) ? "restarting" : "stopped";
    this.serialized(() => this.handleExit(entry, reason, failure ?? reason, generation)).catch(noop);
  }

  /** `failure`: what the reports and a give-up name as the cause (the error, or the reason itself). */
  private async handleExit(entry: Entry, reason: ExitReason, failure: unknown, generation: number): Promise<void> {
    // Stale: the child was restarted with a sibling, or terminated, since it exited.
    if (this.state !== "running" || this.entries.get(entry.spec.id) !== entry || entry.generation !== generation) return;
    const restart = entry.spec.restart;
    const abnormal = isAbnormal(reason);
    if (restart === "permanent" || abnormal) {
      if (reporting("crash")) report({ event: "crash", supervisor: this.name, path: this.context.path, childId: entry.spec.id, reason, restart });
    }
    if (wantsRestart(restart, reason)) {
      await this.restart(entry, failure);
      return;
    }
    entry.status = "stopped";
    this.forgetIfNotKept(entry);
    if (entry.spec.significant) await this.autoShutdownAfter();
  }

  /** One restart (OTP's restart/2): counted against the intensity, then the strategy's set. */
  private async restart(target: Entry, failure: unknown): Promise<void> {
    if (!this.allowRestart()) {
      await this.giveUp(target, failure);
      return;
    }
    const failed = await this.restartSet(target);
    if (!failed || this.state !== "running") return;
    // Tried again as a new task, so that requests that came meanwhile (a terminateChild that
    // ends the loop, a stop) are served first, and timers and I/O run between attempts.
    const { entry, error } = failed;
    entry.status = "restarting";
    if (reporting("start_error")) report({ event: "start_error", supervisor: this.name, path: this.context.path, childId: entry.spec.id, error });
    const token = ++entry.retryToken;
    later(() => void this.serialized(() => this.retry(entry, token, error)).catch(noop));
  }

  private async retry(entry: Entry, token: number, failure: unknown): Promise<void> {
    if (this.state !== "running" || this.entries.get(entry.spec.id) !== entry) return;
    if (entry.retryToken !== token || entry.status !== "restarting" || entry.child) return;
    await this.restart(entry, failure);
  }

  /** Restarts `target` and, by the strategy, its siblings; the child whose start failed, if one did. */
  private async restartSet(target: Entry): Promise<{ entry: Entry; error: unknown } | undefined> {
    let affected: Entry[];
    if (this.strategy === "one_for_one") {
      affected = [target];
    } else {
      const all = [...this.entries.values()];
      affected = this.strategy === "one_for_all" ? all : all.slice(all.indexOf(target));
      // Stop the siblings that go down with it, latest first.
      for (let i = affected.length - 1; i >= 0; i--) {
        const entry = affected[i]!;
        if (entry !== target && entry.child) await this.terminate(entry);
      }
    }
    for (const entry of affected) {
      if (this.state !== "running") return undefined;
      if (this.entries.get(entry.spec.id) !== entry || entry.child) continue;
      if (entry !== target && entry.spec.restart === "temporary") {
        // A temporary child stopped with its siblings is not brought back (OTP's temporary_bystander).
        this.entries.delete(entry.spec.id);
        continue;
      }
      entry.restarts++;
      try {
        const child = await this.startEntry(entry, "restarting");
        if (!child) this.forgetIfNotKept(entry);
        else if (reporting("restart")) report({ event: "restart", supervisor: this.name, path: this.context.path, childId: entry.spec.id, restarts: entry.restarts });
      } catch (error) {
        return { entry, error };
      }
    }
    return undefined;
  }

  /** Records a restart; false when it would exceed the intensity limit. */
  private allowRestart(): boolean {
    const log = this.restartLog;
    const at = now();
    const windowStart = at - this.maxSeconds * 1000;
    while (this.restartLogHead < log.length && log[this.restartLogHead]! < windowStart) this.restartLogHead++;
    if (this.restartLogHead > 1024 && this.restartLogHead * 2 > log.length) {
      log.splice(0, this.restartLogHead);
      this.restartLogHead = 0;
    }
    log.push(at);
    return log.length - this.restartLogHead <= this.maxRestarts;
  }

  private async giveUp(entry: Entry, failure: unknown): Promise<void> {
    this.giveUpError = new SupervisorError(
      "max_restart_intensity",
      `${this.name} reached its restart intensity (${this.maxRestarts} in ${this.maxSeconds}s); last failure in ${entry.spec.id}: ${messageOf(failure)}`,
      { cause: failure },
    );
    if (reporting("give_up")) report({
      event: "give_up",
      supervisor: this.name,
      path: this.context.path,
      childId: entry.spec.id,
      cause: failure,
      maxRestarts: this.maxRestarts,
      maxSeconds: this.maxSeconds,
    });
    await this.shutdown("shutdown");
  }

  private async autoShutdownAfter(): Promise<void> {
    if (this.autoShutdown === "never") return;
    if (this.autoShutdown === "all_significant") {
      for (const entry of this.entries.values()) {
        if (entry.spec.significant && (entry.child || entry.status === "restarting" || entry.status === "starting")) return;
      }
    }
    await this.shutdown("shutdown");
  }

  // ---------------------------------------------------------------------------------------------
  // Stopping

  /** Stops every child in reverse start order, then the supervisor itself (exit "shutdown"). */
  stop(): void {
    void this.shutdown("shutdown");
  }

  /** Like stop(), awaitable. */
  async close(): Promise<void> {
    await this.shutdown("shutdown");
  }

  /** Kills every child at once, latest first, and exits with "killed" (abnormal, as in OTP). */
  kill(): void {
    if (this.state === "stopped") return;
    for (const entry of [...this.entries.values()].reverse()) {
      entry.terminating = true;
      entry.generation++;
      entry.child?.kill();
    }
    this.state = "stopped";
    this.finish("killed");
  }

  private shutdown(reason: ExitReason): Promise<void> {
    if (this.state === "stopping" || this.state === "stopped") return this.exited.then(noop);
    this.state = "stopping";
    // Not queued behind pending restarts: stopping must win over a restart loop.
    return (async () => {
      await this.terminateAll();
      this.state = "stopped";
      this.finish(reason);
    })();
  }

  protected async terminateAll(): Promise<void> {
    for (const entry of [...this.entries.values()].reverse()) await this.terminate(entry);
  }

  /** @internal Stops one child within its shutdown time, killing it after. */
  protected async terminate(entry: Entry): Promise<void> {
    entry.generation++;
    entry.retryToken++;
    const child = entry.child;
    if (!child) {
      if (entry.status === "restarting") entry.status = "stopped";
      return;
    }
    entry.terminating = true;
    entry.status = "stopping";
    const shutdown = entry.spec.shutdown;
    if (shutdown === "brutal_kill") {
      child.kill();
    } else {
      child.stop();
      if (shutdown !== "infinity") {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timedOut = await Promise.race([
          child.exited.then(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), shutdown))),
        ]);
        clearTimeout(timer);
        if (timedOut) child.kill();
      }
    }
    await child.exited;
    if (entry.child === child) entry.child = undefined;
    entry.status = "stopped";
  }

  private finish(reason: ExitReason): void {
    if (this.exitReason) return;
    this.exitReason = reason;
    if (this.standIn) stopTreeActor(this.standIn);
    this.exit(reason);
  }

  /** The XState actor standing for this supervisor in inspection (only when the tree is inspected). */
  private readonly standIn: AnyActorRef | undefined;

  // ---------------------------------------------------------------------------------------------

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.work.then(task);
    this.work = run.then(noop, noop);
    return run;
  }

  /** A request from outside: refused at once if the supervisor has stopped, and again if it stopped while queued. */
  private request<T>(task: () => Promise<T>): Promise<T> {
    try {
      this.assertAlive();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.serialized(async () => {
      this.assertAlive();
      return task();
    });
  }

  private assertAlive(): void {
    if (this.state === "stopping" || this.state === "stopped") throw new SupervisorError("noproc", `${this.name} is ${this.state}.`);
  }

  inspect(): SupervisorInspection {
    const at = now();
    const windowStart = at - this.maxSeconds * 1000;
    let used = 0;
    for (let i = this.restartLog.length - 1; i >= this.restartLogHead && this.restartLog[i]! >= windowStart; i--) used++;
    return {
      kind: "supervisor",
      name: this.name,
      status: this.state,
      strategy: this.strategy,
      autoShutdown: this.autoShutdown,
      restarts: { used, max: this.maxRestarts, withinSeconds: this.maxSeconds },
      uptimeMs: at - this.startedAt,
      counts: this.countChildren(),
      ...(this.exitReason ? { exit: describeReason(this.exitReason) } : {}),
      ...(this.giveUpError ? { exitCause: this.giveUpError.message } : {}),
      children: [...this.entries.values()].map((entry) => ({
        id: entry.spec.id,
        type: entry.spec.type,
        restart: entry.spec.restart,
        significant: entry.spec.significant,
        status: entry.status,
        restarts: entry.restarts,
        uptimeMs: entry.child ? at - entry.startedAt : 0,
        ...(entry.hasError ? { lastError: describeReason({ error: entry.lastError }) } : {}),
        ...(entry.child ? { actor: entry.child.inspect() } : {}),
      })),
    };
  }
}

function wantsRestart(restart: RestartType, reason: ExitReason): boolean {
  return restart === "permanent" || (restart === "transient" && isAbnormal(reason));
}

function errorOf(reason: "killed" | { error: unknown }): unknown {
  return reason === "killed" ? "killed" : reason.error;
}

function isChild(value: unknown): value is Child {
  const child = value as Partial<Child> | null;
  return (
    typeof child === "object" &&
    child !== null &&
    typeof child.exited?.then === "function" &&
    typeof child.stop === "function" &&
    typeof child.kill === "function"
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function noop(): void {}
