// What survives a reconnect: restorable capabilities, target actors and dependents of a
// supervised session, against capnweb's server and ours, each killed and started again on the
// same port while the client runs.

import diagnostics from "node:diagnostics_channel";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";
import {
  type Authed,
  type EventHandler,
  FAST_RECONNECT,
  type RestoreApi,
  SERVERS,
  World,
  recordingProxy,
  sleep,
} from "./restore-fixtures.js";

const WAIT = { timeout: 5_000, interval: 5 };

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let names = 0;
const uniqueName = (): string => `restore-${process.pid}-${++names}`;

/** A supervised session to `url`, and its name. */
async function supervise(url: string, options: Partial<CapnWeb.Session.SessionSpecOptions<RestoreApi>> = {}) {
  const name = uniqueName();
  const app = await CapnWeb.Supervisor.start([CapnWeb.Session.spec<RestoreApi>({ name, url, reconnect: FAST_RECONNECT, heartbeat: 0, ...options })], {
    name: "restore-test",
  });
  cleanups.push(() => app.close());
  return { app, name, root: CapnWeb.session<RestoreApi>(name) };
}

function sessionOf(app: CapnWeb.Supervisor): CapnWeb.SessionInspection {
  const node = CapnWeb.inspect(app).children[0]?.actor;
  if (node?.kind !== "session") throw new Error(`not a session: ${node?.kind}`);
  return node;
}

/** The event handler the tests subscribe: a stateful actor keeping a cursor and what it saw. */
function eventBridge() {
  return CapnWeb.target<{ cursor: number; seen: number[] }, EventHandler>({
    init: () => ({ cursor: 0, seen: [] }),
    handlers: {
      onEvent: ([seq], state) => {
        state.seen.push(seq);
        return { reply: null, state: { cursor: seq, seen: state.seen } };
      },
    },
  });
}

describe.each(SERVERS)("against %s", (_label, makeServer) => {
  async function world() {
    const state = new World();
    const server = await makeServer(state);
    cleanups.push(() => server.stop().catch(() => {}));
    return { state, server };
  }

  /** Kills the server, waits until the session noticed, and starts it again on the same port. */
  async function restart(server: Awaited<ReturnType<typeof makeServer>>, app: CapnWeb.Supervisor): Promise<void> {
    const connects = sessionOf(app).connects;
    await server.stop();
    await vi.waitFor(() => expect(sessionOf(app).status).not.toBe("connected"), WAIT);
    await server.start();
    await vi.waitFor(() => expect(sessionOf(app).connects).toBe(connects + 1), WAIT);
  }

  it("an authenticated capability is derived again on the new connection and keeps working", async () => {
    const { state, server } = await world();
    const { app, root, name } = await supervise(server.url);
    const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"));
    expect(await authed.whoami()).toBe("ada");
    await restart(server, app);
    await CapnWeb.ready(name, { timeout: 5_000 });
    expect(await authed.whoami()).toBe("ada");
    expect(state.authentications).toBe(2);
    expect(sessionOf(app).restorables).toEqual([expect.objectContaining({ state: "live", restores: 2 })]);
  });

  it("a subscription resumes from its cursor across 20 restarts while events flow: no event lost, none twice", async () => {
    const { state, server } = await world();
    const { app, root, name } = await supervise(server.url);
    const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"), { label: "authed" });
    const bridge = CapnWeb.export(root, eventBridge(), { label: "bridge" });
    const actor = CapnWeb.targetActorOf(bridge)!;
    // Derived from a restorable, passing an exported target, reading the actor's cursor each time.
    const subscription = CapnWeb.restorable(authed, (session) => session.events().subscribe(bridge, actor.snapshot().cursor), { label: "events" });
    await CapnWeb.ready(name, { timeout: 5_000 });
    const producer = setInterval(() => state.produce(), 2);
    try {
      for (let i = 0; i < 20; i++) {
        await restart(server, app);
        await CapnWeb.ready(name, { timeout: 5_000 });
        const before = actor.snapshot().seen.length;
        await vi.waitFor(() => expect(actor.snapshot().seen.length).toBeGreaterThan(before), WAIT);
      }
    } finally {
      clearInterval(producer);
    }
    await vi.waitFor(() => expect(actor.snapshot().cursor).toBe(state.produced), WAIT);
    const seen = actor.snapshot().seen;
    expect(seen).toEqual(Array.from({ length: state.produced }, (_, i) => i + 1));
    expect({ subscribes: state.subscribes, restorables: sessionOf(app).restorables.map((r) => r.restores) }).toEqual({ subscribes: 21, restorables: [21, 21] });
    expect(actor.isRunning).toBe(true);
    CapnWeb.release([subscription, authed]);
  }, 60_000);

  it("all restores of a reconnect leave before the first answer arrives: one round trip", async () => {
    const { server } = await world();
    const proxy = await recordingProxy(server.port);
    cleanups.push(() => proxy.close());
    const { app, root, name } = await supervise(proxy.url);
    const bridge = CapnWeb.export(root, eventBridge());
    // Held for the whole test: a dropped restorable is released when collected, like any stub.
    const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"));
    const held = [authed, CapnWeb.restorable(authed, (session) => session.events().subscribe(bridge, 0)), CapnWeb.restorable(root, (api) => api.events().subscribe(bridge, 0))];
    await CapnWeb.ready(name, { timeout: 5_000 });
    await restart(server, app);
    await CapnWeb.ready(name, { timeout: 5_000 });
    const messages = proxy.connections.at(-1)!.messages;
    const firstAnswer = messages.findIndex((m) => m === "in:resolve" || m === "in:reject");
    const pulls = messages.slice(0, firstAnswer).filter((m) => m === "out:pull").length;
    // Three restorables, three pulls (one per derivation), all before the first answer.
    expect(firstAnswer).toBeGreaterThan(0);
    expect(pulls).toBe(3);
    expect(messages.slice(0, firstAnswer).every((m) => m.startsWith("out:"))).toBe(true);
    CapnWeb.release([...held, bridge]);
  });

  it("a restore that fails makes calls on that restorable fail with restore_failed naming it and carrying the cause; it is logged and published", async () => {
    const { state, server } = await world();
    const { app, root, name } = await supervise(server.url);
    const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"), { label: "ada's session" });
    expect(await authed.whoami()).toBe("ada");
    const published: CapnWeb.TelemetryMessages["restore:failed"][] = [];
    const listener = (message: unknown) => void published.push(message as CapnWeb.TelemetryMessages["restore:failed"]);
    diagnostics.subscribe("capnweb:restore:failed", listener);
    cleanups.push(() => diagnostics.unsubscribe("capnweb:restore:failed", listener));
    state.tokens.delete("token-ada");
    await restart(server, app);
    await CapnWeb.ready(name, { timeout: 5_000 });
    const result = await CapnWeb.await(authed.whoami());
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.type).toBe("restore_failed");
    expect(result.error.message).toContain("ada's session");
    expect((result.error.cause as CapnWeb.Error).message).toContain("invalid token");
    expect(published).toEqual([expect.objectContaining({ restorable: "ada's session", error: expect.objectContaining({ type: "restore_failed" }) })]);
    expect(sessionOf(app).restorables).toEqual([expect.objectContaining({ state: "failed", lastError: expect.stringContaining("invalid token") })]);
    // The session itself is fine.
    expect(await root.square(3)).toBe(9);
  });

  it("a fatal restore failure crashes the session, and its supervisor restarts it", async () => {
    const { state, server } = await world();
    const { app, root } = await supervise(server.url);
    const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"), { fatal: true });
    await vi.waitFor(() => expect(sessionOf(app).restorables[0]?.state).toBe("live"), WAIT);
    state.tokens.delete("token-ada");
    await server.stop();
    await server.start();
    await vi.waitFor(() => expect(CapnWeb.inspect(app).children[0]?.restarts).toBe(1), WAIT);
    // A restart is a new session: what the old one restored ended with it.
    await vi.waitFor(() => expect(sessionOf(app).status).toBe("connected"), WAIT);
    expect(sessionOf(app).restorables).toEqual([]);
    CapnWeb.release(authed);
  });

  it("a released restorable is released on the peer and never derived again; both sides' tables return to baseline", async () => {
    const { state, server } = await world();
    const { app, root, name } = await supervise(server.url);
    const baseline = { client: CapnWeb.stats(root), server: server.stats() };
    const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"));
    expect(await authed.whoami()).toBe("ada");
    await restart(server, app);
    await CapnWeb.ready(name, { timeout: 5_000 });
    expect(await authed.whoami()).toBe("ada");
    CapnWeb.release(authed);
    await vi.waitFor(() => expect({ client: CapnWeb.stats(root), server: server.stats() }).toEqual(baseline), WAIT);
    expect(sessionOf(app).restorables).toEqual([]);
    await restart(server, app);
    await CapnWeb.ready(name, { timeout: 5_000 });
    expect(state.authentications).toBe(2);
    expect((await CapnWeb.await(authed.whoami())).ok).toBe(false);
  });

  it("a restorable obtained inside a scope is released when the scope ends", async () => {
    const { server } = await world();
    const { app, root } = await supervise(server.url);
    const baseline = server.stats();
    await CapnWeb.scope(async () => {
      const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"));
      expect(await authed.whoami()).toBe("ada");
    });
    expect(sessionOf(app).restorables).toEqual([]);
    await vi.waitFor(() => expect(server.stats()).toEqual(baseline), WAIT);
  });

  it("with a queue, a call on a restorable made during the outage waits, and leaves after the restore", async () => {
    const { server } = await world();
    const { app, root } = await supervise(server.url, { queue: { max: 10, timeout: 5_000 } });
    const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"));
    expect(await authed.whoami()).toBe("ada");
    await server.stop();
    await vi.waitFor(() => expect(sessionOf(app).status).not.toBe("connected"), WAIT);
    const waiting = authed.whoami();
    await sleep(30);
    await server.start();
    expect(await waiting).toBe("ada");
  });

  it("without a queue, a call on a restorable during the outage fails fast with disconnected", async () => {
    const { server } = await world();
    const { app, root } = await supervise(server.url);
    const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"));
    expect(await authed.whoami()).toBe("ada");
    await server.stop();
    await vi.waitFor(() => expect(sessionOf(app).status).not.toBe("connected"), WAIT);
    const during = await CapnWeb.await(authed.whoami());
    expect(!during.ok && during.error.type).toBe("disconnected");
  });

  it("an exported target actor outlives the connection: its state lives on, and it is exported again when passed again", async () => {
    const { state, server } = await world();
    const { app, root, name } = await supervise(server.url);
    const bridge = CapnWeb.export(root, eventBridge());
    const actor = CapnWeb.targetActorOf(bridge)!;
    const first = await root.events().subscribe(bridge, 0);
    state.produce();
    await vi.waitFor(() => expect(actor.snapshot().seen).toEqual([1]), WAIT);
    await restart(server, app);
    await CapnWeb.ready(name, { timeout: 5_000 });
    expect(actor.isRunning).toBe(true);
    expect(sessionOf(app).targets).toEqual([expect.objectContaining({ status: "running" })]);
    const second = await root.events().subscribe(bridge, actor.snapshot().cursor);
    state.produce();
    await vi.waitFor(() => expect(actor.snapshot().seen).toEqual([1, 2]), WAIT);
    // The capability obtained on the old connection is stale, and says so.
    const stale = await CapnWeb.await(first.cancel());
    expect(!stale.ok && stale.error.type).toBe("stale");
    if (!stale.ok) expect(stale.error.message).toMatch(/connection that has ended.*restorable/);
    CapnWeb.release([first, second, bridge]);
  });

  it("a dependent is started again after each reconnect, while its supervisor's restart count stays at zero", async () => {
    const { server } = await world();
    const name = uniqueName();
    const workers = new Workers();
    const app = await CapnWeb.Supervisor.start(
      [CapnWeb.Session.spec<RestoreApi>({ name, url: server.url, reconnect: FAST_RECONNECT, heartbeat: 0 }), CapnWeb.Session.dependent(name, workers.spec())],
      { name: "with-dependent" },
    );
    cleanups.push(() => app.close());
    await vi.waitFor(() => expect(workers.started).toBe(1), WAIT);
    for (let i = 0; i < 3; i++) await restart(server, app);
    await vi.waitFor(() => expect(workers.started).toBe(4), WAIT);
    // Each earlier incarnation was stopped before the next started.
    expect(workers.running).toBe(1);
    const tree = CapnWeb.inspect(app);
    expect(tree.restarts.used).toBe(0);
    expect(tree.children.map((child) => child.restarts)).toEqual([0, 0]);
    const node = tree.children[1]?.actor;
    expect(node?.kind === "dependent" && node.reconnectRestarts).toBe(3);
  });

  it("a dependent that crashes while its session is down waits for the connection instead of burning restart intensity", async () => {
    const { server } = await world();
    const name = uniqueName();
    const workers = new Workers();
    const app = await CapnWeb.Supervisor.start(
      [CapnWeb.Session.spec<RestoreApi>({ name, url: server.url, reconnect: FAST_RECONNECT, heartbeat: 0 }), CapnWeb.Session.dependent(name, workers.spec())],
      // With no restart allowed, a counted restart would end the whole tree.
      { name: "with-dependent", maxRestarts: 0 },
    );
    cleanups.push(() => app.close());
    await vi.waitFor(() => expect(workers.started).toBe(1), WAIT);
    await server.stop();
    await vi.waitFor(() => expect(sessionOf(app).status).not.toBe("connected"), WAIT);
    workers.crashLatest();
    await sleep(20);
    const node = CapnWeb.inspect(app).children[1]?.actor;
    expect(node).toMatchObject({ kind: "dependent", status: "waiting" });
    await server.start();
    await vi.waitFor(() => expect(workers.started).toBe(2), WAIT);
    expect(CapnWeb.inspect(app)).toMatchObject({ status: "running", restarts: { used: 0 } });
  });

  it("a dependent that crashes while its session is up crashes like any child: its supervisor restarts it", async () => {
    const { server } = await world();
    const name = uniqueName();
    const workers = new Workers();
    const app = await CapnWeb.Supervisor.start(
      [CapnWeb.Session.spec<RestoreApi>({ name, url: server.url, reconnect: FAST_RECONNECT, heartbeat: 0 }), CapnWeb.Session.dependent(name, workers.spec())],
      { name: "with-dependent" },
    );
    cleanups.push(() => app.close());
    await vi.waitFor(() => expect(workers.started).toBe(1), WAIT);
    workers.crashLatest();
    await vi.waitFor(() => expect(workers.started).toBe(2), WAIT);
    expect(CapnWeb.inspect(app).children[1]?.restarts).toBe(1);
  });

  it("ready() resolves once connected and restored, and rejects with timeout while the server is down", async () => {
    const { server } = await world();
    const { app, root, name } = await supervise(server.url);
    const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"));
    await CapnWeb.ready(root, { timeout: 5_000 });
    expect(sessionOf(app).restorables[0]?.state).toBe("live");
    await server.stop();
    await vi.waitFor(() => expect(sessionOf(app).status).not.toBe("connected"), WAIT);
    await expect(CapnWeb.ready(name, { timeout: 30 })).rejects.toMatchObject({ type: "timeout" });
    await expect(CapnWeb.ready("no-such-session")).rejects.toMatchObject({ type: "not_found" });
    CapnWeb.release(authed);
  });

  it("connection:restored carries how many restorables were restored and how long it took", async () => {
    const { server } = await world();
    const { app, root } = await supervise(server.url);
    const authed = CapnWeb.restorable(root, (api) => api.authenticate("token-ada"));
    const events = CapnWeb.restorable(authed, (session: CapnWeb.Stub<Authed>) => session.events());
    await vi.waitFor(() => expect(sessionOf(app).restorables.map((r) => r.state)).toEqual(["live", "live"]), WAIT);
    const seen: CapnWeb.TelemetryMessages["connection:restored"][] = [];
    const listener = (message: unknown) => void seen.push(message as CapnWeb.TelemetryMessages["connection:restored"]);
    diagnostics.subscribe("capnweb:connection:restored", listener);
    cleanups.push(() => diagnostics.unsubscribe("capnweb:connection:restored", listener));
    await restart(server, app);
    await vi.waitFor(() => expect(seen).toHaveLength(1), WAIT);
    expect(seen[0]).toMatchObject({ restored: 2, failed: 0 });
    expect(seen[0]!.duration).toBeGreaterThanOrEqual(0);
    expect(sessionOf(app).restorables[1]).toMatchObject({ derivedFrom: expect.stringContaining("authenticate") });
    CapnWeb.release([events, authed]);
  });
});

/** A plain child whose incarnations the tests count, and can crash. */
class Workers {
  started = 0;
  private readonly live = new Set<{ exit(reason: CapnWeb.ExitReason): void }>();

  get running(): number {
    return this.live.size;
  }

  spec(): CapnWeb.ChildSpec {
    return {
      id: "worker",
      start: () => {
        this.started++;
        let exit!: (reason: CapnWeb.ExitReason) => void;
        const exited = new Promise<CapnWeb.ExitReason>((resolve) => (exit = resolve));
        const handle = {
          exit: (reason: CapnWeb.ExitReason) => {
            this.live.delete(handle);
            exit(reason);
          },
        };
        this.live.add(handle);
        return {
          exited,
          stop: () => handle.exit("shutdown"),
          kill: () => handle.exit("shutdown"),
          inspect: () => ({ kind: "worker", status: "running" }),
        };
      },
    };
  }

  crashLatest(): void {
    const latest = [...this.live].at(-1);
    latest?.exit({ error: new Error("worker crashed") });
  }
}
