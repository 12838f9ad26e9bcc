// Support for the tests ported from OTP's supervisor_SUITE.erl and Elixir's DynamicSupervisor
// tests: OTP's way of ending a child (its `terminate/4` helper), count_children as the suite
// reads it, and children whose starts the test lets through one at a time (OTP's supervisor_3).

import { afterEach, expect, vi } from "vitest";
import type { ChildSpec, ExitReason, StartContext } from "../../src/supervisor/child.js";
import { Supervisor, type SupervisorOptions } from "../../src/supervisor/supervisor.js";
import { DynamicSupervisor, type DynamicSupervisorOptions } from "../../src/supervisor/dynamic-supervisor.js";
import { type Harness, TestChild, settle, within } from "./helpers.js";

const running: Supervisor[] = [];

export function killSupervisorsAfterEach(): void {
  afterEach(() => {
    vi.restoreAllMocks();
    for (const supervisor of running.splice(0).reverse()) supervisor.kill();
  });
}

export async function startSup(children: ChildSpec[], options: SupervisorOptions = {}): Promise<Supervisor> {
  const supervisor = await Supervisor.start(children, { name: "sup_test", ...options });
  running.push(supervisor);
  return supervisor;
}

export async function startDynamic(options: DynamicSupervisorOptions = {}): Promise<DynamicSupervisor> {
  const supervisor = await DynamicSupervisor.create({ name: "sup_test", ...options });
  running.push(supervisor);
  return supervisor;
}

/** OTP's get_child_counts: [specs, active, supervisors, workers]. */
export function childCounts(supervisor: Supervisor): [number, number, number, number] {
  const { specs, active, supervisors, workers } = supervisor.countChildren();
  return [specs, active, supervisors, workers];
}

/** whichChildren() as [id, state]: "running", "restarting" or "undefined" (not running). */
export function which(supervisor: Supervisor): [string, string][] {
  return supervisor.whichChildren().map(({ id, child }) => [id, child === undefined ? "undefined" : child === "restarting" ? "restarting" : "running"]);
}

export type EndHow = "supervisor" | "kill" | "shutdown" | { shutdown: unknown } | "normal" | "abnormal";

/**
 * OTP's terminate(Sup, Pid, Id, How): ends the current incarnation of `id` that way and lets the
 * supervisor handle the exit.
 */
export async function terminate(supervisor: Supervisor, h: Harness, id: string, how: EndHow): Promise<ExitReason> {
  const child = h.current(id);
  if (how === "supervisor") await supervisor.terminateChild(id);
  else if (how === "kill") child.kill();
  else if (how === "normal") child.finish();
  else if (how === "abnormal") child.crash(new Error("died"));
  else child.end(how);
  const reason = await child.exited;
  await settle();
  return reason;
}

/** OTP's check_exit: the supervisor has exited (with `shutdown` unless said otherwise). */
export async function checkExit(supervisor: Supervisor, expected: ExitReason = "shutdown"): Promise<void> {
  expect(await within(supervisor.exited, 5_000)).toEqual(expected);
}

/** OTP's `error = check_exit([Pid], 1000)`: still running after the exit has been handled. */
export async function checkNoExit(supervisor: Supervisor): Promise<void> {
  await settle(10);
  expect(supervisor.isRunning).toBe(true);
}

/** A start the test answers: ok, ignore, or a failure (OTP's supervisor_3, which asks its caller). */
export interface PendingStart {
  id: string;
  answer(result: "ok" | "ignore" | Error): void;
}

/** Children whose every start waits for the test's answer, in order. */
export class GatedStarts {
  readonly pending: PendingStart[] = [];
  readonly started: TestChild[] = [];
  readonly log: string[] = [];

  spec(id: string, options: Partial<ChildSpec> = {}): ChildSpec {
    let starts = 0;
    return {
      id,
      ...options,
      start: (context: StartContext) =>
        new Promise<TestChild | "ignore">((resolve, reject) => {
          const n = ++starts;
          this.pending.push({
            id,
            answer: (result) => {
              if (result === "ignore") return resolve("ignore");
              if (result instanceof Error) return reject(result);
              const child = new TestChild(id, n, this.log, "obey", context);
              this.started.push(child);
              resolve(child);
            },
          });
        }),
    };
  }

  /** The next start waiting for an answer; it must be of `id`. */
  async next(id: string): Promise<PendingStart> {
    await vi.waitFor(() => expect(this.pending.length).toBeGreaterThan(0), { timeout: 5_000 });
    const start = this.pending.shift()!;
    expect(start.id).toBe(id);
    return start;
  }

  current(id: string): TestChild {
    const child = this.started.filter((c) => c.id === id).at(-1);
    if (!child) throw new Error(`no ${id} started`);
    return child;
  }
}
