// Restart intensity (OTP: more than MaxR restarts within MaxT seconds and the supervisor stops all
// its children in reverse order and exits with `shutdown`, the cause kept in `exitCause`),
// escalation through nested supervisors, and the sliding window (monotonic time).

import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChildSpec, ExitReason } from "../../src/supervisor/child.js";
import { Supervisor, SupervisorError, type SupervisorOptions } from "../../src/supervisor/supervisor.js";
import { ActorHarness, Harness, childrenOf, settle, sleep, within } from "./helpers.js";

const running: Supervisor[] = [];
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const supervisor of running.splice(0).reverse()) supervisor.kill();
});

async function start(specs: ChildSpec[], options: SupervisorOptions): Promise<Supervisor> {
  const supervisor = await Supervisor.start(specs, options);
  running.push(supervisor);
  return supervisor;
}

/**
 * Why a supervisor gave up: it exits with "shutdown", as OTP's does, and keeps the cause (fails if
 * it is still running or stopped for another reason).
 */
async function exitError(supervisor: Supervisor): Promise<SupervisorError> {
  const reason = await within(supervisor.exited, 2_000);
  expect(reason).toBe<ExitReason>("shutdown");
  expect(supervisor.exitCause).toBeInstanceOf(SupervisorError);
  return supervisor.exitCause!;
}

/** performance.now(), the clock of the intensity window, under the test's control. */
function fakeMonotonicClock(): { advance(ms: number): void } {
  let at = performance.now();
  vi.spyOn(performance, "now").mockImplementation(() => at);
  return { advance: (ms) => void (at += ms) };
}

function used(supervisor: Supervisor): number {
  return (supervisor.inspect()["restarts"] as { used: number }).used;
}

/** Crashes the current incarnation of `id` and waits for the next one (or for the supervisor's end). */
async function crashAndRestart(h: Harness, id: string): Promise<void> {
  const before = h.startCount(id);
  h.current(id).crash();
  await vi.waitFor(() => expect(h.startCount(id)).toBe(before + 1));
}

describe("restart intensity", () => {
  it("allows maxRestarts restarts; one more stops all children in reverse order and exits with shutdown", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b"), h.spec("c")], { name: "sup", maxRestarts: 3, maxSeconds: 60 });
    for (let i = 1; i <= 3; i++) {
      await crashAndRestart(h, "b");
      expect(used(sup)).toBe(i);
      expect(sup.isRunning).toBe(true);
    }
    h.clear();
    const fourth = new Error("fourth crash");
    h.current("b").crash(fourth);
    const error = await exitError(sup);
    expect(error.code).toBe("max_restart_intensity");
    expect(error.message).toContain("b");
    expect(error.cause).toBe(fourth);
    expect(h.log).toEqual(["exit:b", "stop:c", "exit:c", "stop:a", "exit:a"]);
    expect(h.startCount("b")).toBe(4);
    expect(sup.isRunning).toBe(false);
    expect(sup.inspect()).toMatchObject({ status: "stopped" });
    expect(sup.inspect()).toMatchObject({ exit: "shutdown", exitCause: expect.stringMatching(/restart intensity/) });
    // A dead supervisor takes no more children, and stopping it again is harmless.
    await expect(sup.startChild(h.spec("late"))).rejects.toMatchObject({ code: "noproc" });
    await sup.close();
  });

  it("maxRestarts 0: the first crash ends the supervisor", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b")], { maxRestarts: 0, maxSeconds: 60 });
    h.current("a").crash();
    const error = await exitError(sup);
    expect(error.code).toBe("max_restart_intensity");
    expect(h.startCount("a")).toBe(1);
    expect(h.current("b").alive).toBe(false);
  });

  it("counts restarts across children (intensity is the supervisor's, not a child's)", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b"), h.spec("c")], { maxRestarts: 2, maxSeconds: 60 });
    await crashAndRestart(h, "a");
    await crashAndRestart(h, "b");
    h.current("c").crash();
    expect((await exitError(sup)).code).toBe("max_restart_intensity");
    expect(h.log.slice(-5)).toEqual(["exit:c", "stop:b", "exit:b", "stop:a", "exit:a"]);
  });

  it("a one_for_all restart counts once however many children it restarts", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b"), h.spec("c")], { strategy: "one_for_all", maxRestarts: 2, maxSeconds: 60 });
    await crashAndRestart(h, "b");
    expect(used(sup)).toBe(1);
    await crashAndRestart(h, "a");
    expect(used(sup)).toBe(2);
    expect(sup.isRunning).toBe(true);
  });

  it("restarts that fail to start count too: the supervisor retries until intensity runs out", async () => {
    const h = new Harness();
    const startFailure = new Error("cannot come back");
    const sup = await start([h.spec("a"), h.spec("flaky", { failStart: (n) => (n > 1 ? startFailure : undefined) })], {
      maxRestarts: 2,
      maxSeconds: 60,
    });
    h.clear();
    h.current("flaky").crash();
    const error = await exitError(sup);
    expect(error.code).toBe("max_restart_intensity");
    expect(error.cause).toBe(startFailure);
    expect(h.log).toEqual(["exit:flaky", "start_failed:flaky", "start_failed:flaky", "stop:a", "exit:a"]);
    const flaky = childrenOf(sup.inspect()).find((c) => c.id === "flaky")!;
    expect(flaky.lastError).toContain("cannot come back");
  });

  it("a restart that fails once and then succeeds keeps the supervisor up", async () => {
    const h = new Harness();
    const sup = await start([h.spec("x", { failStart: (n) => (n === 2 ? new Error("once") : undefined) })], {
      maxRestarts: 3,
      maxSeconds: 60,
    });
    h.current("x").crash();
    await vi.waitFor(() => expect(h.startCount("x")).toBe(2)); // start 2 failed, start 3 succeeded
    expect(h.current("x").alive).toBe(true);
    expect(used(sup)).toBe(2);
    expect(sup.isRunning).toBe(true);
  });

  it("exits that restart nothing (transient normal, temporary) do not count", async () => {
    const h = new Harness();
    const sup = await start(
      [h.spec("t1", { restart: "transient" }), h.spec("t2", { restart: "temporary" }), h.spec("t3", { restart: "temporary" })],
      { maxRestarts: 0, maxSeconds: 60 },
    );
    h.current("t1").finish();
    h.current("t2").finish();
    h.current("t3").crash();
    await settle();
    expect(sup.isRunning).toBe(true);
    expect(used(sup)).toBe(0);
  });

  it("with XState actors: repeated CRASH events exhaust the intensity", async () => {
    const a = new ActorHarness();
    const sup = await start([a.spec("x"), a.spec("y")], { maxRestarts: 2, maxSeconds: 60 });
    for (let i = 2; i <= 3; i++) {
      a.send("y", "CRASH");
      await vi.waitFor(() => expect(a.starts.get("y")).toBe(i));
    }
    a.log.length = 0;
    a.send("y", "CRASH");
    const error = await exitError(sup);
    expect(error.code).toBe("max_restart_intensity");
    expect((error.cause as Error).message).toBe("boom");
    expect(a.log).toEqual(["exit:y", "exit:x"]);
    expect(a.actor("x").getSnapshot().status).toBe("stopped");
  });
});

describe("the intensity window", () => {
  it("restarts older than maxSeconds fall out of the count (fake monotonic clock)", async () => {
    const clock = fakeMonotonicClock();
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b")], { maxRestarts: 2, maxSeconds: 10 });
    await crashAndRestart(h, "a");
    clock.advance(4_000);
    await crashAndRestart(h, "a");
    expect(used(sup)).toBe(2);

    clock.advance(7_000); // the first restart is now 11 s old
    expect(used(sup)).toBe(1);
    await crashAndRestart(h, "a"); // 2 in the window: allowed
    expect(sup.isRunning).toBe(true);

    clock.advance(11_000); // all of them are old
    expect(used(sup)).toBe(0);
    await crashAndRestart(h, "b");
    await crashAndRestart(h, "a");
    expect(sup.isRunning).toBe(true);

    h.current("b").crash(); // the third within 10 s
    expect((await exitError(sup)).code).toBe("max_restart_intensity");
  });

  it("crashes spaced wider than the window never exhaust it (fake monotonic clock)", async () => {
    const clock = fakeMonotonicClock();
    const h = new Harness();
    const sup = await start([h.spec("a")], { maxRestarts: 1, maxSeconds: 5 });
    for (let i = 0; i < 20; i++) {
      clock.advance(6_000);
      await crashAndRestart(h, "a");
    }
    expect(sup.isRunning).toBe(true);
    expect(h.startCount("a")).toBe(21);
    expect(used(sup)).toBe(1);
  });

  it("a small real window: crashes further apart than maxSeconds are fine, close together they are not", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a")], { maxRestarts: 1, maxSeconds: 0.2 });
    await crashAndRestart(h, "a");
    await sleep(450);
    await crashAndRestart(h, "a");
    await sleep(450);
    await crashAndRestart(h, "a");
    expect(sup.isRunning).toBe(true);
    h.current("a").crash(); // right after the previous restart: 2 within 0.2 s
    expect((await exitError(sup)).code).toBe("max_restart_intensity");
  });
});

describe("escalation", () => {
  it("a child supervisor that gives up is restarted by its parent; when the parent gives up too, it exits", async () => {
    const h = new Harness();
    const mid = Supervisor.spec([h.spec("w1"), h.spec("w2")], { name: "mid", maxRestarts: 1, maxSeconds: 60 });
    const root = await start([h.spec("r1"), mid, h.spec("r2")], { name: "root", maxRestarts: 1, maxSeconds: 60 });
    const [r1, r2] = [h.current("r1"), h.current("r2")];
    const mid1 = root.child("mid") as Supervisor;
    expect(mid1).toBeInstanceOf(Supervisor);

    // mid's own intensity: one restart...
    await crashAndRestart(h, "w2");
    expect(used(mid1)).toBe(1);
    // ...and the second crash is one too many: mid stops w1 and exits with shutdown (a permanent
    // child: its parent restarts it all the same).
    h.clear();
    h.current("w2").crash(new Error("w2 again"));
    const midError = await exitError(mid1);
    expect(midError.code).toBe("max_restart_intensity");
    // root restarts mid (one_for_one: r1 and r2 untouched), which starts its children afresh.
    await vi.waitFor(() => expect([undefined, mid1]).not.toContain(root.child("mid")));
    expect(h.startCount("w2")).toBe(3);
    expect(h.log).toEqual(["exit:w2", "stop:w1", "exit:w1", "start:w1", "start:w2"]);
    expect(h.current("r1")).toBe(r1);
    expect(h.current("r2")).toBe(r2);
    expect(r1.alive && r2.alive).toBe(true);
    const mid2 = root.child("mid") as Supervisor;
    expect(mid2.isRunning).toBe(true);
    expect(used(mid2)).toBe(0);
    expect(used(root)).toBe(1);
    const midEntry = childrenOf(root.inspect()).find((c) => c.id === "mid")!;
    expect(midEntry).toMatchObject({ type: "supervisor", status: "running", restarts: 1 });
    expect(midEntry.lastError).toMatch(/restart intensity/);

    // The new mid gives up as well: root's second restart exceeds its limit of 1.
    await crashAndRestart(h, "w1");
    h.clear();
    h.current("w1").crash(new Error("w1 again"));
    const rootError = await exitError(root);
    expect(rootError.code).toBe("max_restart_intensity");
    expect(rootError.message).toContain("mid");
    // The chain of causes leads down to the worker's crash.
    expect(rootError.cause).toBeInstanceOf(SupervisorError);
    expect((rootError.cause as SupervisorError).cause).toEqual(new Error("w1 again"));
    // mid stopped w2; then root stopped r2 and r1, latest first; nothing restarted.
    expect(h.log).toEqual(["exit:w1", "stop:w2", "exit:w2", "stop:r2", "exit:r2", "stop:r1", "exit:r1"]);
    expect(await mid2.exited).toBe<ExitReason>("shutdown");
  });

  it("cascades up through two levels of nested supervisors when each allows no restart", async () => {
    const h = new Harness();
    const leaf = Supervisor.spec([h.spec("leafA"), h.spec("w")], { name: "leaf", maxRestarts: 0 });
    const mid = Supervisor.spec([h.spec("midA"), leaf, h.spec("midB")], { name: "mid", maxRestarts: 0 });
    const root = await start([h.spec("rootA"), mid, h.spec("rootB")], { name: "root", maxRestarts: 0 });
    expect(h.events("start")).toEqual(["start:rootA", "start:midA", "start:leafA", "start:w", "start:midB", "start:rootB"]);
    expect(h.current("w").context.path).toEqual(["root", "mid", "leaf"]);
    h.clear();
    const crash = new Error("deep crash");
    h.current("w").crash(crash);
    const error = await exitError(root);
    expect(h.log).toEqual([
      "exit:w",
      "stop:leafA",
      "exit:leafA",
      "stop:midB",
      "exit:midB",
      "stop:midA",
      "exit:midA",
      "stop:rootB",
      "exit:rootB",
      "stop:rootA",
      "exit:rootA",
    ]);
    const midError = error.cause as SupervisorError;
    const leafError = midError.cause as SupervisorError;
    expect([error.code, midError.code, leafError.code]).toEqual(["max_restart_intensity", "max_restart_intensity", "max_restart_intensity"]);
    expect(error.message).toContain("mid");
    expect(midError.message).toContain("leaf");
    expect(leafError.cause).toBe(crash);
  });

  it("two levels, with intensity left at the top: the middle supervisor is restarted with a fresh leaf", async () => {
    const h = new Harness();
    const leaf = Supervisor.spec([h.spec("w")], { name: "leaf", maxRestarts: 0 });
    const mid = Supervisor.spec([leaf], { name: "mid", maxRestarts: 0 });
    const root = await start([mid], { name: "root", maxRestarts: 5, maxSeconds: 60 });
    for (let i = 2; i <= 4; i++) {
      h.current("w").crash();
      await vi.waitFor(() => expect(h.startCount("w")).toBe(i));
    }
    expect(root.isRunning).toBe(true);
    expect(used(root)).toBe(3);
    const midSup = root.child("mid") as Supervisor;
    expect(childrenOf(midSup.inspect())[0]).toMatchObject({ id: "leaf", status: "running", restarts: 0 });
    expect(childrenOf(root.inspect())[0]).toMatchObject({ id: "mid", restarts: 3 });
  });

  it("a transient child supervisor is not restarted when it stops, nor when it gives up (it exits with shutdown, as in OTP)", async () => {
    const h = new Harness();
    const inner = Supervisor.spec([h.spec("w")], { name: "inner", restart: "transient", maxRestarts: 0 });
    const root = await start([inner, Supervisor.spec([h.spec("v")], { id: "other", name: "other", restart: "transient", maxRestarts: 0 })], {
      maxRestarts: 5,
      maxSeconds: 60,
    });
    const innerSup = root.child("inner") as Supervisor;
    await innerSup.close(); // exits with "shutdown": normal for a transient child
    expect(await innerSup.exited).toBe<ExitReason>("shutdown");
    await settle();
    expect(root.child("inner")).toBeUndefined();
    expect(root.whichChildren().find((c) => c.id === "inner")).toEqual({ id: "inner", child: undefined, type: "supervisor" });

    const otherSup = root.child("other") as Supervisor;
    h.current("v").crash(new Error("v crashed"));
    expect(await otherSup.exited).toBe<ExitReason>("shutdown");
    expect(otherSup.exitCause?.code).toBe("max_restart_intensity");
    await settle();
    expect(h.startCount("v")).toBe(1);
    expect(root.child("other")).toBeUndefined();
    expect(root.isRunning).toBe(true);
    // The cause stays visible in the parent's inspection.
    expect(childrenOf(root.inspect()).find((c) => c.id === "other")).toMatchObject({ status: "stopped", lastError: expect.stringMatching(/restart intensity/) });
  });

});
