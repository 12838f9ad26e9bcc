// XState inspection of a supervision tree: what an inspector such as @statelyai/inspect draws
// from XState's `@xstate.actor` events (each actor's systemId, and its parent through
// `actorRef._parent`, as that inspector reads them) must be the tree CapnWeb.inspect() reports:
// supervisors, sessions, supervised XState actors and exported XState targets, each under its
// parent, named by its place.

import type { AnyActorRef, InspectionEvent } from "xstate";
import { createMachine, setup } from "xstate";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";

const WAIT = { timeout: 5_000, interval: 5 };
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

class Api extends CapnWeb.Target {
  square(x: number) {
    return x * x;
  }
}

/** The actors an inspector saw, as "systemId <- parent systemId", from `@xstate.actor` events. */
function inspectorView(events: InspectionEvent[]): Set<string> {
  const view = new Set<string>();
  for (const event of events) {
    if (event.type !== "@xstate.actor") continue;
    const actor = event.actorRef as AnyActorRef & { systemId?: string; _parent?: AnyActorRef & { systemId?: string } };
    if (actor.systemId === undefined) continue;
    view.add(`${actor.systemId} <- ${actor._parent?.systemId ?? "(root)"}`);
  }
  return view;
}

/** The same relation, from CapnWeb.inspect(): supervisors by path, their children under them. */
function treeView(node: CapnWeb.TreeInspection, path: string[], parent: string | undefined, out = new Set<string>()): Set<string> {
  const here = path.join("/");
  if (node.kind === "supervisor") {
    out.add(`${here} <- ${parent ?? "(root)"}`);
    for (const child of node.children) {
      if (child.actor) treeView(child.actor, child.actor.kind === "supervisor" ? [...path, child.actor.name] : [...path, child.id], here, out);
    }
  } else if (node.kind === "session") {
    out.add(`${here} <- ${parent}`);
    node.targets.filter((target) => target.kind === "target:xstate").forEach((target, i) => out.add(`${here}/${target.label}#${i + 1} <- ${here}`));
  } else if (node.kind === "actor") {
    out.add(`${here} <- ${parent}`);
  }
  return out;
}

describe("XState inspection follows the supervision tree", () => {
  it("the inspector's actors and their parents are CapnWeb.inspect()'s tree", async () => {
    const server = await CapnWeb.serve({ host: "127.0.0.1", port: 0, main: () => new Api() });
    cleanups.push(() => server.close());
    const events: InspectionEvent[] = [];
    const counter = setup({}).createMachine({ id: "counter", initial: "idle", states: { idle: {} } });
    const app = await CapnWeb.Supervisor.start(
      [
        CapnWeb.Session.spec({ name: `inspected-api-${process.pid}`, id: "api", url: server.wsUrl, heartbeat: 0 }),
        CapnWeb.Supervisor.spec([CapnWeb.Supervisor.actor(counter, { id: "counter" })], { name: "workers" }),
      ],
      { name: "app", inspect: (event) => void events.push(event) },
    );
    cleanups.push(() => app.close());
    const root = CapnWeb.session<{ square(x: number): number }>(`inspected-api-${process.pid}`);
    expect(await root.square(3)).toBe(9);
    const chat = createMachine({ id: "chat", initial: "open", states: { open: {} } });
    const target = CapnWeb.export(root, chat, { label: "chat" });
    cleanups.push(() => CapnWeb.release(target));

    await vi.waitFor(() => expect(inspectorView(events)).toEqual(treeView(CapnWeb.inspect(app), ["app"], undefined)), WAIT);
    expect(inspectorView(events)).toEqual(
      new Set(["app <- (root)", "app/api <- app", "app/api/chat#1 <- app/api", "app/workers <- app", "app/workers/counter <- app/workers"]),
    );
  });

  it("a crashed and restarted XState child takes its place again under the same name", async () => {
    const events: InspectionEvent[] = [];
    let starts = 0;
    const fragile = setup({ actions: { started: () => void starts++ } }).createMachine({
      id: "fragile",
      entry: "started",
      on: {
        CRASH: {
          actions: () => {
            throw new Error("crashed on purpose");
          },
        },
      },
    });
    let current: AnyActorRef | undefined;
    const app = await CapnWeb.Supervisor.start([CapnWeb.Supervisor.actor(fragile, { id: "fragile", onStart: (actor) => void (current = actor) })], {
      name: "restarting",
      inspect: (event) => void events.push(event),
    });
    cleanups.push(() => app.close());
    current!.send({ type: "CRASH" });
    await vi.waitFor(() => expect(starts).toBe(2), WAIT);
    const named = events.filter((event) => event.type === "@xstate.actor" && (event.actorRef as { systemId?: string }).systemId === "restarting/fragile");
    expect(named).toHaveLength(2);
    expect(CapnWeb.inspect(app).children[0]).toMatchObject({ status: "running", restarts: 1 });
  });

  it("an uninspected tree creates no stand-in actors", async () => {
    const counter = setup({}).createMachine({ id: "plain" });
    let actor: AnyActorRef | undefined;
    const app = await CapnWeb.Supervisor.start([CapnWeb.Supervisor.actor(counter, { id: "plain", onStart: (started) => void (actor = started) })], { name: "plain" });
    cleanups.push(() => app.close());
    expect((actor as { _parent?: unknown })._parent).toBeUndefined();
    expect((actor as { systemId?: string }).systemId).toBeUndefined();
  });
});
