// Scale: a DynamicSupervisor holding 10,000 small children (and 1,000 XState actors), maxChildren,
// and a Registry of 10,000 names freed as the children end. Timings are printed, never asserted.

import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMachine } from "xstate";
import { ActorChild, actorSpec } from "../../src/supervisor/actor-child.js";
import { type Child, type ChildSpec, type ExitReason, exitSignal } from "../../src/supervisor/child.js";
import { DynamicSupervisor } from "../../src/supervisor/dynamic-supervisor.js";
import { Registry, RegistryError, nameToString, resolveName } from "../../src/supervisor/registry.js";
import { SupervisorError } from "../../src/supervisor/supervisor.js";
import { settle } from "./helpers.js";

const running: DynamicSupervisor[] = [];
afterEach(() => {
  for (const supervisor of running.splice(0).reverse()) supervisor.kill();
});

async function create(options: Parameters<typeof DynamicSupervisor.create>[0] = {}): Promise<DynamicSupervisor> {
  const supervisor = await DynamicSupervisor.create(options);
  running.push(supervisor);
  return supervisor;
}

/** The smallest possible child. */
class TinyChild implements Child {
  readonly exited: Promise<ExitReason>;
  readonly exit: (reason: ExitReason) => void;
  stops = 0;
  constructor(readonly id: number) {
    ({ exited: this.exited, exit: this.exit } = exitSignal());
  }
  stop(): void {
    this.stops++;
    this.exit("shutdown");
  }
  kill(): void {
    this.exit({ error: "killed" });
  }
  inspect() {
    return { kind: "tiny", status: "running" };
  }
}

function tinySpec(i: number, made: TinyChild[], restart: ChildSpec["restart"] = "permanent"): ChildSpec {
  return {
    id: `c${i}`,
    restart,
    start: () => {
      const child = new TinyChild(i);
      made.push(child);
      return child;
    },
  };
}

const idle = createMachine({ id: "idle", initial: "waiting", states: { waiting: { on: { FINISH: "done" } }, done: { type: "final" } } });

/** Starts n children the way an application under load would: many at once, in batches. */
async function startMany(supervisor: DynamicSupervisor, n: number, specFor: (i: number) => ChildSpec): Promise<number> {
  const t0 = performance.now();
  const batch = 500;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => supervisor.startChild(specFor(i + j))));
  }
  return performance.now() - t0;
}

describe("DynamicSupervisor at scale", () => {
  it("starts 10,000 hand-written children and stops them all at once, as OTP's simple_one_for_one does", async () => {
    const made: TinyChild[] = [];
    const sup = await create({ name: "ten-thousand" });
    await startMany(sup, 10_000, (i) => tinySpec(i, made));
    expect(sup.size).toBe(10_000);
    expect(made).toHaveLength(10_000);
    expect(sup.child("c0")).toBe(made[0]);
    expect(sup.child("c9999")).toBe(made[9_999]);

    // Each child takes its time to stop: asked one after another, the first would finish
    // before the last was asked.
    let asked = 0;
    let finished = 0;
    let finishedWhenLastAsked = -1;
    for (const child of made) {
      child.stop = () => {
        child.stops++;
        if (++asked === 10_000) finishedWhenLastAsked = finished;
        setImmediate(() => {
          finished++;
          child.exit("shutdown");
        });
      };
    }
    await sup.close();
    expect(await sup.exited).toBe("shutdown");
    expect(made.every((child) => child.stops === 1)).toBe(true);
    expect(finished).toBe(10_000);
    expect(finishedWhenLastAsked).toBe(0);
  });

  it("a dynamic child that will not stop is killed after its own shutdown time, without holding up the others", async () => {
    const made: TinyChild[] = [];
    const sup = await create();
    for (let i = 0; i < 3; i++) await sup.startChild({ ...tinySpec(i, made), shutdown: 50 });
    made[1]!.stop = () => void made[1]!.stops++; // ignores the request
    const exits: string[] = [];
    for (const child of made) void child.exited.then((reason) => exits.push(`${child.id}:${typeof reason === "string" ? reason : "killed"}`));
    await sup.close();
    // One after another (latest first), c0 would have waited for c1's 50 ms.
    expect(exits.slice(0, 2).sort()).toEqual(["0:shutdown", "2:shutdown"]);
    expect(exits[2]).toBe("1:killed");
  });

  it("still supervises each of 10,000 children: crashes restart just the one", async () => {
    const made: TinyChild[] = [];
    const sup = await create({ maxRestarts: 100, maxSeconds: 60 });
    await startMany(sup, 10_000, (i) => tinySpec(i, made));
    for (const i of [0, 5_000, 9_999]) made[i]!.exit({ error: new Error(`c${i} crashed`) });
    await vi.waitFor(() => expect(made).toHaveLength(10_003));
    expect(sup.size).toBe(10_000);
    expect(sup.child("c5000")).toBe(made.find((c, k) => k >= 10_000 && c.id === 5_000));
    expect((sup.inspect()["restarts"] as { used: number }).used).toBe(3);
    await sup.close();
  });

  it("starts 1,000 XState actor children and stops them all", async () => {
    const sup = await create({ name: "actors" });
    await startMany(sup, 1_000, (i) => actorSpec(idle, { id: `a${i}` }));
    expect(sup.size).toBe(1_000);
    const actors = Array.from({ length: 1_000 }, (_, i) => (sup.child(`a${i}`) as ActorChild).actor);
    expect(actors.every((actor) => actor.getSnapshot().status === "active")).toBe(true);
    // A tenth of them finish on their own: permanent, so they are restarted as new actors.
    for (let i = 0; i < 1_000; i += 10) actors[i]!.send({ type: "FINISH" });
    await vi.waitFor(() => expect((sup.child("a990") as ActorChild | undefined)?.actor).not.toBe(actors[990]));
    await sup.close();
    expect(actors.every((actor) => actor.getSnapshot().status !== "active")).toBe(true);
    expect(sup.inspect()["children"]).toHaveLength(1_000);
  });

  it("measures the per-child start cost at 100 and at 10,000 children (informational)", async () => {
    const report: Record<string, string> = {};
    for (const n of [100, 10_000]) {
      const made: TinyChild[] = [];
      const sup = await create({ name: `measure-${n}` });
      const ms = await startMany(sup, n, (i) => tinySpec(i, made));
      const t0 = performance.now();
      await sup.close();
      const stopMs = performance.now() - t0;
      report[`plain x${n}`] = `start ${((ms * 1000) / n).toFixed(1)} us/child, stop ${((stopMs * 1000) / n).toFixed(1)} us/child`;
    }
    for (const n of [100, 1_000]) {
      const sup = await create({ name: `measure-actor-${n}` });
      const ms = await startMany(sup, n, (i) => actorSpec(idle, { id: `a${i}` }));
      await sup.close();
      report[`xstate x${n}`] = `start ${((ms * 1000) / n).toFixed(1)} us/child`;
    }
    console.log("supervisor per-child cost:", report);
    expect(Object.keys(report)).toHaveLength(4);
  });
});

describe("maxChildren", () => {
  it("refuses children beyond the cap with max_children, and takes them again once there is room", async () => {
    const made: TinyChild[] = [];
    const sup = await create({ maxChildren: 100 });
    await startMany(sup, 100, (i) => tinySpec(i, made));
    const error = await sup.startChild(tinySpec(100, made)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SupervisorError);
    expect((error as SupervisorError).code).toBe("max_children");
    expect(made).toHaveLength(100); // the refused child was never started
    expect(sup.size).toBe(100);

    await sup.terminateChild("c7");
    await sup.startChild(tinySpec(100, made));
    expect(sup.size).toBe(100);

    // A temporary child that ends frees its place as well.
    await sup.terminateChild("c8");
    await sup.startChild(tinySpec(101, made, "temporary"));
    made.at(-1)!.exit("normal");
    await settle();
    expect(sup.size).toBe(99);
    await sup.startChild(tinySpec(102, made));
    expect(sup.size).toBe(100);
  });

  it("counts children still starting: of 150 concurrent starts exactly 100 succeed", async () => {
    const made: TinyChild[] = [];
    const sup = await create({ maxChildren: 100 });
    const results = await Promise.allSettled(
      Array.from({ length: 150 }, (_, i) => sup.startChild({ ...tinySpec(i, made), start: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        const child = new TinyChild(i);
        made.push(child);
        return child;
      } })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(100);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(refused).toHaveLength(50);
    expect(refused.every((r) => (r.reason as SupervisorError).code === "max_children")).toBe(true);
    expect(made).toHaveLength(100);
  });
});

describe("Registry", () => {
  it("holds 10,000 names of supervised children and frees each one when its child ends", async () => {
    const registry = new Registry<Child>("names");
    const made: TinyChild[] = [];
    const sup = await create({ name: "registered" });
    await startMany(sup, 10_000, (i) => ({
      ...tinySpec(i, made, "temporary"),
      start: () => {
        const child = new TinyChild(i);
        made.push(child);
        registry.register(`user:${i}`, child, child.exited);
        return child;
      },
    }));
    expect(registry.size).toBe(10_000);
    expect(registry.lookup("user:0")).toBe(made[0]);
    expect(registry.lookup("user:9999")).toBe(sup.child("c9999"));
    expect(registry.has("user:42")).toBe(true);
    expect(registry.lookup("user:10000")).toBeUndefined();
    expect(() => registry.register("user:1", made[2]!)).toThrow(RegistryError);
    try {
      registry.register("user:1", made[2]!);
    } catch (error) {
      expect((error as RegistryError).code).toBe("already_registered");
    }

    // Half of them end on their own (temporary: not restarted): their names are free at once.
    for (let i = 0; i < 10_000; i += 2) made[i]!.exit(i % 4 === 0 ? "normal" : { error: new Error("crash") });
    await settle();
    expect(registry.size).toBe(5_000);
    expect(registry.lookup("user:0")).toBeUndefined();
    expect(registry.lookup("user:1")).toBe(made[1]);
    expect(sup.size).toBe(5_000);

    // Stopping the supervisor frees the rest.
    await sup.close();
    await settle();
    expect(registry.size).toBe(0);
    expect([...registry.keys()]).toEqual([]);
  });

  it("a freed name can be taken again; a stale end does not remove the new holder", async () => {
    const registry = new Registry<TinyChild>();
    const first = new TinyChild(1);
    registry.register("name", first, first.exited);
    first.exit("normal");
    await settle();
    expect(registry.lookup("name")).toBeUndefined();

    const second = new TinyChild(2);
    const third = new TinyChild(3);
    registry.register("other", third, third.exited);
    registry.unregister("other"); // freed by hand...
    registry.register("other", second, second.exited); // ...and taken by someone else
    third.exit("normal"); // the old holder's end must not free it
    await settle();
    expect(registry.lookup("other")).toBe(second);
  });

  it("an end that rejects frees the name too", async () => {
    const registry = new Registry<string>();
    let fail!: (error: unknown) => void;
    registry.register("k", "v", new Promise((_, reject) => (fail = reject)));
    expect(registry.lookup("k")).toBe("v");
    fail(new Error("gone"));
    await settle();
    expect(registry.has("k")).toBe(false);
  });

  it("resolves plain and { via } names", () => {
    const fallback = new Registry("default");
    const other = new Registry("other");
    expect(resolveName("a", fallback)).toEqual({ registry: fallback, key: "a" });
    const sym = Symbol("s");
    expect(resolveName(sym, fallback)).toEqual({ registry: fallback, key: sym });
    expect(resolveName({ via: [other, 42] }, fallback)).toEqual({ registry: other, key: 42 });
    expect(() => resolveName({ via: [{} as Registry, 1] }, fallback)).toThrow(TypeError);
    expect(nameToString("a")).toBe("a");
    expect(nameToString({ via: [other, "k"] })).toBe("other:k");
  });
});
