// Ported from OTP's own supervisor tests (erlang/otp lib/stdlib/test/supervisor_SUITE.erl, with
// its helper children supervisor_1 ... supervisor_4 and supervisor_deadlock). Each test is named
// after the case it comes from; OTP's timings are scaled down (seconds to tens of ms), and no
// assertion is made on wall-clock time. The cases that do not apply here are listed, with the
// reason, in the README ("Supervision: conformance").
//
// Where the suite says which_children, the order here is start order (OTP lists newest first);
// where it says simple_one_for_one, the DynamicSupervisor stands in, with Elixir's count of specs
// (one per child) instead of OTP's constant 1.

import { describe, expect, it, vi } from "vitest";
import type { ChildSpec } from "../../src/supervisor/child.js";
import { Supervisor, SupervisorError } from "../../src/supervisor/supervisor.js";
import { DynamicSupervisor } from "../../src/supervisor/dynamic-supervisor.js";
import { Registry } from "../../src/supervisor/registry.js";
import { type SupervisorReport, observeSupervisorReports } from "../../src/supervisor/reports.js";
import { Harness, settle, sleep } from "./helpers.js";
import {
  GatedStarts,
  checkExit,
  checkNoExit,
  childCounts,
  killSupervisorsAfterEach,
  startDynamic,
  startSup,
  terminate,
  which,
} from "./otp-support.js";

killSupervisorsAfterEach();

/** supervisor_1:start_child(error): the first start works, every later one fails. */
const errorAfterFirst = () => (n: number) => (n > 1 ? new Error("start error") : undefined);
/** supervisor_1:start_child(ignore): the first start returns ignore, later ones work. */
const ignoreFirst = (n: number) => n === 1;

describe("sup_start", () => {
  it("sup_start_normal", async () => {
    const sup = await startSup([], { strategy: "one_for_one", maxRestarts: 2, maxSeconds: 3600 });
    expect(sup.isRunning).toBe(true);
    await sup.close();
    await checkExit(sup);
  });

  it("sup_start_ignore_child", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    expect(await sup.startChild(h.spec("child1", { ignoreStart: ignoreFirst }))).toBeUndefined();
    const child2 = await sup.startChild(h.spec("child2"));
    expect(child2).toBe(h.current("child2"));
    expect(which(sup)).toEqual([
      ["child1", "undefined"],
      ["child2", "running"],
    ]);
    expect(childCounts(sup)).toEqual([2, 1, 0, 2]);
  });

  it("sup_start_ignore_temporary_child", async () => {
    const h = new Harness();
    const sup = await startSup([h.spec("child1", { restart: "temporary", ignoreStart: ignoreFirst }), h.spec("child2", { restart: "temporary" })], {
      maxRestarts: 2,
      maxSeconds: 3600,
    });
    expect(which(sup)).toEqual([["child2", "running"]]);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
  });

  it("sup_start_ignore_temporary_child_start_child", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    expect(await sup.startChild(h.spec("child1", { restart: "temporary", ignoreStart: ignoreFirst }))).toBeUndefined();
    await sup.startChild(h.spec("child2", { restart: "temporary" }));
    expect(which(sup)).toEqual([["child2", "running"]]);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
  });

  it("sup_start_ignore_temporary_child_start_child_simple", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    expect(await sup.startChild(h.spec("c1", { restart: "temporary", ignoreStart: () => true }))).toBeUndefined();
    await sup.startChild(h.spec("c2", { restart: "temporary" }));
    expect(which(sup)).toEqual([["c2", "running"]]);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
  });

  it("sup_start_ignore_permanent_child_start_child_simple", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    expect(await sup.startChild(h.spec("c1", { ignoreStart: () => true }))).toBeUndefined();
    await sup.startChild(h.spec("c2"));
    expect(which(sup)).toEqual([["c2", "running"]]);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
    // Regression test in OTP: the supervisor still stops cleanly.
    sup.stop();
    await checkExit(sup);
  });

  it("sup_start_child_returns_error", async () => {
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    const reason = new Error("reason");
    const failing: ChildSpec = { id: "child1", start: () => Promise.reject(reason) };
    const throwing: ChildSpec = {
      id: "child2",
      start: () => {
        throw "error_reason";
      },
    };
    await expect(sup.startChild(failing)).rejects.toMatchObject({ code: "start_failed", cause: reason });
    await expect(sup.startChild(throwing)).rejects.toMatchObject({ code: "start_failed", cause: "error_reason" });
    expect(sup.whichChildren()).toEqual([]);
  });

  it("sup_start_restart_child_returns_error", async () => {
    const h = new Harness();
    const sup = await startSup([h.spec("child1", { failStart: errorAfterFirst() })], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.terminateChild("child1");
    await expect(sup.restartChild("child1")).rejects.toMatchObject({ code: "start_failed" });
    expect(which(sup)).toEqual([["child1", "undefined"]]);
  });

  it("sup_start_child_returns_error_simple", async () => {
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    await expect(sup.startChild({ id: "a", start: () => Promise.reject(new Error("reason")) })).rejects.toMatchObject({ code: "start_failed" });
    await expect(sup.startChild({ id: "b", start: () => Promise.reject("error_reason") })).rejects.toMatchObject({ code: "start_failed" });
    expect(sup.whichChildren()).toEqual([]);
  });
});

describe("sup_start_map", () => {
  it("sup_start_map", async () => {
    const h = new Harness();
    const sup = await startSup([h.spec("child1"), h.spec("child2", { shutdown: "brutal_kill" }), h.spec("child3", { type: "supervisor" })]);
    expect(sup.getChildSpec("child1")).toMatchObject({ id: "child1", restart: "permanent", shutdown: 5_000, type: "worker", significant: false });
    expect(sup.getChildSpec("child2")).toMatchObject({ id: "child2", restart: "permanent", shutdown: "brutal_kill", type: "worker" });
    expect(sup.getChildSpec("child3")).toMatchObject({ id: "child3", restart: "permanent", shutdown: "infinity", type: "supervisor" });
    expect(typeof sup.getChildSpec("child1")!.start).toBe("function");
    expect(sup.getChildSpec("child4")).toBeUndefined();
    await sup.close();
  });

  it("sup_start_map_simple", async () => {
    const h = new Harness();
    const sup = await startDynamic();
    for (const id of ["c1", "c2", "c3"]) await sup.startChild(h.spec(id, { restart: "temporary" }));
    for (const id of ["c1", "c2", "c3"]) {
      expect(sup.getChildSpec(id)).toMatchObject({ id, restart: "temporary", type: "worker", shutdown: 5_000, significant: false });
    }
    expect(sup.getChildSpec("nobody")).toBeUndefined();
    await sup.close();
  });

  it("sup_start_map_faulty_specs", async () => {
    const start = () => new Harness().spec("x").start;
    await expect(startSup([{ start: start() } as never])).rejects.toMatchObject({ code: "invalid_child_spec", problem: "missing_id" });
    await expect(startSup([{ id: "child2" } as never])).rejects.toMatchObject({ code: "invalid_child_spec", problem: "missing_start" });
    // Unknown keys are ignored, as in OTP.
    const sup = await startSup([{ id: "child3", start: start(), silly_flag: true } as ChildSpec]);
    await sup.close();
    await expect(startSup(["child4" as never])).rejects.toMatchObject({ code: "invalid_child_spec", problem: "not_a_child_spec" });
  });
});

describe("sup_stop", () => {
  it("sup_stop_infinity", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1", { shutdown: "infinity", type: "supervisor" }));
    await sup.startChild(h.spec("child2", { shutdown: "infinity" }));
    await sup.close();
    await checkExit(sup);
    expect(h.current("child1").ended).toBe("shutdown");
    expect(h.current("child2").ended).toBe("shutdown");
  });

  it("sup_stop_timeout", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1", { shutdown: 10 }));
    // child2 is busy ("sleep") and does not answer the stop request.
    await sup.startChild(h.spec("child2", { shutdown: 10, stopMode: "ignore" }));
    await sup.close();
    expect(h.current("child1").ended).toBe("shutdown");
    expect(h.current("child2").ended).toBe("killed");
  });

  it("sup_stop_timeout_dynamic", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("c1", { restart: "temporary", shutdown: 10 }));
    await sup.startChild(h.spec("c2", { restart: "temporary", shutdown: 10, stopMode: "ignore" }));
    await sup.close();
    await checkExit(sup);
    expect(h.current("c1").ended).toBe("shutdown");
    expect(h.current("c2").ended).toBe("killed");
  });

  it("sup_stop_brutal_kill", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1", { shutdown: 1000 }));
    await sup.startChild(h.spec("child2", { shutdown: "brutal_kill" }));
    await sup.close();
    expect(h.current("child1").ended).toBe("shutdown");
    expect(h.current("child2").ended).toBe("killed");
  });

  it("sup_stop_brutal_kill_dynamic", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    for (let i = 1; i <= 10; i++) await sup.startChild(h.spec(`c${i}`, { restart: "temporary", shutdown: "brutal_kill" }));
    await sup.close();
    await checkExit(sup);
    for (let i = 1; i <= 10; i++) expect(h.current(`c${i}`).ended).toBe("killed");
  });

  it("sup_stop_race", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child_a", { restart: "temporary", shutdown: 1000 }));
    const reasons = ["normal", "shutdown", { shutdown: "test" }, { error: "other" }] as const;
    const racers: string[] = [];
    for (const restart of ["temporary", "transient", "permanent"] as const) {
      for (const [i, reason] of reasons.entries()) {
        const id = `${restart}-${i}`;
        racers.push(id);
        // supervisor_4: asked to stop, it exits with its own reason.
        await sup.startChild(h.spec(id, { restart, shutdown: 1000, stopReason: reason }));
      }
    }
    // supervisor_2: takes a while to stop, so that the racers end during the shutdown.
    await sup.startChild(h.spec("child_z", { restart: "temporary", shutdown: 2000, stopDelay: 30 }));
    const closing = sup.close();
    await sleep(5);
    for (const id of racers) h.current(id).end(reasons[Number(id.split("-")[1])]!);
    await closing;
    await checkExit(sup);
    expect(h.current("child_z").ended).toBe("shutdown");
    for (const id of racers) expect(h.current(id).ended).toEqual(reasons[Number(id.split("-")[1])]);
    expect(h.current("child_a").ended).toBe("shutdown");
    // Nothing was restarted while stopping.
    for (const id of racers) expect(h.startCount(id)).toBe(1);
  });

  it("sup_stop_non_shutdown_exit_dynamic", async () => {
    for (const restart of ["temporary", "transient", "permanent"] as const) {
      const h = new Harness();
      const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
      const reasons = ["normal", "shutdown", { shutdown: "test" }, { error: "other" }] as const;
      for (const [i, stopReason] of reasons.entries()) await sup.startChild(h.spec(`c${i}`, { restart, shutdown: 5000, stopReason }));
      await sup.close();
      await checkExit(sup);
      for (const [i, reason] of reasons.entries()) expect(h.current(`c${i}`).ended).toEqual(reason);
    }
  });
});

describe("child administration", () => {
  it("extra_return", async () => {
    // OTP's {ok, Pid, Info}: here the start returns the child itself, and any extra information
    // lives on it. The rest of the case: the errors of the administration calls.
    const h = new Harness();
    const sup = await startSup([h.spec("child1")], { maxRestarts: 2, maxSeconds: 3600 });
    await expect(sup.terminateChild("hej")).rejects.toMatchObject({ code: "not_found" });
    await expect(sup.deleteChild("hej")).rejects.toMatchObject({ code: "not_found" });
    await expect(sup.restartChild("hej")).rejects.toMatchObject({ code: "not_found" });
    await expect(sup.deleteChild("child1")).rejects.toMatchObject({ code: "running" });
    await expect(sup.restartChild("child1")).rejects.toMatchObject({ code: "running" });
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);

    const first = h.current("child1");
    await sup.terminateChild("child1");
    expect(first.ended).toBe("shutdown");
    expect(which(sup)).toEqual([["child1", "undefined"]]);
    expect(childCounts(sup)).toEqual([1, 0, 0, 1]);

    expect(await sup.restartChild("child1")).toBe(h.current("child1"));
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);

    await sup.terminateChild("child1");
    await sup.terminateChild("child1");
    await sup.deleteChild("child1");
    await expect(sup.restartChild("child1")).rejects.toMatchObject({ code: "not_found" });
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);

    await sup.startChild(h.spec("child1"));
    const third = h.current("child1");
    // It is restarted automatically.
    await terminate(sup, h, "child1", "abnormal");
    expect(h.current("child1")).not.toBe(third);
    expect(sup.child("child1")).toBe(h.current("child1"));
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
  });

  it("child_adm", async () => {
    const h = new Harness();
    const spec = h.spec("child1");
    const sup = await startSup([spec], { maxRestarts: 2, maxSeconds: 3600 });
    expect(which(sup)).toEqual([["child1", "running"]]);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
    const cpid = h.current("child1");
    await expect(sup.startChild(spec)).rejects.toMatchObject({ code: "already_started" });

    // Termination
    await expect(sup.terminateChild("hej")).rejects.toMatchObject({ code: "not_found" });
    await sup.terminateChild("child1");
    expect(cpid.ended).toBe("shutdown");
    expect(which(sup)).toEqual([["child1", "undefined"]]);
    expect(childCounts(sup)).toEqual([1, 0, 0, 1]);
    // Like deleting something that does not exist, it succeeds.
    await sup.terminateChild("child1");

    // Start of an existing but not running child.
    await expect(sup.startChild(spec)).rejects.toMatchObject({ code: "already_present" });

    // Restart
    const cpid2 = await sup.restartChild("child1");
    expect(cpid2).toBe(h.current("child1"));
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
    await expect(sup.restartChild("child1")).rejects.toMatchObject({ code: "running" });
    await expect(sup.restartChild("child2")).rejects.toMatchObject({ code: "not_found" });

    // Deletion
    await expect(sup.deleteChild("child1")).rejects.toMatchObject({ code: "running" });
    await expect(sup.deleteChild("hej")).rejects.toMatchObject({ code: "not_found" });
    await sup.terminateChild("child1");
    await sup.deleteChild("child1");
    await expect(sup.restartChild("child1")).rejects.toMatchObject({ code: "not_found" });
    expect(sup.whichChildren()).toEqual([]);
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);

    // Start
    await sup.startChild(spec);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);

    // A supervisor that is not there: OTP's noproc.
    const gone = await startSup([]);
    await gone.close();
    await expect(gone.terminateChild("child1")).rejects.toMatchObject({ code: "noproc" });
    await expect(gone.deleteChild("child1")).rejects.toMatchObject({ code: "noproc" });
    await expect(gone.restartChild("child1")).rejects.toMatchObject({ code: "noproc" });
    await expect(gone.startChild(h.spec("other"))).rejects.toMatchObject({ code: "noproc" });
  });

  it("child_adm_simple", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    // All children are added dynamically.
    expect(sup.whichChildren()).toEqual([]);
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);
    await sup.startChild(h.spec("c1"));
    expect(which(sup)).toEqual([["c1", "running"]]);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
    await sup.startChild(h.spec("c2"));
    expect(which(sup)).toEqual([
      ["c1", "running"],
      ["c2", "running"],
    ]);
    expect(childCounts(sup)).toEqual([2, 2, 0, 2]);

    // Termination forgets the child.
    const c1 = h.current("c1");
    await sup.terminateChild("c1");
    expect(which(sup)).toEqual([["c2", "running"]]);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
    expect(c1.alive).toBe(false);
    // A child that is not (or no longer) there.
    await expect(sup.terminateChild("c1")).rejects.toMatchObject({ code: "not_found" });
    await expect(sup.terminateChild("stranger")).rejects.toMatchObject({ code: "not_found" });
    // Restart and delete have nothing to act on: a dynamic supervisor keeps no stopped child.
    await expect(sup.restartChild("c1")).rejects.toMatchObject({ code: "not_found" });
    await expect(sup.deleteChild("c1")).rejects.toMatchObject({ code: "not_found" });
  });

  it("child_specs", async () => {
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await expect(sup.startChild("hej" as never)).rejects.toMatchObject({ code: "invalid_child_spec" });
    const start = new Harness().spec("x").start;
    // TypeScript already refuses these at compile time; the checks are for JavaScript callers.
    const bad: [Record<string, unknown>, string][] = [
      [{ id: "child", start: "mfa" }, "missing_start"],
      [{ id: "child", start, restart: "prmanent" }, "invalid_restart_type"],
      [{ id: "child", start, shutdown: -10 }, "invalid_shutdown"],
      [{ id: "child", start, type: "wrker" }, "invalid_child_type"],
    ];
    for (const [spec, problem] of bad) {
      await expect(sup.startChild(spec as unknown as ChildSpec)).rejects.toMatchObject({ code: "invalid_child_spec", problem });
    }
    expect(sup.whichChildren()).toEqual([]);
    for (const restart of ["permanent", "transient", "temporary"] as const) {
      for (const shutdown of [0, 1000, "infinity", "brutal_kill"] as const) {
        for (const type of ["supervisor", "worker"] as const) {
          const child = await sup.startChild({ id: "child", start, restart, shutdown, type });
          expect(child).toBeDefined();
          await sup.terminateChild("child");
          if (restart !== "temporary") await sup.deleteChild("child");
        }
      }
    }
    const c1 = { id: "child", start, shutdown: "infinity", type: "supervisor" } as const;
    const c2 = { id: "child", start, shutdown: 1000, type: "supervisor" } as const;
    await sup.close();
    await expect(startSup([c1, c2])).rejects.toMatchObject({ code: "invalid_child_spec", problem: "duplicate_child_name" });
    // Faulty child specs in a supervisor's start.
    await expect(startSup([{ id: "child", start: "mfa" } as never])).rejects.toMatchObject({ problem: "missing_start" });
    await expect(DynamicSupervisor.start([{ id: "child", start, restart: "prmanent" } as never])).rejects.toMatchObject({
      problem: "invalid_restart_type",
    });
  });

  it("child_specs_map", async () => {
    const sup = await startSup([]);
    const start = new Harness().spec("x").start;
    const cs0 = { id: "child", start };
    const bad: [unknown, string][] = [
      [{}, "missing_id"],
      [{ id: "child" }, "missing_start"],
      [{ start }, "missing_id"],
      [{ ...cs0, start: "mfa" }, "missing_start"],
      [{ ...cs0, restart: "prmanent" }, "invalid_restart_type"],
      [{ ...cs0, shutdown: -10 }, "invalid_shutdown"],
      [{ ...cs0, type: "wrker" }, "invalid_child_type"],
      [{ ...cs0, significant: "maybe" }, "invalid_significant"],
    ];
    for (const [spec, problem] of bad) await expect(sup.startChild(spec as ChildSpec)).rejects.toMatchObject({ problem });
    await sup.close();

    // Every combination: significant needs a non-permanent child under a supervisor that has autoShutdown.
    for (const autoShutdown of [undefined, "never", "any_significant", "all_significant"] as const) {
      for (const restart of [undefined, "permanent", "transient", "temporary"] as const) {
        for (const shutdown of [undefined, 0, 1000, "infinity", "brutal_kill"] as const) {
          for (const type of [undefined, "supervisor", "worker"] as const) {
            for (const significant of [undefined, true, false]) {
              const spec: ChildSpec = { ...cs0, ...(restart && { restart }), ...(shutdown !== undefined && { shutdown }), ...(type && { type }), ...(significant !== undefined && { significant }) };
              const outcome = startSup([spec], autoShutdown ? { autoShutdown } : {});
              const refused = significant === true && (autoShutdown === undefined || autoShutdown === "never" || restart === undefined || restart === "permanent");
              if (refused) await expect(outcome).rejects.toMatchObject({ code: "invalid_child_spec", problem: "bad_combination" });
              else (await outcome).kill();
            }
          }
        }
      }
    }
    await expect(startSup([cs0, cs0])).rejects.toMatchObject({ problem: "duplicate_child_name" });
    await expect(startSup([{ ...cs0, significant: true, restart: "transient" }], { autoShutdown: "never" })).rejects.toMatchObject({
      problem: "bad_combination",
    });
  });

  it("sup_flags", async () => {
    await expect(startSup([], { strategy: "none_for_one" as never })).rejects.toMatchObject({ code: "invalid_options", problem: "invalid_strategy" });
    await expect(startSup([], { maxRestarts: Infinity })).rejects.toMatchObject({ code: "invalid_options", problem: "invalid_intensity" });
    await expect(startSup([], { maxSeconds: 0 })).rejects.toMatchObject({ code: "invalid_options", problem: "invalid_period" });
    await expect(startSup([], { maxSeconds: Infinity })).rejects.toMatchObject({ code: "invalid_options", problem: "invalid_period" });
    await expect(startSup([], { autoShutdown: "sometimes" as never })).rejects.toMatchObject({ code: "invalid_options", problem: "invalid_auto_shutdown" });
    // Unexpected flags are ignored.
    const sup = await startSup([], { silly_flag: true } as never);
    await sup.close();
  });
});

describe("normal_termination", () => {
  it("external_start_no_progress_log", async () => {
    // A child started with startChild is no restart: no report is made for it.
    const reports: SupervisorReport[] = [];
    observeSupervisorReports((report) => reports.push(report));
    try {
      const h = new Harness();
      const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
      await sup.startChild(h.spec("child1"));
      expect(reports).toEqual([]);
    } finally {
      observeSupervisorReports(undefined);
    }
  });

  it("permanent_normal", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1"));
    await terminate(sup, h, "child1", "normal");
    expect(which(sup)).toEqual([["child1", "running"]]);
    expect(h.startCount("child1")).toBe(2);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
  });

  it("transient_normal", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1", { restart: "transient" }));
    await terminate(sup, h, "child1", "normal");
    expect(which(sup)).toEqual([["child1", "undefined"]]);
    expect(childCounts(sup)).toEqual([1, 0, 0, 1]);
  });

  it("temporary_normal", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1", { restart: "temporary" }));
    await terminate(sup, h, "child1", "normal");
    expect(sup.whichChildren()).toEqual([]);
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);
  });
});

describe("shutdown_termination", () => {
  it("permanent_shutdown", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1"));
    await terminate(sup, h, "child1", "shutdown");
    expect(which(sup)).toEqual([["child1", "running"]]);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
    await terminate(sup, h, "child1", { shutdown: "some_info" });
    expect(which(sup)).toEqual([["child1", "running"]]);
    expect(h.startCount("child1")).toBe(3);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
  });

  it("transient_shutdown", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1", { restart: "transient" }));
    await terminate(sup, h, "child1", "shutdown");
    expect(which(sup)).toEqual([["child1", "undefined"]]);
    expect(childCounts(sup)).toEqual([1, 0, 0, 1]);
    await sup.restartChild("child1");
    await terminate(sup, h, "child1", { shutdown: "some_info" });
    expect(which(sup)).toEqual([["child1", "undefined"]]);
    expect(childCounts(sup)).toEqual([1, 0, 0, 1]);
  });

  it("temporary_shutdown", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    const spec = h.spec("child1", { restart: "temporary" });
    await sup.startChild(spec);
    await terminate(sup, h, "child1", "shutdown");
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);
    await sup.startChild(spec);
    await terminate(sup, h, "child1", { shutdown: "some_info" });
    expect(sup.whichChildren()).toEqual([]);
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);
  });
});

describe("abnormal_termination", () => {
  it("permanent_abnormal", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1"));
    await terminate(sup, h, "child1", "abnormal");
    expect(which(sup)).toEqual([["child1", "running"]]);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
  });

  it("transient_abnormal", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1", { restart: "transient" }));
    await terminate(sup, h, "child1", "abnormal");
    expect(which(sup)).toEqual([["child1", "running"]]);
    expect(h.startCount("child1")).toBe(2);
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
  });

  it("temporary_abnormal", async () => {
    const h = new Harness();
    const sup = await startSup([], { maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1", { restart: "temporary" }));
    await terminate(sup, h, "child1", "abnormal");
    expect(sup.whichChildren()).toEqual([]);
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);
  });
});

it("temporary_bystander", async () => {
  const h1 = new Harness();
  const h2 = new Harness();
  const sup1 = await startSup([], { strategy: "one_for_all", maxRestarts: 2, maxSeconds: 300 });
  const sup2 = await startSup([], { strategy: "rest_for_one", maxRestarts: 2, maxSeconds: 300 });
  for (const [sup, h] of [[sup1, h1], [sup2, h2]] as const) {
    await sup.startChild(h.spec("child1", { shutdown: 100 }));
    await sup.startChild(h.spec("child2", { restart: "temporary", shutdown: 100 }));
  }
  await terminate(sup1, h1, "child1", "normal");
  await terminate(sup2, h2, "child1", "normal");
  await settle(10);
  // The supervisors would die attempting to restart child2, had they kept it.
  expect(sup1.isRunning && sup2.isRunning).toBe(true);
  expect(which(sup1)).toEqual([["child1", "running"]]);
  expect(which(sup2)).toEqual([["child1", "running"]]);
  expect(h1.startCount("child2") + h2.startCount("child2")).toBe(2);
});

it("multiple_restarts", async () => {
  // Intensity 1 within 1 s; crashes spaced by more than the period never exceed it.
  let at = performance.now();
  vi.spyOn(performance, "now").mockImplementation(() => at);
  const h = new Harness();
  const sup = await startSup([], { strategy: "one_for_one", maxRestarts: 1, maxSeconds: 1 });
  await sup.startChild(h.spec("child1", { shutdown: "brutal_kill" }));
  await terminate(sup, h, "child1", "abnormal");
  for (let i = 0; i < 3; i++) {
    at += 2_100;
    await terminate(sup, h, "child1", "abnormal");
  }
  expect(sup.isRunning).toBe(true);
  await sup.terminateChild("child1");
  await sup.deleteChild("child1");
});

describe("restart_one_for_one", () => {
  it("one_for_one", async () => {
    const h = new Harness();
    const sup = await startSup([], { strategy: "one_for_one", maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1"));
    await sup.startChild(h.spec("child2"));
    const child2 = h.current("child2");
    await terminate(sup, h, "child1", "abnormal");
    expect(sup.child("child2")).toBe(child2);
    expect(childCounts(sup)).toEqual([2, 2, 0, 2]);
    // The restart frequency: the third restart within the period is one too many.
    await terminate(sup, h, "child2", "abnormal");
    await terminate(sup, h, "child1", "abnormal");
    await checkExit(sup);
  });

  it("one_for_one_escalation", async () => {
    const h = new Harness();
    const sup = await startSup([], { strategy: "one_for_one", maxRestarts: 4, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1", { failStart: errorAfterFirst() }));
    await sup.startChild(h.spec("child2"));
    h.current("child1").crash(new Error("died"));
    await checkExit(sup);
    expect(h.current("child2").ended).toBe("shutdown");
    expect(sup.exitCause?.code).toBe("max_restart_intensity");
  });
});

describe("restart_one_for_all", () => {
  it("one_for_all", async () => {
    const h = new Harness();
    const sup = await startSup([], { strategy: "one_for_all", maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1"));
    await sup.startChild(h.spec("child2"));
    const [old1, old2] = [h.current("child1"), h.current("child2")];
    await terminate(sup, h, "child1", "abnormal");
    expect(old2.ended).toBe("shutdown");
    const children = sup.whichChildren().map((c) => c.child);
    expect(children).toHaveLength(2);
    expect(children).not.toContain(old1);
    expect(children).not.toContain(old2);
    expect(childCounts(sup)).toEqual([2, 2, 0, 2]);
    await terminate(sup, h, "child1", "abnormal");
    await terminate(sup, h, "child1", "abnormal");
    await checkExit(sup);
  });

  it("one_for_all_escalation", async () => {
    const h = new Harness();
    const sup = await startSup([], { strategy: "one_for_all", maxRestarts: 4, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1"));
    await sup.startChild(h.spec("child2", { failStart: errorAfterFirst() }));
    const child2 = h.current("child2");
    h.current("child1").crash(new Error("died"));
    await checkExit(sup);
    expect(child2.ended).toBe("shutdown");
  });

  it("one_for_all_other_child_fails_restart", async () => {
    const g = new GatedStarts();
    const starting = startSup([g.spec("child1"), g.spec("child2")], { strategy: "one_for_all", maxRestarts: 3, maxSeconds: 3600 });
    (await g.next("child1")).answer("ok");
    (await g.next("child2")).answer("ok");
    const sup = await starting;
    g.current("child1").crash(new Error("die"));
    // Let child1 restart, but not child2.
    (await g.next("child1")).answer("ok");
    const child1Again = g.current("child1");
    (await g.next("child2")).answer(new Error("normal"));
    // The child1 started by the failed attempt is terminated with the group...
    await vi.waitFor(() => expect(child1Again.ended).toBe("shutdown"));
    // ...and the restart completes on the next attempt.
    (await g.next("child1")).answer("ok");
    (await g.next("child2")).answer("ok");
    await vi.waitFor(() => expect(which(sup)).toEqual([["child1", "running"], ["child2", "running"]]));
    expect(g.current("child1")).not.toBe(child1Again);
    expect(sup.isRunning).toBe(true);
  });
});

describe("restart_simple_one_for_one", () => {
  it("simple_one_for_one", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("c1"));
    await sup.startChild(h.spec("c2"));
    const c2 = h.current("c2");
    await terminate(sup, h, "c1", "abnormal");
    expect(sup.child("c2")).toBe(c2);
    expect(childCounts(sup)).toEqual([2, 2, 0, 2]);
    await terminate(sup, h, "c2", "abnormal");
    await terminate(sup, h, "c1", "abnormal");
    await checkExit(sup, "shutdown");
  });

  it("simple_one_for_one_shutdown", async () => {
    // Children that take their time to stop are waited for (within their shutdown time); one
    // that takes longer than that is killed.
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    await sup.startChild(h.spec("c1", { shutdown: 40, stopDelay: 10 }));
    await sup.startChild(h.spec("c2", { shutdown: 40, stopDelay: 10 }));
    await sup.startChild(h.spec("c3", { shutdown: 40, stopDelay: 500 }));
    await sup.close();
    await checkExit(sup);
    expect([h.current("c1").ended, h.current("c2").ended, h.current("c3").ended]).toEqual(["shutdown", "shutdown", "killed"]);
    expect(h.current("c3").killCalls).toBe(1);
  });

  it("simple_one_for_one_escalation", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 4, maxSeconds: 3600 });
    await sup.startChild(h.spec("c1", { failStart: errorAfterFirst() }));
    await sup.startChild(h.spec("c2"));
    h.current("c1").crash(new Error("died"));
    await checkExit(sup);
    expect(h.current("c2").ended).toBe("shutdown");
  });

  it("simple_one_for_one_restart_ignore", async () => {
    for (const restart of ["transient", "permanent"] as const) {
      const g = new GatedStarts();
      const sup = await startDynamic({ maxRestarts: 10, maxSeconds: 3600 });
      const started = sup.startChild(g.spec("child1", { restart }));
      (await g.next("child1")).answer("ok");
      const first = await started;
      expect(which(sup)).toEqual([["child1", "running"]]);
      first!.kill();
      (await g.next("child1")).answer("ok");
      await vi.waitFor(() => expect(which(sup)).toEqual([["child1", "running"]]));
      g.current("child1").kill();
      // The restart returns ignore: the child is gone.
      (await g.next("child1")).answer("ignore");
      await vi.waitFor(() => expect(sup.whichChildren()).toEqual([]));
      await sup.close();
      await checkExit(sup);
    }
  });
});

describe("restart_rest_for_one", () => {
  it("rest_for_one", async () => {
    const h = new Harness();
    const sup = await startSup([], { strategy: "rest_for_one", maxRestarts: 2, maxSeconds: 3600 });
    for (const id of ["child1", "child2", "child3"]) await sup.startChild(h.spec(id));
    expect(childCounts(sup)).toEqual([3, 3, 0, 3]);
    const [c1, c2, c3] = [h.current("child1"), h.current("child2"), h.current("child3")];
    await terminate(sup, h, "child2", "abnormal");
    expect(c3.ended).toBe("shutdown");
    const pids = sup.whichChildren().map((c) => c.child);
    expect(pids).toHaveLength(3);
    expect(pids).toContain(c1);
    expect(pids).not.toContain(c2);
    expect(pids).not.toContain(c3);
    expect(childCounts(sup)).toEqual([3, 3, 0, 3]);
    await terminate(sup, h, "child3", "abnormal");
    await terminate(sup, h, "child2", "abnormal");
    await checkExit(sup);
  });

  it("rest_for_one_escalation", async () => {
    const h = new Harness();
    const sup = await startSup([], { strategy: "rest_for_one", maxRestarts: 4, maxSeconds: 3600 });
    await sup.startChild(h.spec("child1"));
    await sup.startChild(h.spec("child2", { failStart: errorAfterFirst() }));
    const child2 = h.current("child2");
    h.current("child1").crash(new Error("died"));
    await checkExit(sup);
    expect(child2.ended).toBe("shutdown");
  });

  it("rest_for_one_other_child_fails_restart", async () => {
    const g = new GatedStarts();
    const starting = startSup([g.spec("child1"), g.spec("child2")], { strategy: "rest_for_one", maxRestarts: 3, maxSeconds: 3600 });
    (await g.next("child1")).answer("ok");
    (await g.next("child2")).answer("ok");
    const sup = await starting;
    g.current("child1").crash(new Error("die"));
    (await g.next("child1")).answer("ok");
    const child1Again = g.current("child1");
    (await g.next("child2")).answer(new Error("normal"));
    // The retry starts from child2, the child whose start failed: child1 is left alone.
    (await g.next("child2")).answer("ok");
    await vi.waitFor(() => expect(which(sup)).toEqual([["child1", "running"], ["child2", "running"]]));
    expect(g.current("child1")).toBe(child1Again);
    expect(child1Again.alive).toBe(true);
  });
});

describe("misc", () => {
  it("tree", async () => {
    const h = new Harness();
    const childSup1 = Supervisor.spec([h.spec("child1"), h.spec("child2")], { id: "supchild1", name: "sup1", maxRestarts: 4, maxSeconds: 3600 });
    const childSup2 = Supervisor.spec([], { id: "supchild2", name: "sup2", maxRestarts: 4, maxSeconds: 3600 });
    const childSup3 = Supervisor.spec([], { id: "supchild3", name: "sup3", restart: "transient", maxRestarts: 4, maxSeconds: 3600 });
    const top = await startSup([], { strategy: "one_for_all", maxRestarts: 4, maxSeconds: 3600 });
    await top.startChild(childSup1);
    await top.startChild(childSup2);
    await top.startChild(childSup3);
    await top.terminateChild("supchild3");
    expect(childCounts(top)).toEqual([3, 2, 3, 0]);
    const sup1 = top.child("supchild1") as Supervisor;
    const sup2 = top.child("supchild2") as Supervisor;
    expect(childCounts(sup1)).toEqual([2, 2, 0, 2]);
    expect(childCounts(sup2)).toEqual([0, 0, 0, 0]);

    // Dynamic children
    await sup2.startChild(h.spec("child3", { failStart: errorAfterFirst() }));
    await sup2.startChild(h.spec("child4"));
    expect(childCounts(sup2)).toEqual([2, 2, 0, 2]);
    // Only the child that dies is restarted.
    const [c1, c2, c3, c4] = ["child1", "child2", "child3", "child4"].map((id) => h.current(id));
    await terminate(sup2, h, "child4", "abnormal");
    expect([sup1.child("child1"), sup1.child("child2")]).toEqual([c1, c2]);
    expect(sup2.child("child3")).toBe(c3);
    expect(sup2.child("child4")).not.toBe(c4);
    expect(childCounts(sup2)).toEqual([2, 2, 0, 2]);

    // child3 cannot restart: sup2 gives up, and the top supervisor (one_for_all) restarts the
    // whole tree, without the dynamic children.
    h.current("child3").crash(new Error("died"));
    await checkExit(sup2);
    await vi.waitFor(() => expect(childCounts(top)).toEqual([3, 3, 3, 0]));
    const newSup1 = top.child("supchild1") as Supervisor;
    const newSup2 = top.child("supchild2") as Supervisor;
    const newSup3 = top.child("supchild3") as Supervisor;
    expect(newSup1).not.toBe(sup1);
    expect(which(newSup1)).toEqual([["child1", "running"], ["child2", "running"]]);
    expect(childCounts(newSup1)).toEqual([2, 2, 0, 2]);
    expect(childCounts(newSup2)).toEqual([0, 0, 0, 0]);
    expect(childCounts(newSup3)).toEqual([0, 0, 0, 0]);
  });

  it("count_children", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    for (let i = 0; i < 1000; i++) await sup.startChild(h.spec(`a${i}`, { restart: "temporary" }));
    const children = sup.whichChildren();
    const counts = childCounts(sup);
    for (let i = 0; i < 1000; i++) await sup.startChild(h.spec(`b${i}`, { restart: "temporary" }));
    expect(children).toHaveLength(1000);
    expect(counts).toEqual([1000, 1000, 0, 1000]);
    expect(sup.whichChildren()).toHaveLength(2000);
    expect(childCounts(sup)).toEqual([2000, 2000, 0, 2000]);
    expect(sup.whichChildren()).toEqual(sup.whichChildren());
    for (const { id } of sup.whichChildren()) h.current(id).kill();
    await settle();
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);
  });

  it("count_children_supervisor", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    for (let i = 0; i < 1000; i++) await sup.startChild(h.spec(`a${i}`, { restart: "temporary", shutdown: "infinity", type: "supervisor" }));
    expect(childCounts(sup)).toEqual([1000, 1000, 1000, 0]);
    for (let i = 0; i < 1000; i++) await sup.startChild(h.spec(`b${i}`, { restart: "temporary", shutdown: "infinity", type: "supervisor" }));
    expect(childCounts(sup)).toEqual([2000, 2000, 2000, 0]);
    for (const { id } of sup.whichChildren()) h.current(id).kill();
    await settle();
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);
  });

  it("count_restarting_children", async () => {
    // supervisor_deadlock: while fail_start is set, a start fails after a delay (2 s there,
    // 20 ms here); the window is sized so that the loop never reaches the intensity.
    let failStart = false;
    const h = new Harness();
    const spec = (id: string) =>
      h.spec(id, { shutdown: "brutal_kill", startDelay: () => (failStart ? 20 : 0), failStart: () => (failStart ? new Error("error") : undefined) });
    const sup = await startDynamic({ maxRestarts: 20, maxSeconds: 0.3 });
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);
    for (const [i, id] of ["ch1", "ch2", "ch3"].entries()) {
      await sup.startChild(spec(id));
      expect(childCounts(sup)).toEqual([i + 1, i + 1, 0, i + 1]);
    }
    for (const id of ["ch1", "ch2", "ch3"]) h.current(id).crash(new Error("restart"));
    await vi.waitFor(() => expect(h.startCount("ch3")).toBe(2));
    expect(childCounts(sup)).toEqual([3, 3, 0, 3]);

    failStart = true;
    h.current("ch1").crash(new Error("restart"));
    h.current("ch2").crash(new Error("restart"));
    await vi.waitFor(() => expect(which(sup).filter(([, state]) => state === "restarting")).toHaveLength(2));
    expect(childCounts(sup)).toEqual([3, 1, 0, 3]);

    failStart = false;
    await vi.waitFor(() => expect(childCounts(sup)).toEqual([3, 3, 0, 3]), { timeout: 5_000 });
    expect(sup.isRunning).toBe(true);
    await sup.terminateChild("ch3");
    expect(childCounts(sup)).toEqual([2, 2, 0, 2]);
    await sup.terminateChild("ch1");
    expect(childCounts(sup)).toEqual([1, 1, 0, 1]);
    await sup.terminateChild("ch2");
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);
  });

  it("do_not_save_child_specs_for_temporary_children", async () => {
    for (const strategy of ["one_for_all", "one_for_one", "rest_for_one"] as const) {
      for (const how of ["kill", "normal", "abnormal", "supervisor"] as const) {
        const h = new Harness();
        const sup = await startSup([], { strategy, maxRestarts: 2, maxSeconds: 3600 });
        const permanent = h.spec("child1");
        const transient = h.spec("child2", { restart: "transient" });
        const temporary = h.spec("child3", { restart: "temporary" });

        // permanent_child_spec_saved
        await sup.startChild(permanent);
        await terminate(sup, h, "child1", how);
        if (how === "supervisor") {
          await expect(sup.startChild(permanent)).rejects.toMatchObject({ code: "already_present" });
          await sup.restartChild("child1");
        } else {
          // Restarted by the supervisor, since not terminated through it.
          await expect(sup.startChild(permanent)).rejects.toMatchObject({ code: "already_started" });
        }

        // transient_child_spec_saved
        await sup.startChild(transient);
        await terminate(sup, h, "child2", how);
        if (how === "supervisor" || how === "normal") {
          await expect(sup.startChild(transient)).rejects.toMatchObject({ code: "already_present" });
          await sup.restartChild("child2");
        } else {
          await expect(sup.startChild(transient)).rejects.toMatchObject({ code: "already_started" });
        }

        // temporary_child_spec_not_saved
        await sup.startChild(temporary);
        await terminate(sup, h, "child3", how);
        expect(await sup.startChild(temporary)).toBeDefined();
        await sup.close();
      }
    }
  });

  it("simple_one_for_one_scale_many_temporary_children", async () => {
    // OTP compares the times of 1,000 and 10,000 terminations; here, without timing: each of
    // 10,000 terminateChild calls forgets its child.
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2, maxSeconds: 3600 });
    for (let i = 0; i < 10_000; i++) await sup.startChild(h.spec(`c${i}`, { restart: "temporary" }));
    expect(sup.size).toBe(10_000);
    for (let i = 0; i < 10_000; i++) await sup.terminateChild(`c${i}`);
    expect(sup.size).toBe(0);
    expect(childCounts(sup)).toEqual([0, 0, 0, 0]);
  });

  it("hanging_restart_loop", async () => {
    let failStart = false;
    const h = new Harness();
    const child1 = h.spec("child1", {
      shutdown: "brutal_kill",
      startDelay: () => (failStart ? 20 : 0),
      failStart: () => (failStart ? new Error("error") : undefined),
    });
    const sup = await startSup([], { strategy: "one_for_one", maxRestarts: 8, maxSeconds: 0.1 });
    await sup.startChild(child1);
    const cpid1 = h.current("child1");
    failStart = true;
    cpid1.crash("error");
    await vi.waitFor(() => expect(which(sup)).toEqual([["child1", "restarting"]]));
    await expect(sup.startChild(child1)).rejects.toMatchObject({ code: "already_present" });
    await expect(sup.restartChild("child1")).rejects.toMatchObject({ code: "restarting" });
    await expect(sup.deleteChild("child1")).rejects.toMatchObject({ code: "restarting" });
    expect(which(sup)).toEqual([["child1", "restarting"]]);
    expect(childCounts(sup)).toEqual([1, 0, 0, 1]);

    await sup.terminateChild("child1");
    expect(cpid1.ended).toEqual({ error: "error" });
    expect(which(sup)).toEqual([["child1", "undefined"]]);

    failStart = false;
    await sup.restartChild("child1");
    const cpid2 = h.current("child1");
    failStart = true;
    cpid2.crash("error");
    await vi.waitFor(() => expect(which(sup)).toEqual([["child1", "restarting"]]));
    // Stopping the supervisor does not hang in the restart loop (OTP-9549).
    await sup.close();
    await checkExit(sup);
    expect(cpid2.ended).toEqual({ error: "error" });
  });

  it("hanging_restart_loop_rest_for_one", async () => {
    let failStart = false;
    const h = new Harness();
    const child2 = h.spec("child2", {
      shutdown: "brutal_kill",
      startDelay: () => (failStart ? 20 : 0),
      failStart: () => (failStart ? new Error("error") : undefined),
    });
    const sup = await startSup([], { strategy: "rest_for_one", maxRestarts: 8, maxSeconds: 0.1 });
    await sup.startChild(h.spec("child1", { shutdown: "brutal_kill" }));
    await sup.startChild(child2);
    await sup.startChild(h.spec("child3", { shutdown: "brutal_kill" }));
    const cpid1 = h.current("child1");
    const cpid2 = h.current("child2");
    failStart = true;
    cpid2.crash("error");
    await vi.waitFor(() => expect(which(sup)[1]).toEqual(["child2", "restarting"]));
    await expect(sup.startChild(child2)).rejects.toMatchObject({ code: "already_present" });
    await expect(sup.restartChild("child2")).rejects.toMatchObject({ code: "restarting" });
    await expect(sup.deleteChild("child2")).rejects.toMatchObject({ code: "restarting" });
    expect(which(sup)).toEqual([["child1", "running"], ["child2", "restarting"], ["child3", "undefined"]]);
    expect(childCounts(sup)).toEqual([3, 1, 0, 3]);
    expect(sup.child("child1")).toBe(cpid1);

    await sup.terminateChild("child2");
    expect(which(sup)).toEqual([["child1", "running"], ["child2", "undefined"], ["child3", "undefined"]]);

    failStart = false;
    await sup.restartChild("child2");
    failStart = true;
    const cpid22 = h.current("child2");
    cpid22.crash("error");
    await vi.waitFor(() => expect(which(sup)[1]).toEqual(["child2", "restarting"]));
    await sup.close();
    await checkExit(sup);
    expect(cpid22.ended).toEqual({ error: "error" });
  });

  it("hanging_restart_loop_simple", async () => {
    let failStart = false;
    const h = new Harness();
    const spec = (id: string) =>
      h.spec(id, { shutdown: "brutal_kill", startDelay: () => (failStart ? 20 : 0), failStart: () => (failStart ? new Error("error") : undefined) });
    const sup = await startDynamic({ maxRestarts: 8, maxSeconds: 0.1 });
    await sup.startChild(spec("c1"));
    const cpid1 = h.current("c1");
    failStart = true;
    cpid1.crash("error");
    await vi.waitFor(() => expect(which(sup)).toEqual([["c1", "restarting"]]));
    expect(childCounts(sup)).toEqual([1, 0, 0, 1]);
    await sup.terminateChild("c1");
    expect(sup.whichChildren()).toEqual([]);

    failStart = false;
    await sup.startChild(spec("c2"));
    failStart = true;
    const cpid2 = h.current("c2");
    cpid2.crash("error");
    await vi.waitFor(() => expect(which(sup)).toEqual([["c2", "restarting"]]));
    await sup.close();
    await checkExit(sup);
  });

  it("order_of_children", async () => {
    const h = new Harness();
    // Ids that are not in alphabetical order.
    const ids = ["ch7", "ch3", "ch10", "ch2", "ch5"];
    const sup = await startSup(ids.map((id) => h.spec(id)), { strategy: "rest_for_one", maxRestarts: 2, maxSeconds: 3600 });
    expect(h.events("start")).toEqual(ids.map((id) => `start:${id}`));
    h.clear();
    // ch10 dies: ch5 and ch2 stop in that order, then ch10, ch2, ch5 start again in order.
    await terminate(sup, h, "ch10", "abnormal");
    expect(h.events("exit", "start")).toEqual(["exit:ch10", "exit:ch5", "exit:ch2", "start:ch10", "start:ch2", "start:ch5"]);
    h.clear();
    await sup.close();
    expect(h.events("exit")).toEqual(["exit:ch5", "exit:ch2", "exit:ch10", "exit:ch3", "exit:ch7"]);
  });

  it("scale_start_stop_many_children", async () => {
    // OTP compares the times at 1,000 and 100,000 children; here, without timing: 10,000
    // children started and terminated one by one, each found by its id.
    const h = new Harness();
    const sup = await startSup([], { strategy: "one_for_one", maxRestarts: 2, maxSeconds: 3600 });
    for (let i = 0; i < 10_000; i++) await sup.startChild(h.spec(String(i)));
    expect(childCounts(sup)).toEqual([10_000, 10_000, 0, 10_000]);
    for (let i = 0; i < 10_000; i++) await sup.terminateChild(String(i));
    expect(childCounts(sup)).toEqual([10_000, 0, 0, 10_000]);
  });

  it("already_started_outside_supervisor", async () => {
    // A child that registers a name someone outside the supervisor holds fails to start, and
    // the error names the holder.
    const registry = new Registry<string>("names");
    registry.register("registered_name", "outsider");
    const sup = await startSup([]);
    const child: ChildSpec = {
      id: "child",
      restart: "transient",
      start: () => {
        registry.register("registered_name", "child");
        return new Harness().spec("never").start({ path: [] });
      },
    };
    const error = await sup.startChild(child).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SupervisorError);
    expect(error).toMatchObject({ code: "start_failed", cause: { code: "already_registered" } });
    expect(registry.lookup("registered_name")).toBe("outsider");
    await sup.close();
  });

  it("which_children", async () => {
    const h = new Harness();
    const sup = await startSup([]);
    expect(sup.whichChildren()).toEqual([]);
    const child1 = await sup.startChild(h.spec("child1"));
    expect(sup.whichChildren()).toEqual([{ id: "child1", child: child1, type: "worker" }]);
    expect(sup.child("childx")).toBeUndefined();
    const child2 = await sup.startChild(h.spec("child2"));
    expect(sup.whichChildren()).toEqual([
      { id: "child1", child: child1, type: "worker" },
      { id: "child2", child: child2, type: "worker" },
    ]);
    await sup.terminateChild("child1");
    expect(sup.whichChildren()).toEqual([
      { id: "child1", child: undefined, type: "worker" },
      { id: "child2", child: child2, type: "worker" },
    ]);
    await sup.deleteChild("child1");
    expect(sup.whichChildren()).toEqual([{ id: "child2", child: child2, type: "worker" }]);
    expect(sup.getChildSpec("child1")).toBeUndefined();
  });

  it("which_children_simple_one_for_one", async () => {
    const h = new Harness();
    const sup = await startDynamic();
    expect(sup.whichChildren()).toEqual([]);
    const c1 = await sup.startChild(h.spec("c1", { restart: "temporary" }));
    const c2 = await sup.startChild(h.spec("c2", { restart: "temporary" }));
    expect(sup.whichChildren()).toEqual([
      { id: "c1", child: c1, type: "worker" },
      { id: "c2", child: c2, type: "worker" },
    ]);
    await sup.terminateChild("c1");
    expect(sup.whichChildren()).toEqual([{ id: "c2", child: c2, type: "worker" }]);
  });
});

describe("significant", () => {
  const autoShutdowns = ["never", "any_significant", "all_significant"] as const;

  it("nonsignificant_temporary", async () => {
    for (const autoShutdown of autoShutdowns) {
      const h = new Harness();
      const sup = await startSup([], { autoShutdown });
      const child1 = h.spec("child1", { restart: "temporary", significant: false });
      for (const how of ["supervisor", "kill", "abnormal", "normal"] as const) {
        await sup.startChild(child1);
        await terminate(sup, h, "child1", how);
        await checkNoExit(sup);
      }
      await sup.close();
      await checkExit(sup);
    }
  });

  it("nonsignificant_transient", async () => {
    for (const autoShutdown of autoShutdowns) {
      const h = new Harness();
      const sup = await startSup([], { maxRestarts: 5, autoShutdown });
      await sup.startChild(h.spec("child1", { restart: "transient", significant: false }));
      await terminate(sup, h, "child1", "supervisor");
      await checkNoExit(sup);
      await sup.restartChild("child1");
      // Killed: restarted; no auto-shutdown.
      await terminate(sup, h, "child1", "kill");
      await checkNoExit(sup);
      expect(which(sup)).toEqual([["child1", "running"]]);
      await terminate(sup, h, "child1", "abnormal");
      await checkNoExit(sup);
      expect(which(sup)).toEqual([["child1", "running"]]);
      await terminate(sup, h, "child1", "normal");
      await checkNoExit(sup);
      await sup.close();
    }
  });

  it("significant_temporary", async () => {
    const h = new Harness();
    const child1 = h.spec("child1", { restart: "temporary", significant: true });
    const child2 = h.spec("child2", { restart: "temporary", significant: true });
    const child3 = h.spec("child3", { restart: "temporary", significant: false });

    // any_significant: terminating a significant child through the supervisor does not count...
    const sup1 = await startSup([], { maxRestarts: 5, autoShutdown: "any_significant" });
    for (const spec of [child1, child2, child3]) await sup1.startChild(spec);
    await terminate(sup1, h, "child1", "supervisor");
    await checkNoExit(sup1);
    expect(h.current("child2").alive && h.current("child3").alive).toBe(true);
    // ...killing one does: every child is stopped and the supervisor exits.
    await sup1.startChild(child1);
    const [c2, c3] = [h.current("child2"), h.current("child3")];
    h.current("child1").kill();
    await checkExit(sup1);
    expect([c2.ended, c3.ended]).toEqual(["shutdown", "shutdown"]);

    // An abnormal end of a significant temporary child counts...
    const sup2 = await startSup([], { maxRestarts: 5, autoShutdown: "any_significant" });
    for (const spec of [child1, child2, child3]) await sup2.startChild(spec);
    h.current("child1").crash(new Error("abnormal"));
    await checkExit(sup2);

    // ...and so does a normal one.
    const sup3 = await startSup([], { maxRestarts: 5, autoShutdown: "any_significant" });
    for (const spec of [child1, child2, child3]) await sup3.startChild(spec);
    h.current("child1").finish();
    await checkExit(sup3);

    // all_significant: only once the last significant child has ended.
    const sup4 = await startSup([], { maxRestarts: 5, autoShutdown: "all_significant" });
    for (const spec of [child1, child2, child3]) await sup4.startChild(spec);
    await terminate(sup4, h, "child1", "normal");
    await checkNoExit(sup4);
    expect(h.current("child2").alive && h.current("child3").alive).toBe(true);
    const last = h.current("child3");
    h.current("child2").finish();
    await checkExit(sup4);
    expect(last.ended).toBe("shutdown");
  });

  it("significant_transient", async () => {
    const h = new Harness();
    const child1 = h.spec("child1", { restart: "transient", significant: true });
    const child2 = h.spec("child2", { restart: "transient", significant: true });
    const child3 = h.spec("child3", { restart: "transient", significant: false });

    const sup1 = await startSup([], { maxRestarts: 5, autoShutdown: "any_significant" });
    for (const spec of [child1, child2, child3]) await sup1.startChild(spec);
    await terminate(sup1, h, "child1", "supervisor");
    await checkNoExit(sup1);
    await sup1.restartChild("child1");
    // Killed or crashed: restarted, no auto-shutdown.
    await terminate(sup1, h, "child1", "kill");
    await checkNoExit(sup1);
    await terminate(sup1, h, "child1", "abnormal");
    await checkNoExit(sup1);
    expect(h.startCount("child1")).toBe(4);
    // A normal end does trigger it.
    const [c2, c3] = [h.current("child2"), h.current("child3")];
    h.current("child1").finish();
    await checkExit(sup1);
    expect([c2.ended, c3.ended]).toEqual(["shutdown", "shutdown"]);

    const sup2 = await startSup([], { maxRestarts: 5, autoShutdown: "all_significant" });
    for (const spec of [child1, child2, child3]) await sup2.startChild(spec);
    await terminate(sup2, h, "child1", "normal");
    await checkNoExit(sup2);
    h.current("child2").finish();
    await checkExit(sup2);
  });

  it("significant_simple", async () => {
    // Not allowed for simple_one_for_one (a dynamic supervisor): it has no autoShutdown.
    await expect(DynamicSupervisor.start([], { autoShutdown: "any_significant" } as never)).rejects.toMatchObject({
      code: "invalid_options",
      problem: "invalid_auto_shutdown",
    });
    await expect(DynamicSupervisor.start([], { autoShutdown: "all_significant" } as never)).rejects.toMatchObject({
      problem: "invalid_auto_shutdown",
    });
    const sup = await DynamicSupervisor.start([], { autoShutdown: "never" } as never);
    await sup.close();
    await checkExit(sup);
  });

  it("significant_bystander", async () => {
    for (const strategy of ["one_for_one", "one_for_all", "rest_for_one"] as const) {
      for (const autoShutdown of ["any_significant", "all_significant"] as const) {
        const h = new Harness();
        const sup = await startSup([], { strategy, maxRestarts: 5, autoShutdown });
        await sup.startChild(h.spec("child1", { restart: "transient", significant: true }));
        await sup.startChild(h.spec("child2", { restart: "transient", significant: false }));
        await sup.startChild(h.spec("child3", { restart: "transient", significant: true }));
        const [c1, c3] = [h.current("child1"), h.current("child3")];
        await terminate(sup, h, "child2", "kill");
        // Significant children stopped by the supervisor for a sibling do not trigger it.
        expect(c1.alive).toBe(strategy !== "one_for_all");
        expect(c3.alive).toBe(strategy === "one_for_one");
        await checkNoExit(sup);
        expect(childCounts(sup)).toEqual([3, 3, 0, 3]);
        await sup.close();
        await checkExit(sup);
      }
    }
  });

  it("significant_escalation", async () => {
    const h = new Harness();
    const childSup1 = (significant: boolean) =>
      Supervisor.spec([], { id: "sup1", name: "sup1", restart: "transient", autoShutdown: "any_significant", significant });
    const child1 = h.spec("child1", { restart: "transient", significant: true });

    // A has B as a significant child, B has C: C's end shuts B down, and B's shuts A down.
    const a1 = await startSup([], { autoShutdown: "any_significant" });
    const b1 = (await a1.startChild(childSup1(true))) as Supervisor;
    await b1.startChild(child1);
    h.current("child1").finish();
    await checkExit(b1);
    await checkExit(a1);

    // B not significant for A: B shuts down, A stays.
    const a2 = await startSup([], { autoShutdown: "any_significant" });
    const b2 = (await a2.startChild(childSup1(false))) as Supervisor;
    await b2.startChild(child1);
    h.current("child1").finish();
    await checkExit(b2);
    await checkNoExit(a2);
    await a2.close();
    await checkExit(a2);
  });
});
