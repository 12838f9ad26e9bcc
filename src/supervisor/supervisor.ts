// A supervisor with Erlang/OTP's semantics (see OTP's "Supervisor Behaviour"):
//
// - Children start in order; if one fails to start, the ones already started are stopped in
//   reverse order and the start fails.
// - When a child exits and its restart type asks for it, the strategy decides what restarts:
//   one_for_one the child alone; one_for_all every child (the others are stopped first, in
//   reverse order); rest_for_one the child and those started after it.
// - Restart intensity: more than `maxRestarts` restarts within `maxSeconds` and the supervisor
//   gives up: it stops all children in reverse order and exits abnormally, so that its own
//   supervisor decides (escalation).
// - Stopping stops children in reverse start order, each within its `shutdown` time, after
//   which it is killed.
//
// Children live in a Map, in start order, so adding or removing one costs the same at the
// 10,000th child as at the first.

import {
  type Child,
  type ChildSpec,
  type ExitReason,
  type Inspection,
  type StartContext,
  describeReason,
  exitSignal,
  isAbnormal,
} from "./child.js";
import { actorSpec } from "./actor-child.js";
import type { Inspector, SupervisorInspection } from "./inspection.js";

export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one";

export interface SupervisorOptions {
  strategy?: Strategy;
  /** Restarts allowed within `maxSeconds` (default 3, as in OTP). */
  maxRestarts?: number;
  /** The window of the intensity limit, seconds (default 5). */
  maxSeconds?: number;
  name?: string;
  /** XState inspection, handed to every actor in the tree: a function or an XState Observer. */
  inspect?: Inspector;
  /** Refuse new children beyond this many (dynamic supervisors). */
  maxChildren?: number;
}

export class SupervisorError extends Error {
  constructor(
    readonly code: "already_started" | "not_found" | "max_children" | "not_running" | "start_failed" | "max_restart_intensity",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SupervisorError";
  }
}

type EntryStatus = "starting" | "running" | "restarting" | "stopping" | "stopped";

class Entry {
  child: Child | undefined;
  status: EntryStatus = "starting";
  restarts = 0;
  startedAt = 0;
  lastExit: ExitReason | undefined;
  /** Set while the supervisor itself stops this child, so its exit is not taken for a crash. */
  terminating = false;
  /** An exit that came while the supervisor was still starting its children. */
  exitDuringStart: ExitReason | undefined;

  constructor(readonly spec: ChildSpec) {}

  get restartType() {
    return this.spec.restart ?? "permanent";
  }
}

export class Supervisor implements Child {
  readonly name: string;
  readonly strategy: Strategy;
  readonly maxRestarts: number;
  readonly maxSeconds: number;
  readonly exited: Promise<ExitReason>;
  private readonly exit: (reason: ExitReason) => void;
  /** @internal */
  protected readonly entries = new Map<string, Entry>();
  private readonly restartLog: number[] = [];
  private state: "starting" | "running" | "stopping" | "stopped" = "starting";
  private work: Promise<void> = Promise.resolve();
  private readonly context: StartContext;
  private readonly startedAt = Date.now();
  private exitReason: ExitReason | undefined;

  protected constructor(
    private readonly options: SupervisorOptions,
    parent: StartContext | undefined,
  ) {
    this.name = options.name ?? "supervisor";
    this.strategy = options.strategy ?? "one_for_one";
    this.maxRestarts = options.maxRestarts ?? 3;
    this.maxSeconds = options.maxSeconds ?? 5;
    if (!["one_for_one", "one_for_all", "rest_for_one"].includes(this.strategy)) {
      throw new RangeError(`Unknown strategy ${String(this.strategy)} (one_for_one, one_for_all, rest_for_one).`);
    }
    if (!(this.maxRestarts >= 0) || !(this.maxSeconds > 0)) {
      throw new RangeError("maxRestarts must be >= 0 and maxSeconds > 0.");
    }
    this.context = { path: [...(parent?.path ?? []), this.name], inspect: options.inspect ?? parent?.inspect };
    ({ exited: this.exited, exit: this.exit } = exitSignal());
  }

  /** Starts a supervisor and its children, in order. Rejects (having stopped them) if one fails. */
  static async start(children: ChildSpec[], options: SupervisorOptions = {}, parent?: StartContext): Promise<Supervisor> {
    const supervisor = new Supervisor(options, parent);
    await supervisor.startInitial(children);
    return supervisor;
  }

  /** A child spec that runs any XState actor logic (an application's own state machine). */
  static actor = actorSpec;

  /** A child spec that runs a nested supervisor. */
  static spec(children: ChildSpec[], options: SupervisorOptions & { id?: string; restart?: ChildSpec["restart"] } = {}): ChildSpec {
    return {
      id: options.id ?? options.name ?? "supervisor",
      type: "supervisor",
      restart: options.restart ?? "permanent",
      shutdown: "infinity",
      start: (context) => Supervisor.start(children, options, context),
    };
  }

  protected async startInitial(specs: ChildSpec[]): Promise<void> {
    // All specs are checked before anything starts, as OTP does.
    const ids = new Set<string>();
    for (const spec of specs) {
      if (ids.has(spec.id)) {
        this.state = "stopped";
        this.finish({ error: new SupervisorError("already_started", `Two children of ${this.name} have the id ${spec.id}.`) });
        throw new SupervisorError("already_started", `Two children of ${this.name} have the id ${spec.id}.`);
      }
      ids.add(spec.id);
    }
    for (const spec of specs) {
      const entry = new Entry(spec);
      this.entries.set(spec.id, entry);
      try {
        await this.startEntry(entry);
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
      if (exit !== undefined && !entry.child) setImmediate(() => this.serialized(() => this.handleExit(entry, exit)).catch(noop));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Dynamic children

  /**
   * Adds and starts a child; rejects if the id is taken or the child cannot start. Children
   * start concurrently (a session's start waits for its first connection attempt): the id is
   * reserved at once, so two starts of one id still conflict.
   */
  async startChild(spec: ChildSpec): Promise<Child> {
    this.assertRunning();
    if (this.entries.has(spec.id)) throw new SupervisorError("already_started", `${this.name} already has a child ${spec.id}.`);
    const max = this.options.maxChildren;
    if (max !== undefined && this.entries.size >= max) {
      throw new SupervisorError("max_children", `${this.name} has reached its maxChildren of ${max}.`);
    }
    const entry = new Entry(spec);
    this.entries.set(spec.id, entry);
    try {
      return await this.startEntry(entry);
    } catch (error) {
      if (this.entries.get(spec.id) === entry) this.entries.delete(spec.id);
      if (error instanceof SupervisorError) throw error;
      throw new SupervisorError("start_failed", `${this.name}: child ${spec.id} failed to start: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Stops a child (within its shutdown time) and forgets it. */
  terminateChild(id: string): Promise<void> {
    return this.serialized(async () => {
      const entry = this.entries.get(id);
      if (!entry) throw new SupervisorError("not_found", `${this.name} has no child ${id}.`);
      await this.terminate(entry);
      this.entries.delete(id);
    });
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

  // ---------------------------------------------------------------------------------------------
  // Child exits and restarts

  private async startEntry(entry: Entry): Promise<Child> {
    entry.status = "starting";
    const child = await entry.spec.start(this.context);
    if (this.state === "stopping" || this.state === "stopped") {
      // The supervisor began stopping while this child was starting: it must not outlive it.
      entry.terminating = true;
      entry.child = child;
      await this.terminate(entry);
      throw new SupervisorError("not_running", `${this.name} stopped while ${entry.spec.id} was starting.`);
    }
    entry.child = child;
    entry.status = "running";
    entry.startedAt = Date.now();
    entry.terminating = false;
    child.exited.then((reason) => this.childExited(entry, child, reason));
    return child;
  }

  private childExited(entry: Entry, child: Child, reason: ExitReason): void {
    if (entry.child !== child) return;
    entry.child = undefined;
    entry.lastExit = reason;
    entry.status = "stopped";
    if (entry.terminating) return;
    if (this.state === "starting") {
      entry.exitDuringStart = reason;
      return;
    }
    if (this.state !== "running") return;
    this.serialized(() => this.handleExit(entry, reason)).catch(() => {
      // handleExit ends the supervisor itself on failure; nothing is left to report to.
    });
  }

  private async handleExit(entry: Entry, reason: ExitReason): Promise<void> {
    if (this.state !== "running" || this.entries.get(entry.spec.id) !== entry) return;
    // Already running again: a group restart for a sibling's exit restarted it too.
    if (entry.child) return;
    const type = entry.restartType;
    if (type === "temporary") {
      this.entries.delete(entry.spec.id);
      return;
    }
    // A transient child that ended normally stays listed, not running (as in OTP).
    if (type === "transient" && !isAbnormal(reason)) return;
    let failure: unknown = isAbnormal(reason) ? reason.error : reason;
    // A failed restart is one more restart: the loop ends when one succeeds or intensity runs out.
    for (;;) {
      if (!this.allowRestart()) {
        await this.giveUp(entry, failure);
        return;
      }
      try {
        await this.restartFor(entry);
        return;
      } catch (error) {
        // A stop that came in while restarting ends the loop: nothing starts after it.
        if (this.state !== "running") return;
        failure = error;
      }
    }
  }

  private async restartFor(failed: Entry): Promise<void> {
    const all = [...this.entries.values()];
    const affected =
      this.strategy === "one_for_one" ? [failed] : this.strategy === "one_for_all" ? all : all.slice(all.indexOf(failed));
    // Stop the siblings that go down with it, latest first.
    for (const entry of [...affected].reverse()) {
      if (entry !== failed && entry.child) await this.terminate(entry);
    }
    for (const entry of affected) {
      if (this.state !== "running") return;
      if (this.entries.get(entry.spec.id) !== entry) continue;
      if (entry.child) continue;
      if (entry !== failed && entry.restartType === "temporary") {
        this.entries.delete(entry.spec.id);
        continue;
      }
      entry.status = "restarting";
      entry.restarts++;
      try {
        await this.startEntry(entry);
      } catch (error) {
        entry.status = "stopped";
        entry.lastExit = { error };
        throw error;
      }
    }
  }

  /** Records a restart; false when it would exceed the intensity limit. */
  private allowRestart(): boolean {
    const now = Date.now();
    const windowStart = now - this.maxSeconds * 1000;
    while (this.restartLog.length > 0 && this.restartLog[0]! <= windowStart) this.restartLog.shift();
    this.restartLog.push(now);
    return this.restartLog.length <= this.maxRestarts;
  }

  private async giveUp(entry: Entry, failure: unknown): Promise<void> {
    const error = new SupervisorError(
      "max_restart_intensity",
      `${this.name} reached its restart intensity (${this.maxRestarts} in ${this.maxSeconds}s); last failure in ${entry.spec.id}: ${messageOf(failure)}`,
      { cause: failure },
    );
    await this.shutdown({ error });
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

  kill(): void {
    for (const entry of [...this.entries.values()].reverse()) {
      entry.terminating = true;
      entry.child?.kill();
    }
    this.state = "stopped";
    this.finish("shutdown");
  }

  private shutdown(reason: ExitReason): Promise<void> {
    if (this.state === "stopping" || this.state === "stopped") return this.exited.then(() => undefined);
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

  /** Stops one child within its shutdown time, killing it after. */
  /** @internal */
  protected async terminate(entry: Entry): Promise<void> {
    const child = entry.child;
    if (!child) return;
    entry.terminating = true;
    entry.status = "stopping";
    const shutdown = entry.spec.shutdown ?? (entry.spec.type === "supervisor" ? "infinity" : 5_000);
    if (shutdown === "brutal_kill") {
      child.kill();
    } else {
      child.stop();
      if (shutdown !== "infinity") {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          child.exited.then(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), shutdown))),
        ]);
        clearTimeout(timer);
        if (timedOut) child.kill();
      }
    }
    await child.exited;
    entry.child = undefined;
    entry.status = "stopped";
  }

  private finish(reason: ExitReason): void {
    if (this.exitReason) return;
    this.exitReason = reason;
    this.exit(reason);
  }

  // ---------------------------------------------------------------------------------------------

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.work.then(task);
    this.work = run.then(noop, noop);
    return run;
  }

  private assertRunning(): void {
    if (this.state !== "running") throw new SupervisorError("not_running", `${this.name} is ${this.state}.`);
  }

  inspect(): SupervisorInspection {
    const now = Date.now();
    const windowStart = now - this.maxSeconds * 1000;
    return {
      kind: "supervisor",
      name: this.name,
      status: this.state,
      strategy: this.strategy,
      restarts: { used: this.restartLog.filter((t) => t > windowStart).length, max: this.maxRestarts, withinSeconds: this.maxSeconds },
      uptimeMs: now - this.startedAt,
      ...(this.exitReason ? { exit: describeReason(this.exitReason) } : {}),
      children: [...this.entries.values()].map((entry) => ({
        id: entry.spec.id,
        type: entry.spec.type ?? "worker",
        restart: entry.restartType,
        status: entry.status,
        restarts: entry.restarts,
        uptimeMs: entry.child ? now - entry.startedAt : 0,
        ...(entry.lastExit && isAbnormal(entry.lastExit) ? { lastError: describeReason(entry.lastExit) } : {}),
        ...(entry.child ? { actor: entry.child.inspect() } : {}),
      })),
    };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function noop(): void {}
