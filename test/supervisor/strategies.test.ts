// OTP supervisor semantics (https://www.erlang.org/doc/system/sup_princ.html): ordered start, start
// failures, the three strategies, the three restart types, shutdown order and shutdown times,
// dynamic children and inspection.

import { afterEach, describe, expect, it, vi } from "vitest";
import { type ChildSpec, type ExitReason, isAbnormal } from "../../src/supervisor/child.js";
import { ActorChild, setDefaultActorScope } from "../../src/supervisor/actor-child.js";
import { Supervisor, SupervisorError, type SupervisorOptions } from "../../src/supervisor/supervisor.js";
import { DynamicSupervisor } from "../../src/supervisor/dynamic-supervisor.js";
import { ActorHarness, Harness, type TestChild, childrenOf, crashOnStart, settle, sleep, within, worker } from "./helpers.js";

const running: Supervisor[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const supervisor of running.splice(0).reverse()) supervisor.kill();
});

async function start(specs: ChildSpec[], options: SupervisorOptions = {}): Promise<Supervisor> {
  const supervisor = await Supervisor.start(specs, { maxRestarts: 100, maxSeconds: 60, ...options });
  running.push(supervisor);
  return supervisor;
}

function startError(promise: Promise<unknown>): Promise<SupervisorError> {
  return promise.then(
    () => {
      throw new Error("expected the start to fail");
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(SupervisorError);
      return error as SupervisorError;
    },
  );
}

// -------------------------------------------------------------------------------------------------

describe("start", () => {
  it("starts children one after the other, in the order given", async () => {
    const h = new Harness();
    // b takes a while to start: c must still wait for it.
    const sup = await start([h.spec("a"), h.spec("b", { startDelay: () => 20 }), h.spec("c")]);
    expect(h.events("start")).toEqual(["start:a", "start:b", "start:c"]);
    expect(sup.isRunning).toBe(true);
    expect(sup.size).toBe(3);
    expect(sup.child("b")).toBe(h.current("b"));
    expect(childrenOf(sup.inspect()).map((c) => [c.id, c.status])).toEqual([
      ["a", "running"],
      ["b", "running"],
      ["c", "running"],
    ]);
  });

  it("starts XState actors in order and hands each its StartContext path", async () => {
    const a = new ActorHarness();
    const h = new Harness();
    const sup = await start([a.spec("x"), a.spec("y"), h.spec("plain")], { name: "root" });
    expect(a.log).toEqual(["start:x", "start:y"]);
    expect(sup.child("x")).toBeInstanceOf(ActorChild);
    expect(a.actor("x").getSnapshot().status).toBe("active");
    expect(h.current("plain").context.path).toEqual(["root"]);
  });

  it("a child failing to start stops the started ones in reverse order, and start rejects", async () => {
    const h = new Harness();
    const boom = new Error("c cannot start");
    const error = await startError(
      Supervisor.start([h.spec("a"), h.spec("b"), h.spec("c", { failStart: () => boom }), h.spec("d")]),
    );
    expect(error.code).toBe("start_failed");
    expect(error.cause).toBe(boom);
    expect(error.message).toContain("c");
    expect(h.log).toEqual(["start:a", "start:b", "start_failed:c", "stop:b", "exit:b", "stop:a", "exit:a"]);
    expect(h.startCount("d")).toBe(0);
    expect(h.current("a").alive).toBe(false);
    expect(h.current("b").alive).toBe(false);
  });

  it("an asynchronous start failure (rejected promise) is a start failure too", async () => {
    const h = new Harness();
    const error = await startError(
      Supervisor.start([h.spec("a"), h.spec("b", { startDelay: () => 5, failStart: () => new Error("later") })]),
    );
    expect(error.code).toBe("start_failed");
    expect(h.log).toEqual(["start:a", "start_failed:b", "stop:a", "exit:a"]);
  });

  it("the first child failing leaves nothing started", async () => {
    const h = new Harness();
    const error = await startError(Supervisor.start([h.spec("a", { failStart: () => "no" }), h.spec("b")]));
    expect(error.code).toBe("start_failed");
    expect(h.log).toEqual(["start_failed:a"]);
  });

  it("an XState actor that errors as it starts does not leave a dead child behind a running supervisor", async () => {
    // OTP: a child whose init crashes makes start_link fail, so the supervisor's start fails; a child
    // that crashes just after starting is restarted (and, if it always crashes, intensity runs out).
    // Either way the supervisor must not sit there running with a dead permanent child.
    const a = new ActorHarness();
    const outcome = await within(
      Supervisor.start([a.spec("ok"), Supervisor.actor(crashOnStart, { id: "bad" })], { maxRestarts: 2, maxSeconds: 60 }).then(
        (sup) => {
          running.push(sup);
          return sup.exited;
        },
        (error: unknown): ExitReason => ({ error }),
      ),
      1_000,
    );
    expect(outcome).not.toBe("pending");
    expect(isAbnormal(outcome as ExitReason)).toBe(true);
    // And whichever way it went, "ok" was stopped.
    expect(a.log.at(-1)).toBe("exit:ok");
  });

  it("a child that crashes while later siblings are still starting is restarted once the start completes", async () => {
    // OTP: the EXIT of a child that dies during the supervisor's init is queued and handled as
    // soon as init is done: a permanent child is restarted.
    const h = new Harness();
    const sup = await start([
      h.spec("a", { afterStart: (child) => void (child.incarnation === 1 && queueMicrotask(() => child.crash())) }),
      h.spec("b", { startDelay: () => 20 }),
    ]);
    expect(h.startCount("a")).toBe(1);
    await vi.waitFor(() => expect(h.startCount("a")).toBeGreaterThanOrEqual(2), { timeout: 1_000 });
    expect(sup.child("a")).toBe(h.current("a"));
    expect(childrenOf(sup.inspect()).find((c) => c.id === "a")?.status).toBe("running");
  });

  describe("duplicate ids", () => {
    it("reject the start with invalid_child_spec (duplicate_child_name, as OTP) and leave nothing running", async () => {
      const h = new Harness();
      const error = await startError(Supervisor.start([h.spec("a"), h.spec("b"), h.spec("a")]));
      expect(error).toMatchObject({ code: "invalid_child_spec", problem: "duplicate_child_name" });
      expect(error.message).toContain("a");
      // Whatever was started has been stopped, latest first.
      expect(h.events("stop")).toEqual(h.events("start").reverse().map((e) => e.replace("start", "stop")));
      for (const list of h.incarnations.values()) for (const child of list) expect(child.alive).toBe(false);
      expect(h.startCount("a")).toBeLessThanOrEqual(1);
    });

    it("are found before any child is started (OTP checks the child specs first)", async () => {
      const h = new Harness();
      await startError(Supervisor.start([h.spec("a"), h.spec("b"), h.spec("a")]));
      expect(h.log).toEqual([]);
    });

    it("among dynamic children: startChild of a taken id rejects and leaves the running child alone", async () => {
      const h = new Harness();
      const sup = await start([h.spec("a")]);
      const error = await startError(sup.startChild(h.spec("a")));
      expect(error.code).toBe("already_started");
      expect(h.startCount("a")).toBe(1);
      expect(h.current("a").alive).toBe(true);
    });
  });
});

// -------------------------------------------------------------------------------------------------

describe("one_for_one", () => {
  it("restarts only the child that crashed", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b"), h.spec("c")], { strategy: "one_for_one" });
    const [a, c] = [h.current("a"), h.current("c")];
    h.clear();
    h.current("b").crash();
    await vi.waitFor(() => expect(h.startCount("b")).toBe(2));
    expect(h.log).toEqual(["exit:b", "start:b"]);
    expect(h.current("a")).toBe(a);
    expect(h.current("c")).toBe(c);
    expect(a.alive && c.alive).toBe(true);
    expect(sup.child("b")).toBe(h.current("b"));
    expect(childrenOf(sup.inspect()).map((x) => x.restarts)).toEqual([0, 1, 0]);
  });

  it("restarts a crashed XState actor as a new actor", async () => {
    const a = new ActorHarness();
    const sup = await start([a.spec("x"), a.spec("y")]);
    const [x1, y1] = [a.actor("x"), a.actor("y")];
    a.send("x", "PING");
    a.send("x", "CRASH");
    expect(x1.getSnapshot().status).toBe("error");
    await vi.waitFor(() => expect(a.starts.get("x")).toBe(2));
    const x2 = a.actor("x");
    expect(x2).not.toBe(x1);
    expect(x2.getSnapshot().status).toBe("active");
    expect(x2.getSnapshot().context.pings).toBe(0); // a restart starts from the initial state
    expect(a.actor("y")).toBe(y1);
    expect(a.log).toEqual(["start:x", "start:y", "exit:x", "start:x"]);
    const x = childrenOf(sup.inspect()).find((c) => c.id === "x")!;
    expect(x.restarts).toBe(1);
    expect(x.lastError).toContain("boom");
    expect(x.actor).toMatchObject({ kind: "actor", status: "active" });
  });

  it("restarts a permanent XState actor that reached its final state", async () => {
    const a = new ActorHarness();
    const sup = await start([a.spec("x")]);
    a.send("x", "FINISH");
    await vi.waitFor(() => expect(a.starts.get("x")).toBe(2));
    const x = childrenOf(sup.inspect())[0]!;
    expect(x.restarts).toBe(1);
    expect(x.lastError).toBeUndefined(); // a normal exit is no error
  });
});

describe("one_for_all", () => {
  it("stops all the others in reverse start order, then restarts all in start order", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b"), h.spec("c"), h.spec("d")], { strategy: "one_for_all" });
    const before = ["a", "b", "c", "d"].map((id) => h.current(id));
    h.clear();
    h.current("b").crash();
    await vi.waitFor(() => expect(h.startCount("d")).toBe(2));
    expect(h.events("stop", "start")).toEqual(["stop:d", "stop:c", "stop:a", "start:a", "start:b", "start:c", "start:d"]);
    for (const child of before) expect(child.alive).toBe(false);
    for (const id of ["a", "b", "c", "d"]) expect(h.current(id).alive).toBe(true);
    expect((sup.inspect()["restarts"] as { used: number }).used).toBe(1);
    // Every child is a new incarnation; each entry counts the restart it went through.
    expect(childrenOf(sup.inspect()).map((c) => [c.status, c.restarts])).toEqual([
      ["running", 1],
      ["running", 1],
      ["running", 1],
      ["running", 1],
    ]);
  });

  it("with XState actors: a CRASH restarts every actor", async () => {
    const a = new ActorHarness();
    await start([a.spec("x"), a.spec("y"), a.spec("z")], { strategy: "one_for_all" });
    const old = [a.actor("x"), a.actor("y"), a.actor("z")];
    a.log.length = 0;
    a.send("y", "CRASH");
    await vi.waitFor(() => expect(a.starts.get("z")).toBe(2));
    expect(a.log).toEqual(["exit:y", "exit:z", "exit:x", "start:x", "start:y", "start:z"]);
    for (const actor of old) expect(actor.getSnapshot().status).not.toBe("active");
  });

  it("does not restart a temporary sibling stopped along the way, and forgets it", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("t", { restart: "temporary" }), h.spec("c")], { strategy: "one_for_all" });
    h.current("c").crash();
    await vi.waitFor(() => expect(h.startCount("c")).toBe(2));
    expect(h.startCount("a")).toBe(2);
    expect(h.startCount("t")).toBe(1);
    expect(h.current("t").alive).toBe(false);
    expect(sup.child("t")).toBeUndefined();
    expect(childrenOf(sup.inspect()).map((c) => c.id)).toEqual(["a", "c"]);
  });

  it("restarts a transient sibling stopped along the way", async () => {
    const h = new Harness();
    await start([h.spec("a"), h.spec("tr", { restart: "transient" })], { strategy: "one_for_all" });
    h.current("a").crash();
    await vi.waitFor(() => expect(h.startCount("tr")).toBe(2));
    expect(h.current("tr").alive).toBe(true);
  });

  it("a normal exit of a transient child restarts nobody", async () => {
    const h = new Harness();
    await start([h.spec("a"), h.spec("tr", { restart: "transient" }), h.spec("c")], { strategy: "one_for_all" });
    h.current("tr").finish();
    await settle();
    expect(h.startCount("a")).toBe(1);
    expect(h.startCount("tr")).toBe(1);
    expect(h.startCount("c")).toBe(1);
    expect(h.current("a").alive && h.current("c").alive).toBe(true);
  });

  it("two children crashing at the same moment: every child is restarted once, and the new ones are left running", async () => {
    // OTP: while stopping the siblings the supervisor consumes the EXIT of the one that had
    // already died; the stale exit does not cause a second round of restarts.
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b"), h.spec("c")], { strategy: "one_for_all" });
    h.current("a").crash();
    h.current("c").crash();
    await vi.waitFor(() => expect(h.startCount("c")).toBeGreaterThanOrEqual(2));
    await settle(20);
    expect(["a", "b", "c"].map((id) => h.startCount(id))).toEqual([2, 2, 2]);
    for (const id of ["a", "b", "c"]) expect(h.current(id).alive).toBe(true);
    expect((sup.inspect()["restarts"] as { used: number }).used).toBe(1);
  });
});

describe("rest_for_one", () => {
  it("stops the children started after the failed one (reverse order) and restarts them in start order", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b"), h.spec("c"), h.spec("d")], { strategy: "rest_for_one" });
    const a = h.current("a");
    h.clear();
    h.current("b").crash();
    await vi.waitFor(() => expect(h.startCount("d")).toBe(2));
    expect(h.events("stop", "start")).toEqual(["stop:d", "stop:c", "start:b", "start:c", "start:d"]);
    expect(h.current("a")).toBe(a);
    expect(a.alive).toBe(true);
    expect(childrenOf(sup.inspect()).map((c) => c.status)).toEqual(["running", "running", "running", "running"]);
  });

  it("the last child failing restarts it alone", async () => {
    const h = new Harness();
    await start([h.spec("a"), h.spec("b"), h.spec("c")], { strategy: "rest_for_one" });
    h.clear();
    h.current("c").crash();
    await vi.waitFor(() => expect(h.startCount("c")).toBe(2));
    expect(h.log).toEqual(["exit:c", "start:c"]);
  });

  it("the first child failing restarts them all", async () => {
    const h = new Harness();
    await start([h.spec("a"), h.spec("b"), h.spec("c")], { strategy: "rest_for_one" });
    h.clear();
    h.current("a").crash();
    await vi.waitFor(() => expect(h.startCount("c")).toBe(2));
    expect(h.events("stop", "start")).toEqual(["stop:c", "stop:b", "start:a", "start:b", "start:c"]);
  });

  it("a dynamically added child is among 'the rest'", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b")], { strategy: "rest_for_one" });
    await sup.startChild(h.spec("late"));
    h.clear();
    h.current("b").crash();
    await vi.waitFor(() => expect(h.startCount("late")).toBe(2));
    expect(h.events("stop", "start")).toEqual(["stop:late", "start:b", "start:late"]);
    expect(h.startCount("a")).toBe(1);
  });

  it("with XState actors", async () => {
    const a = new ActorHarness();
    await start([a.spec("x"), a.spec("y"), a.spec("z")], { strategy: "rest_for_one" });
    const x = a.actor("x");
    a.log.length = 0;
    a.send("y", "CRASH");
    await vi.waitFor(() => expect(a.starts.get("z")).toBe(2));
    expect(a.log).toEqual(["exit:y", "exit:z", "start:y", "start:z"]);
    expect(a.actor("x")).toBe(x);
  });
});

// -------------------------------------------------------------------------------------------------

describe("restart types", () => {
  const exits: [string, (child: TestChild) => void][] = [
    ["a normal exit", (c) => c.finish()],
    ["a 'shutdown' exit", (c) => c.end("shutdown")],
    ["an abnormal exit", (c) => c.crash()],
  ];

  it.each(exits)("permanent: restarted after %s", async (_, exit) => {
    const h = new Harness();
    const sup = await start([h.spec("p", { restart: "permanent" })]);
    exit(h.current("p"));
    await vi.waitFor(() => expect(h.startCount("p")).toBe(2));
    expect(sup.child("p")).toBe(h.current("p"));
  });

  it("permanent is the default", async () => {
    const h = new Harness();
    const sup = await start([h.spec("p")]);
    expect(childrenOf(sup.inspect())[0]!.restart).toBe("permanent");
    h.current("p").finish();
    await vi.waitFor(() => expect(h.startCount("p")).toBe(2));
  });

  it("transient: restarted after an abnormal exit", async () => {
    const h = new Harness();
    const sup = await start([h.spec("t", { restart: "transient" })]);
    h.current("t").crash(new Error("bad"));
    await vi.waitFor(() => expect(h.startCount("t")).toBe(2));
    const t = childrenOf(sup.inspect())[0]!;
    expect(t).toMatchObject({ id: "t", restart: "transient", status: "running", restarts: 1 });
    expect(t.lastError).toBe("Error: bad");
  });

  it.each([
    ["a normal exit", (c: TestChild) => c.finish()],
    ["a 'shutdown' exit", (c: TestChild) => c.end("shutdown")],
  ])("transient: not restarted after %s", async (_, exit) => {
    const h = new Harness();
    const sup = await start([h.spec("t", { restart: "transient" }), h.spec("other")]);
    exit(h.current("t"));
    await settle();
    expect(h.startCount("t")).toBe(1);
    expect(sup.child("t")).toBeUndefined();
    expect(sup.isRunning).toBe(true);
    expect((sup.inspect()["restarts"] as { used: number }).used).toBe(0);
  });

  it("transient: after a normal exit its spec stays among the children (only temporary children are removed)", async () => {
    // OTP's do_restart(normal, ...) -> del_child/2 keeps a non-temporary child with pid undefined,
    // so which_children still lists it and its id stays taken (start_child -> already_present).
    const h = new Harness();
    const sup = await start([h.spec("t", { restart: "transient" })]);
    h.current("t").finish();
    await settle();
    expect(childrenOf(sup.inspect()).map((c) => [c.id, c.status])).toEqual([["t", "stopped"]]);
    expect(sup.size).toBe(1);
  });

  it.each(exits)("temporary: never restarted (after %s), and removed from the children", async (_, exit) => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("tmp", { restart: "temporary" }), h.spec("c")]);
    exit(h.current("tmp"));
    await settle();
    expect(h.startCount("tmp")).toBe(1);
    expect(sup.child("tmp")).toBeUndefined();
    expect(sup.size).toBe(2);
    expect(childrenOf(sup.inspect()).map((c) => c.id)).toEqual(["a", "c"]);
    expect((sup.inspect()["restarts"] as { used: number }).used).toBe(0);
    // The id is free again.
    await sup.startChild(h.spec("tmp", { restart: "temporary" }));
    expect(h.startCount("tmp")).toBe(2);
  });

  it("XState: transient actor reaching its final state is not restarted; crashing is", async () => {
    const a = new ActorHarness();
    const sup = await start([a.spec("done", { restart: "transient" }), a.spec("crash", { restart: "transient" })]);
    a.send("done", "FINISH");
    a.send("crash", "CRASH");
    await vi.waitFor(() => expect(a.starts.get("crash")).toBe(2));
    await settle();
    expect(a.starts.get("done")).toBe(1);
    expect(sup.child("done")).toBeUndefined();
    expect(a.actor("crash").getSnapshot().status).toBe("active");
  });

  it("XState: temporary actor that crashes is removed, never restarted", async () => {
    const a = new ActorHarness();
    const sup = await start([a.spec("tmp", { restart: "temporary" }), a.spec("keep")]);
    a.send("tmp", "CRASH");
    await settle();
    expect(a.starts.get("tmp")).toBe(1);
    expect(childrenOf(sup.inspect()).map((c) => c.id)).toEqual(["keep"]);
  });
});

// -------------------------------------------------------------------------------------------------

describe("shutdown", () => {
  it("close() stops the children in reverse start order and exits with 'shutdown'", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b"), h.spec("c")]);
    h.clear();
    await sup.close();
    expect(h.log).toEqual(["stop:c", "exit:c", "stop:b", "exit:b", "stop:a", "exit:a"]);
    expect(await sup.exited).toBe("shutdown");
    expect(sup.isRunning).toBe(false);
    expect(sup.inspect()).toMatchObject({ status: "stopped", exit: "shutdown" });
    expect(childrenOf(sup.inspect()).every((c) => c.status === "stopped")).toBe(true);
  });

  it("stop() does the same, and exited resolves when it is done; stopping twice is harmless", async () => {
    const a = new ActorHarness();
    const sup = await start([a.spec("x"), a.spec("y"), a.spec("z")]);
    sup.stop();
    sup.stop();
    expect(await sup.exited).toBe("shutdown");
    expect(a.log).toEqual(["start:x", "start:y", "start:z", "exit:z", "exit:y", "exit:x"]);
    for (const id of ["x", "y", "z"]) expect(a.actor(id).getSnapshot().status).toBe("stopped");
    await sup.close();
  });

  it("children that exit while being stopped are not restarted, and dynamic ones stop in order too", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a")]);
    await sup.startChild(h.spec("b"));
    await sup.startChild(h.spec("c"));
    h.clear();
    await sup.close();
    expect(h.events("stop")).toEqual(["stop:c", "stop:b", "stop:a"]);
    await settle();
    expect(h.events("start")).toEqual([]);
  });

  it("stopping an ActorChild ends it with 'shutdown' (the Child contract)", async () => {
    const a = new ActorHarness();
    const sup = await start([a.spec("x")]);
    const child = sup.child("x")!;
    child.stop();
    expect(await child.exited).toBe("shutdown");
  });

  describe("per-child shutdown time", () => {
    it("a child that ignores the stop request is killed when its shutdown time is up", async () => {
      const h = new Harness();
      const sup = await start([h.spec("stubborn", { stopMode: "ignore", shutdown: 50 }), h.spec("last")]);
      const stubborn = h.current("stubborn");
      h.clear();
      const t0 = Date.now();
      await sup.close();
      expect(h.log).toEqual(["stop:last", "exit:last", "stop:stubborn", "kill:stubborn", "exit:stubborn"]);
      expect(stubborn.stopCalls).toBe(1);
      expect(stubborn.killCalls).toBe(1);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(40);
    });

    it("a child that stops in time is not killed", async () => {
      const h = new Harness();
      const sup = await start([h.spec("slow", { stopMode: "ignore", shutdown: 2_000 })]);
      const slow = h.current("slow");
      setTimeout(() => slow.end("shutdown"), 20);
      await sup.close();
      expect(slow.stopCalls).toBe(1);
      expect(slow.killCalls).toBe(0);
    });

    it("'brutal_kill' kills without asking", async () => {
      const h = new Harness();
      const sup = await start([h.spec("a"), h.spec("brutal", { shutdown: "brutal_kill" })]);
      const brutal = h.current("brutal");
      await sup.close();
      expect(brutal.stopCalls).toBe(0);
      expect(brutal.killCalls).toBe(1);
      expect(h.current("a").stopCalls).toBe(1);
      expect(h.current("a").killCalls).toBe(0);
    });

    it("'infinity' waits as long as it takes and never kills", async () => {
      const h = new Harness();
      const sup = await start([h.spec("patient", { stopMode: "ignore", shutdown: "infinity" })]);
      const patient = h.current("patient");
      const closing = sup.close();
      expect(await within(closing, 300)).toBe("pending");
      expect(patient.stopCalls).toBe(1);
      expect(patient.killCalls).toBe(0);
      patient.end("shutdown");
      await closing;
      expect(patient.killCalls).toBe(0);
      expect(await sup.exited).toBe("shutdown");
    });

    it("workers default to 5 s before the kill", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
      const h = new Harness();
      const sup = await start([h.spec("stubborn", { stopMode: "ignore" })]);
      const stubborn = h.current("stubborn");
      const closing = sup.close();
      await vi.advanceTimersByTimeAsync(4_900);
      expect(stubborn.killCalls).toBe(0);
      await vi.advanceTimersByTimeAsync(200);
      expect(stubborn.killCalls).toBe(1);
      await closing;
    });

    it("a child of type supervisor without a shutdown of its own defaults to 'infinity'", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
      const h = new Harness();
      const spec: ChildSpec = { ...h.spec("sup-like", { stopMode: "ignore" }), type: "supervisor" };
      const sup = await start([spec]);
      const closing = sup.close();
      await vi.advanceTimersByTimeAsync(60_000);
      expect(h.current("sup-like").killCalls).toBe(0);
      h.current("sup-like").end("shutdown");
      await closing;
    });

    it("a nested supervisor is given all the time it needs (shutdown 'infinity')", async () => {
      const h = new Harness();
      const spec = Supervisor.spec([h.spec("inner", { stopMode: "ignore", shutdown: "infinity" })], { name: "child_sup" });
      expect(spec).toMatchObject({ id: "child_sup", type: "supervisor", shutdown: "infinity", restart: "permanent" });
      const sup = await start([spec]);
      const closing = sup.close();
      expect(await within(closing, 200)).toBe("pending");
      h.current("inner").end("shutdown");
      await closing;
      expect(h.current("inner").killCalls).toBe(0);
    });

    it("a shutdown timeout applies to sibling stops during a restart too", async () => {
      const h = new Harness();
      await start([h.spec("a"), h.spec("stubborn", { stopMode: "ignore", shutdown: 30 })], { strategy: "one_for_all" });
      const stubborn = h.current("stubborn");
      h.current("a").crash();
      await vi.waitFor(() => expect(h.startCount("stubborn")).toBe(2));
      expect(stubborn.stopCalls).toBe(1);
      expect(stubborn.killCalls).toBe(1);
    });
  });

  it("kill() kills every child at once, latest first, and the supervisor exits", async () => {
    const h = new Harness();
    const sup = await Supervisor.start([h.spec("a"), h.spec("b", { stopMode: "ignore" })]);
    sup.kill();
    expect(h.events("kill", "stop")).toEqual(["kill:b", "kill:a"]);
    expect(await within(sup.exited, 1_000)).not.toBe("pending");
    expect(sup.isRunning).toBe(false);
  });

  it("a stop that arrives while a restart is starting the new child leaves no child running", async () => {
    // OTP: a supervisor handles one thing at a time; once it has exited none of its children run.
    const h = new Harness();
    const sup = await start([h.spec("slow", { startDelay: (n) => (n === 1 ? 0 : 100) })]);
    h.current("slow").crash();
    await settle(); // the restart is now waiting for the slow start
    await sup.close();
    await sleep(200); // the restart's start has completed by now
    expect(h.startCount("slow")).toBeLessThanOrEqual(2);
    for (const child of h.incarnations.get("slow")!) expect(child.alive).toBe(false);
    expect(sup.child("slow")).toBeUndefined();
  });
});

// -------------------------------------------------------------------------------------------------

describe("dynamic children", () => {
  it("startChild starts and appends a child; it is supervised like the others", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a")]);
    const child = await sup.startChild(h.spec("b"));
    expect(child).toBe(h.current("b"));
    expect(sup.child("b")).toBe(child);
    expect(childrenOf(sup.inspect()).map((c) => c.id)).toEqual(["a", "b"]);
    h.current("b").crash();
    await vi.waitFor(() => expect(h.startCount("b")).toBe(2));
  });

  it("startChild of an XState actor spec returns the ActorChild", async () => {
    const a = new ActorHarness();
    const sup = await start([]);
    const child = await sup.startChild(a.spec("x"));
    expect(child).toBeInstanceOf(ActorChild);
    expect((child as ActorChild).actor).toBe(a.actor("x"));
  });

  it("a failing startChild rejects with start_failed, keeps nothing, and the supervisor carries on", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a")]);
    const boom = new Error("nope");
    const error = await startError(sup.startChild(h.spec("bad", { failStart: () => boom })));
    expect(error.code).toBe("start_failed");
    expect(error.cause).toBe(boom);
    expect(sup.size).toBe(1);
    expect(sup.isRunning).toBe(true);
    expect(h.current("a").alive).toBe(true);
    // The id is free.
    await sup.startChild(h.spec("bad"));
    expect(sup.size).toBe(2);
  });

  it("two concurrent starts of one id conflict", async () => {
    const h = new Harness();
    const sup = await start([]);
    const results = await Promise.allSettled([
      sup.startChild(h.spec("x", { startDelay: () => 10 })),
      sup.startChild(h.spec("x", { startDelay: () => 10 })),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason as SupervisorError).code).toBe(
      "already_started",
    );
  });

  it("terminateChild stops the child within its shutdown time, does not restart it, and keeps its spec (OTP's terminate_child)", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), h.spec("b", { stopMode: "ignore", shutdown: 30 }), h.spec("c")]);
    const b = h.current("b");
    await sup.terminateChild("b");
    expect(b.stopCalls).toBe(1);
    expect(b.killCalls).toBe(1);
    await settle();
    expect(h.startCount("b")).toBe(1); // a permanent child stopped on purpose is no crash
    expect(sup.child("b")).toBeUndefined();
    expect(childrenOf(sup.inspect()).map((c) => [c.id, c.status])).toEqual([
      ["a", "running"],
      ["b", "stopped"],
      ["c", "running"],
    ]);
    expect((sup.inspect()["restarts"] as { used: number }).used).toBe(0);
    await sup.deleteChild("b");
    expect(childrenOf(sup.inspect()).map((c) => c.id)).toEqual(["a", "c"]);
  });

  it("terminateChild of an XState actor stops the actor", async () => {
    const a = new ActorHarness();
    const sup = await start([a.spec("x")]);
    const x = a.actor("x");
    const child = sup.child("x")!;
    await sup.terminateChild("x");
    expect(x.getSnapshot().status).toBe("stopped");
    // Stopping or killing an ended actor child again is harmless.
    child.stop();
    child.kill();
    await settle();
    expect(a.starts.get("x")).toBe(1);
  });

  it("terminateChild of an unknown id rejects with not_found", async () => {
    const sup = await start([]);
    await expect(sup.terminateChild("ghost")).rejects.toMatchObject({ code: "not_found" });
  });

  it("startChild on a stopped supervisor rejects with noproc", async () => {
    const h = new Harness();
    const sup = await start([]);
    await sup.close();
    await expect(sup.startChild(h.spec("a"))).rejects.toMatchObject({ code: "noproc" });
    expect(h.startCount("a")).toBe(0);
  });

  it("a child still starting when the supervisor stops is stopped and startChild rejects", async () => {
    const h = new Harness();
    const sup = await start([]);
    const starting = sup.startChild(h.spec("slow", { startDelay: () => 50 }));
    await sleep(5);
    const closed = sup.close();
    await expect(starting).rejects.toMatchObject({ code: "noproc" });
    await closed;
    expect(h.current("slow").alive).toBe(false);
  });

  it("DynamicSupervisor starts empty, is one_for_one, and takes children at run time", async () => {
    const h = new Harness();
    const dyn = await DynamicSupervisor.create({ name: "dyn", maxRestarts: 10 });
    running.push(dyn);
    expect(dyn.size).toBe(0);
    expect(dyn.inspect()).toMatchObject({ kind: "supervisor", name: "dyn", strategy: "one_for_one", status: "running" });
    await dyn.startChild(h.spec("a"));
    await dyn.startChild(h.spec("b"));
    h.clear();
    h.current("a").crash();
    await vi.waitFor(() => expect(h.startCount("a")).toBe(2));
    expect(h.log).toEqual(["exit:a", "start:a"]);
    await dyn.terminateChild("b");
    expect(dyn.size).toBe(1);
  });
});

// -------------------------------------------------------------------------------------------------

describe("inspect()", () => {
  it("reports strategy, restarts used against the limit, and per child status, restarts and last error", async () => {
    const h = new Harness();
    const a = new ActorHarness();
    const sup = await start([h.spec("w"), a.spec("m"), h.spec("tr", { restart: "transient" })], {
      name: "insp",
      strategy: "one_for_one",
      maxRestarts: 5,
      maxSeconds: 30,
    });
    let info = sup.inspect();
    expect(info).toMatchObject({
      kind: "supervisor",
      name: "insp",
      status: "running",
      strategy: "one_for_one",
      restarts: { used: 0, max: 5, withinSeconds: 30 },
    });
    expect(info["exit"]).toBeUndefined();
    expect(typeof info["uptimeMs"]).toBe("number");
    expect(childrenOf(info)).toEqual([
      expect.objectContaining({ id: "w", type: "worker", restart: "permanent", status: "running", restarts: 0 }),
      expect.objectContaining({ id: "m", type: "worker", restart: "permanent", status: "running", restarts: 0 }),
      expect.objectContaining({ id: "tr", type: "worker", restart: "transient", status: "running", restarts: 0 }),
    ]);
    expect(childrenOf(info)[0]!.actor).toMatchObject({ kind: "test", status: "running" });
    expect(childrenOf(info)[1]!.actor).toMatchObject({ kind: "actor", status: "active", value: "running" });
    for (const child of childrenOf(info)) expect(child.lastError).toBeUndefined();

    h.current("w").crash(new TypeError("w broke"));
    await vi.waitFor(() => expect(h.startCount("w")).toBe(2));
    h.current("w").crash("plain string");
    await vi.waitFor(() => expect(h.startCount("w")).toBe(3));
    a.send("m", "CRASH");
    await vi.waitFor(() => expect(a.starts.get("m")).toBe(2));

    info = sup.inspect();
    expect(info["restarts"]).toEqual({ used: 3, max: 5, withinSeconds: 30 });
    const [w, m, tr] = childrenOf(info);
    expect(w).toMatchObject({ status: "running", restarts: 2, lastError: "plain string" });
    expect(m).toMatchObject({ status: "running", restarts: 1 });
    expect(m!.lastError).toMatch(/boom/);
    expect(tr).toMatchObject({ restarts: 0 });
    expect(tr!.lastError).toBeUndefined();

    await sup.close();
    info = sup.inspect();
    expect(info).toMatchObject({ status: "stopped", exit: "shutdown" });
    expect(childrenOf(info).map((c) => c.status)).toEqual(["stopped", "stopped", "stopped"]);
    expect(childrenOf(info).every((c) => c.actor === undefined && c.uptimeMs === 0)).toBe(true);
  });

  it("reports a nested supervisor as a child of type supervisor with its own tree", async () => {
    const h = new Harness();
    const sup = await start([h.spec("a"), Supervisor.spec([h.spec("leaf")], { name: "inner", strategy: "rest_for_one" })], { name: "outer" });
    const [, inner] = childrenOf(sup.inspect());
    expect(inner).toMatchObject({ id: "inner", type: "supervisor", status: "running" });
    expect(inner!.actor).toMatchObject({ kind: "supervisor", name: "inner", strategy: "rest_for_one" });
    expect(childrenOf(inner!.actor!)[0]).toMatchObject({ id: "leaf", status: "running" });
    expect(h.current("leaf").context.path).toEqual(["outer", "inner"]);
  });

  it("hands the root's XState inspection observer to every actor in the tree", async () => {
    const seen = new Set<string>();
    const a = new ActorHarness();
    const sup = await start([a.spec("top"), Supervisor.spec([a.spec("deep")], { name: "inner" })], {
      inspect: (event) => {
        const e = event as unknown as { type: string; actorRef?: { id: string } };
        if (e.type === "@xstate.event" && e.actorRef) seen.add(e.actorRef.id);
      },
    });
    a.send("top", "PING");
    a.send("deep", "PING");
    expect(seen.has(a.actor("top").id)).toBe(true);
    expect(seen.has(a.actor("deep").id)).toBe(true);
    await sup.close();
  });

  it("names nested specs after their supervisor by default", () => {
    expect(Supervisor.spec([]).id).toBe("supervisor");
    expect(Supervisor.spec([], { name: "n" }).id).toBe("n");
    expect(Supervisor.spec([], { name: "n", id: "i" }).id).toBe("i");
    expect(DynamicSupervisor.spec().id).toBe("dynamic_supervisor");
  });

  it("rejects an unknown strategy and bad intensity options", async () => {
    await expect(Supervisor.start([], { strategy: "simple_one_for_one" as never })).rejects.toMatchObject({ code: "invalid_options", problem: "invalid_strategy" });
    await expect(Supervisor.start([], { maxRestarts: -1 })).rejects.toMatchObject({ code: "invalid_options", problem: "invalid_intensity" });
    await expect(Supervisor.start([], { maxSeconds: 0 })).rejects.toMatchObject({ code: "invalid_options", problem: "invalid_period" });
  });
});

// -------------------------------------------------------------------------------------------------

describe("actor scopes", () => {
  function recordingScope(events: string[]) {
    return (id: string) => {
      let depth = 0;
      events.push(`scope:${id}`);
      return {
        run<T>(fn: () => T): T {
          depth++;
          try {
            events.push(`run:${id}`);
            return fn();
          } finally {
            depth--;
          }
        },
        end() {
          events.push(`end:${id}:${depth}`);
        },
      };
    };
  }

  it("runs an actor's start and every event inside its scope, ends the scope with the actor, and gives each incarnation a new one", async () => {
    const events: string[] = [];
    const a = new ActorHarness();
    const spec = Supervisor.actor(worker, {
      id: "x",
      scope: recordingScope(events),
      onStart: (actor) => a.actors.set("x", actor),
    });
    await start([spec]);
    expect(events).toEqual(["scope:x", "run:x"]); // the start
    a.send("x", "PING");
    expect(events).toEqual(["scope:x", "run:x", "run:x"]);
    const first = a.actor("x");
    a.send("x", "CRASH");
    await vi.waitFor(() => expect(a.actor("x")).not.toBe(first));
    // the CRASH ran in the scope, the scope ended (with the crash, inside run), a new scope started.
    expect(events.slice(3)).toEqual(["run:x", "end:x:1", "scope:x", "run:x"]);
  });

  it("uses the default scope installed with setDefaultActorScope when the spec names none", async () => {
    const events: string[] = [];
    setDefaultActorScope(recordingScope(events));
    try {
      const a = new ActorHarness();
      const sup = await start([a.spec("y")]);
      await sup.terminateChild("y");
      expect(events).toEqual(["scope:y", "run:y", "end:y:0"]);
    } finally {
      setDefaultActorScope(undefined);
    }
  });
});

describe("DynamicSupervisor.spec", () => {
  it("nests a dynamic supervisor that takes children at run time and is stopped with its parent", async () => {
    const h = new Harness();
    const spec = DynamicSupervisor.spec([h.spec("first")], { name: "pool", maxChildren: 3 });
    expect(spec).toMatchObject({ id: "pool", type: "supervisor", restart: "permanent", shutdown: "infinity" });
    const root = await start([h.spec("before"), spec], { name: "root" });
    const pool = root.child("pool") as DynamicSupervisor;
    expect(pool).toBeInstanceOf(DynamicSupervisor);
    expect(pool.inspect()).toMatchObject({ name: "pool", strategy: "one_for_one" });
    await pool.startChild(h.spec("d1"));
    await pool.startChild(h.spec("d2"));
    await expect(pool.startChild(h.spec("d3"))).rejects.toMatchObject({ code: "max_children" });
    expect(h.current("d1").context.path).toEqual(["root", "pool"]);
    h.clear();
    await root.close();
    // The pool's children stop together (in no defined order), all before the pool's older sibling.
    const stops = h.events("stop");
    expect(stops.slice(0, 3).sort()).toEqual(["stop:d1", "stop:d2", "stop:first"]);
    expect(stops[3]).toBe("stop:before");
  });

  it("a dynamic supervisor that gives up is restarted empty (plus its initial children) by its parent", async () => {
    const h = new Harness();
    const root = await start([DynamicSupervisor.spec([], { id: "dyn", maxRestarts: 0 })], { maxRestarts: 3, maxSeconds: 60 });
    const dyn1 = root.child("dyn") as DynamicSupervisor;
    await dyn1.startChild(h.spec("u"));
    h.current("u").crash();
    await vi.waitFor(() => expect(root.child("dyn")).not.toBe(dyn1));
    const dyn2 = root.child("dyn") as DynamicSupervisor;
    expect(dyn2.isRunning).toBe(true);
    expect(dyn2.size).toBe(0);
  });
});
