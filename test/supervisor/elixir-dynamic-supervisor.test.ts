// Ported from Elixir's DynamicSupervisor tests (elixir-lang/elixir
// lib/elixir/test/elixir/dynamic_supervisor_test.exs), each test named after the Elixir test it
// comes from. Where Elixir and OTP differ, a DynamicSupervisor here follows Elixir: its children
// are forgotten when they are not running, count_children's `specs` counts them, and its
// defaults are 3 restarts in 5 s. The tests that do not apply are listed in the README.

import { describe, expect, it, vi } from "vitest";
import type { ChildSpec, ExitReason } from "../../src/supervisor/child.js";
import { Supervisor } from "../../src/supervisor/supervisor.js";
import { DynamicSupervisor } from "../../src/supervisor/dynamic-supervisor.js";
import { Harness, type TestSpecOptions, settle } from "./helpers.js";
import { checkExit, killSupervisorsAfterEach, startDynamic, startSup, which } from "./otp-support.js";

killSupervisorsAfterEach();

/** Elixir's assert_kill: ends the child with `reason` and lets the supervisor handle it. */
async function assertKill(h: Harness, id: string, reason: ExitReason): Promise<void> {
  const child = h.current(id);
  if (reason === "killed") child.kill();
  else child.end(reason);
  await child.exited;
  await settle();
}

function workersActive(sup: Supervisor): { workers: number; active: number } {
  const { workers, active } = sup.countChildren();
  return { workers, active };
}

/** Elixir's current_module_worker([:restart, value]): the first start works; later ones answer `value`. */
function restartThen(h: Harness, id: string, value: "ok" | "ignore" | "error" | "unknown", options: TestSpecOptions = {}): ChildSpec {
  const spec = h.spec(id, {
    ...options,
    failStart: (n) => (n > 1 && value === "error" ? new Error("found") : undefined),
    ignoreStart: (n) => n > 1 && value === "ignore",
  });
  if (value !== "unknown") return spec;
  let starts = 0;
  return { ...spec, start: (context) => (++starts > 1 ? ({ unknown: true } as never) : spec.start(context)) };
}

it("can be supervised directly", async () => {
  const sup = await startSup([DynamicSupervisor.spec([], { name: "dyn_sup_spec_test" })]);
  const dynamic = sup.child("dyn_sup_spec_test") as DynamicSupervisor;
  expect(dynamic).toBeInstanceOf(DynamicSupervisor);
  expect(dynamic.whichChildren()).toEqual([]);
});

it("multiple supervisors can be supervised and identified with simple child spec", async () => {
  const supsup = await startSup([DynamicSupervisor.spec([], { name: "simple_name" }), DynamicSupervisor.spec([], { id: "other", name: "other_name" })]);
  for (const id of ["simple_name", "other"]) expect((supsup.child(id) as DynamicSupervisor).whichChildren()).toEqual([]);
  const noName = await supsup.startChild(DynamicSupervisor.spec());
  expect((noName as DynamicSupervisor).whichChildren()).toEqual([]);
  await expect(supsup.startChild(DynamicSupervisor.spec())).rejects.toMatchObject({ code: "already_started" });
});

describe("use/2", () => {
  it("generates child_spec/1", () => {
    expect(DynamicSupervisor.spec()).toMatchObject({ id: "dynamic_supervisor", type: "supervisor", restart: "permanent", shutdown: "infinity" });
    expect(DynamicSupervisor.spec([], { id: "id" })).toMatchObject({ id: "id", type: "supervisor" });
  });
});

describe("init/1", () => {
  it("set default options", async () => {
    const sup = await startDynamic();
    expect({ strategy: sup.strategy, maxRestarts: sup.maxRestarts, maxSeconds: sup.maxSeconds, maxChildren: sup.maxChildren }).toEqual({
      strategy: "one_for_one",
      maxRestarts: 3,
      maxSeconds: 5,
      maxChildren: Infinity,
    });
  });
});

describe("start_link/3", () => {
  it("with non-ok init", async () => {
    const refused = (options: object, problem: string) =>
      expect(DynamicSupervisor.start([], options as never)).rejects.toMatchObject({ code: "invalid_options", problem });
    await refused({ strategy: "unknown" }, "invalid_strategy");
    await refused({ maxRestarts: -1 }, "invalid_intensity");
    await refused({ maxSeconds: 0 }, "invalid_period");
    await refused({ maxChildren: -1 }, "invalid_max_children");
    await refused({ autoShutdown: "any_significant" }, "invalid_auto_shutdown");
  });
});

describe("start_child/2", () => {
  it("with invalid child spec", async () => {
    const sup = await startDynamic();
    const start = new Harness().spec("x").start;
    await expect(sup.startChild({} as never)).rejects.toMatchObject({ code: "invalid_child_spec", problem: "missing_id" });
    await expect(sup.startChild({ id: "1", start: "bar" } as never)).rejects.toMatchObject({ problem: "missing_start" });
    await expect(sup.startChild({ id: "1", start, shutdown: -1 })).rejects.toMatchObject({ problem: "invalid_shutdown" });
    await expect(sup.startChild({ id: "1", start, restart: "transient", significant: true })).rejects.toMatchObject({ problem: "invalid_significant" });
  });

  it("with different returns", async () => {
    const h = new Harness();
    const sup = await startDynamic();
    expect(await sup.startChild(h.spec("ok"))).toBe(h.current("ok"));
    expect(await sup.startChild(h.spec("ignore", { ignoreStart: () => true }))).toBeUndefined();
    await expect(sup.startChild(h.spec("error", { failStart: () => "found" }))).rejects.toMatchObject({ code: "start_failed", cause: "found" });
    await expect(sup.startChild({ id: "unknown", start: () => "unknown" as never })).rejects.toMatchObject({ code: "start_failed" });
    expect(which(sup)).toEqual([["ok", "running"]]);
  });

  it("with throw/error/exit", async () => {
    const sup = await startDynamic();
    const oops = new Error("oops");
    const throwing = (value: unknown): ChildSpec => ({
      id: "child",
      start: () => {
        throw value;
      },
    });
    await expect(sup.startChild(throwing("oops"))).rejects.toMatchObject({ code: "start_failed", cause: "oops" });
    await expect(sup.startChild(throwing(oops))).rejects.toMatchObject({ code: "start_failed", cause: oops });
    await expect(sup.startChild({ id: "child", start: () => Promise.reject(oops) })).rejects.toMatchObject({ cause: oops });
  });

  it("with max_children", async () => {
    const sup = await startDynamic({ maxChildren: 0 });
    await expect(sup.startChild(new Harness().spec("c"))).rejects.toMatchObject({ code: "max_children" });
  });

  it("temporary child is not restarted regardless of reason", async () => {
    const h = new Harness();
    const sup = await startDynamic();
    await sup.startChild(h.spec("c", { restart: "temporary" }));
    await assertKill(h, "c", "shutdown");
    expect(workersActive(sup)).toEqual({ workers: 0, active: 0 });
    await sup.startChild(h.spec("c", { restart: "temporary" }));
    await assertKill(h, "c", { error: "whatever" });
    expect(workersActive(sup)).toEqual({ workers: 0, active: 0 });
  });

  it("transient child is restarted unless normal/shutdown/{shutdown, _}", async () => {
    const h = new Harness();
    const sup = await startDynamic();
    await sup.startChild(h.spec("a", { restart: "transient" }));
    await assertKill(h, "a", "shutdown");
    expect(workersActive(sup)).toEqual({ workers: 0, active: 0 });
    await sup.startChild(h.spec("b", { restart: "transient" }));
    await assertKill(h, "b", { shutdown: "signal" });
    expect(workersActive(sup)).toEqual({ workers: 0, active: 0 });
    await sup.startChild(h.spec("c", { restart: "transient" }));
    await assertKill(h, "c", { error: "whatever" });
    expect(workersActive(sup)).toEqual({ workers: 1, active: 1 });
  });

  it("permanent child is restarted regardless of reason", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 100_000 });
    await sup.startChild(h.spec("a"));
    await assertKill(h, "a", "shutdown");
    expect(workersActive(sup)).toEqual({ workers: 1, active: 1 });
    await sup.startChild(h.spec("b"));
    await assertKill(h, "b", { shutdown: "signal" });
    expect(workersActive(sup)).toEqual({ workers: 2, active: 2 });
    await sup.startChild(h.spec("c"));
    await assertKill(h, "c", { error: "whatever" });
    expect(workersActive(sup)).toEqual({ workers: 3, active: 3 });
  });

  it("child is restarted with different values", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 100_000 });
    await sup.startChild(restartThen(h, "child1", "ok"));
    expect(which(sup)).toEqual([["child1", "running"]]);
    await assertKill(h, "child1", "shutdown");
    expect(workersActive(sup)).toEqual({ workers: 1, active: 1 });

    await sup.startChild(restartThen(h, "child3", "ignore"));
    await assertKill(h, "child3", "shutdown");
    // Ignored on restart: gone.
    expect(workersActive(sup)).toEqual({ workers: 1, active: 1 });

    await sup.startChild(restartThen(h, "child4", "error"));
    await assertKill(h, "child4", "shutdown");
    expect(workersActive(sup)).toEqual({ workers: 2, active: 1 });
    expect(which(sup)).toEqual([["child1", "running"], ["child4", "restarting"]]);

    await sup.startChild(restartThen(h, "child5", "unknown"));
    await assertKill(h, "child5", "shutdown");
    expect(workersActive(sup)).toEqual({ workers: 3, active: 1 });
    expect(which(sup)).toEqual([["child1", "running"], ["child4", "restarting"], ["child5", "restarting"]]);
  });

  it("restarting on init children counted in max_children", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxChildren: 1, maxRestarts: 100_000 });
    await sup.startChild(restartThen(h, "child", "error"));
    await assertKill(h, "child", "shutdown");
    expect(workersActive(sup)).toEqual({ workers: 1, active: 0 });
    await expect(sup.startChild(h.spec("other"))).rejects.toMatchObject({ code: "max_children" });
  });

  it("restarting on exit children counted in max_children", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxChildren: 1, maxRestarts: 100_000 });
    await sup.startChild(h.spec("child"));
    await assertKill(h, "child", "shutdown");
    expect(workersActive(sup)).toEqual({ workers: 1, active: 1 });
    await expect(sup.startChild(h.spec("other"))).rejects.toMatchObject({ code: "max_children" });
  });

  it("child is restarted when trying again", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 2 });
    // Start 1 works, the first restart fails ({error, try_again}), the next one works.
    await sup.startChild(h.spec("child", { failStart: (n) => (n === 2 ? "try_again" : undefined) }));
    await assertKill(h, "child", "shutdown");
    await vi.waitFor(() => expect(workersActive(sup)).toEqual({ workers: 1, active: 1 }));
    expect(h.log.filter((e) => e.endsWith(":child"))).toEqual(["start:child", "exit:child", "start_failed:child", "start:child"]);
  });

  it("child triggers maximum restarts", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 1 });
    await sup.startChild(restartThen(h, "child", "error"));
    await assertKill(h, "child", "shutdown");
    await checkExit(sup, "shutdown");
  });

  it("child triggers maximum intensity when trying again", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 10 });
    await sup.startChild(restartThen(h, "child", "error"));
    await assertKill(h, "child", "shutdown");
    await checkExit(sup, "shutdown");
    expect(h.log.filter((e) => e === "start_failed:child")).toHaveLength(10);
  });

  it("with valid shutdown", async () => {
    const h = new Harness();
    const sup = await startDynamic();
    for (const n of [0, 1]) {
      await sup.startChild(h.spec(String(n), { shutdown: n }));
      await assertKill(h, String(n), "shutdown");
    }
  });

  it("with invalid valid shutdown", async () => {
    const sup = await startDynamic();
    await expect(sup.startChild({ ...new Harness().spec("1"), shutdown: -1 })).rejects.toMatchObject({ problem: "invalid_shutdown" });
  });
});

describe("terminate/2", () => {
  async function threeChildren(options: TestSpecOptions): Promise<{ sup: DynamicSupervisor; h: Harness }> {
    const h = new Harness();
    const sup = await startDynamic();
    for (const id of ["c1", "c2", "c3"]) await sup.startChild(h.spec(id, options));
    return { sup, h };
  }
  const endings = (h: Harness) => ["c1", "c2", "c3"].map((id) => h.current(id).ended);

  it("terminates children with brutal kill", async () => {
    const { sup, h } = await threeChildren({ shutdown: "brutal_kill" });
    await sup.close();
    expect(endings(h)).toEqual(["killed", "killed", "killed"]);
  });

  it("terminates children with infinity shutdown", async () => {
    const { sup, h } = await threeChildren({ shutdown: "infinity" });
    await sup.close();
    expect(endings(h)).toEqual(["shutdown", "shutdown", "shutdown"]);
  });

  it("terminates children with infinity shutdown and abnormal reason", async () => {
    const { sup, h } = await threeChildren({ shutdown: "infinity", stopReason: { shutdown: "oops" } });
    await sup.close();
    expect(endings(h)).toEqual([{ shutdown: "oops" }, { shutdown: "oops" }, { shutdown: "oops" }]);
  });

  it("terminates children with integer shutdown", async () => {
    const { sup, h } = await threeChildren({ shutdown: 1000 });
    await sup.close();
    expect(endings(h)).toEqual(["shutdown", "shutdown", "shutdown"]);
  });

  it("terminates children with integer shutdown and abnormal reason", async () => {
    const { sup, h } = await threeChildren({ shutdown: 1000, stopReason: { shutdown: "oops" } });
    await sup.close();
    expect(endings(h)).toEqual([{ shutdown: "oops" }, { shutdown: "oops" }, { shutdown: "oops" }]);
  });

  it("terminates children with expired integer shutdown", async () => {
    const h = new Harness();
    const sup = await startDynamic();
    await sup.startChild(h.spec("c1", { shutdown: 1 }));
    await sup.startChild(h.spec("c2", { shutdown: 1, stopMode: "ignore" }));
    await sup.startChild(h.spec("c3", { shutdown: 1 }));
    await sup.close();
    expect(endings(h)).toEqual(["shutdown", "killed", "shutdown"]);
  });

  it("terminates children with permanent restart and normal reason", async () => {
    const { sup, h } = await threeChildren({ shutdown: "infinity", restart: "permanent", stopReason: "normal" });
    await sup.close();
    expect(endings(h)).toEqual(["normal", "normal", "normal"]);
    expect(h.startCount("c1") + h.startCount("c2") + h.startCount("c3")).toBe(3);
  });

  it("terminates with mixed children", async () => {
    const h = new Harness();
    const sup = await startDynamic();
    await sup.startChild(h.spec("c1", { shutdown: "infinity" }));
    await sup.startChild(h.spec("c2", { shutdown: "brutal_kill" }));
    await sup.close();
    expect([h.current("c1").ended, h.current("c2").ended]).toEqual(["shutdown", "killed"]);
  });
});

describe("terminate_child/2", () => {
  it("terminates child with brutal kill", async () => {
    const h = new Harness();
    const sup = await startDynamic();
    await sup.startChild(h.spec("child", { shutdown: "brutal_kill" }));
    await sup.terminateChild("child");
    expect(h.current("child").ended).toBe("killed");
    await expect(sup.terminateChild("child")).rejects.toMatchObject({ code: "not_found" });
    expect(workersActive(sup)).toEqual({ workers: 0, active: 0 });
  });

  it("terminates child with integer shutdown", async () => {
    const h = new Harness();
    const sup = await startDynamic();
    await sup.startChild(h.spec("child", { shutdown: 1000 }));
    await sup.terminateChild("child");
    expect(h.current("child").ended).toBe("shutdown");
    await expect(sup.terminateChild("child")).rejects.toMatchObject({ code: "not_found" });
    expect(workersActive(sup)).toEqual({ workers: 0, active: 0 });
  });

  it("terminates restarting child", async () => {
    const h = new Harness();
    const sup = await startDynamic({ maxRestarts: 100_000 });
    await sup.startChild(restartThen(h, "child", "error"));
    await assertKill(h, "child", "shutdown");
    await sup.terminateChild("child");
    await expect(sup.terminateChild("child")).rejects.toMatchObject({ code: "not_found" });
    expect(workersActive(sup)).toEqual({ workers: 0, active: 0 });
    expect(sup.isRunning).toBe(true);
  });
});
