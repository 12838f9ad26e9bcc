// A pool of supervised sessions: size, overflow under load, least-busy choice, one connection per
// pipeline, and XState inspection of every actor in the tree.

import { afterEach, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";

class Api extends CapnWeb.Target {
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  square(i: number) {
    return i * i;
  }
  /** Holds the call until release() is called: keeps a connection busy. */
  hold() {
    this.gate ??= new Promise<void>((resolve) => (this.open = resolve));
    return this.gate;
  }
  release() {
    this.open?.();
    this.gate = undefined;
  }
  whoami(tag: string) {
    return { tag, connection: this.id };
  }
  readonly id = Math.random().toString(36).slice(2);
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer() {
  const mains: Api[] = [];
  const server = await CapnWeb.serve({
    port: 0,
    main: () => {
      const api = new Api();
      mains.push(api);
      return api;
    },
  });
  cleanups.push(() => server.close());
  return { server, mains };
}

describe("Pool", () => {
  it("opens `size` connections and hands out the least busy one", async () => {
    const { server, mains } = await startServer();
    const name = `pool-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([CapnWeb.Pool.spec({ name, url: server.wsUrl, size: 3 })]);
    cleanups.push(() => root.close());
    await vi.waitFor(() => expect(server.handlers.stats().sessions).toBe(3));

    // Keep one connection busy: the next picks go elsewhere.
    const busy = CapnWeb.session<Api>(name);
    const held = CapnWeb.await(busy.hold());
    await vi.waitFor(() => expect(mains.some((m) => (m as any).gate)).toBe(true));
    const other = CapnWeb.session<Api>(name);
    expect(other).not.toBe(busy);
    expect(await other.square(4)).toBe(16);
    for (const main of mains) main.release();
    await held;
  });

  it("keeps a whole pipeline on one connection", async () => {
    const { server } = await startServer();
    const name = `pool-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([CapnWeb.Pool.spec({ name, url: server.wsUrl, size: 4 })]);
    cleanups.push(() => root.close());
    const api = CapnWeb.session<Api>(name);
    const [a, b, c] = await Promise.all([api.whoami("a"), api.whoami("b"), api.whoami("c")]);
    expect(new Set([a.connection, b.connection, c.connection]).size).toBe(1);
  });

  it("starts overflow sessions under load and stops them once idle", async () => {
    const { server, mains } = await startServer();
    const name = `pool-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([
      CapnWeb.Pool.spec({ name, url: server.wsUrl, size: 1, overflow: 2, idleTimeout: 100 }),
    ]);
    cleanups.push(() => root.close());
    const first = CapnWeb.session<Api>(name);
    const held = CapnWeb.await(first.hold());
    await vi.waitFor(() => expect(mains[0] && (mains[0] as any).gate).toBeTruthy());
    CapnWeb.session<Api>(name); // every session busy: an overflow session starts
    await vi.waitFor(() => expect(server.handlers.stats().sessions).toBe(2));
    const pool = (root.inspect().children as any[])[0].actor;
    expect(pool.kind).toBe("pool");
    expect(pool.overflow.max).toBe(2);

    mains[0]!.release();
    await held;
    await vi.waitFor(() => expect(server.handlers.stats().sessions).toBe(1), { timeout: 5_000 });
  });
});

describe("session roots outlive whoever releases them", () => {
  it("a pool member's root, released or disposed by one caller, still serves the next", async () => {
    const { server } = await startServer();
    const name = `pool-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([CapnWeb.Pool.spec({ name, url: server.wsUrl, size: 1 })]);
    cleanups.push(() => root.close());
    await vi.waitFor(() => expect(server.handlers.stats().sessions).toBe(1));
    {
      using api = CapnWeb.session<Api>(name);
      expect(await api.square(2)).toBe(4);
    }
    CapnWeb.release(CapnWeb.session<Api>(name));
    expect(await CapnWeb.session<Api>(name).square(3)).toBe(9);
  });

  it("a named session's root, released, still serves whoever holds it and the next caller", async () => {
    const { server } = await startServer();
    const name = `session-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ name, url: server.wsUrl })]);
    cleanups.push(() => root.close());
    const first = CapnWeb.session<Api>(name);
    expect(await first.square(2)).toBe(4);
    CapnWeb.release(first);
    expect(await first.square(4)).toBe(16);
    expect(await CapnWeb.session<Api>(name).square(3)).toBe(9);
  });

  it("onConnect's root, released by the hook, does not break the session", async () => {
    const { server } = await startServer();
    const name = `session-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([
      CapnWeb.Session.spec({ name, url: server.wsUrl, onConnect: async (api) => CapnWeb.release(api) }),
    ]);
    cleanups.push(() => root.close());
    expect(await CapnWeb.session<Api>(name).square(5)).toBe(25);
  });
});

describe("inspection", () => {
  it("passes the root's XState inspect observer to every actor in the tree", async () => {
    const { server } = await startServer();
    const seen = new Set<string>();
    const root = await CapnWeb.Supervisor.start(
      [CapnWeb.Session.spec({ id: "one", url: server.wsUrl }), CapnWeb.Session.spec({ id: "two", url: server.wsUrl })],
      {
        name: "app",
        inspect: (event: any) => {
          if (event.type === "@xstate.snapshot") seen.add(`${event.actorRef.id}:${String(event.snapshot.value)}`);
        },
      },
    );
    cleanups.push(() => root.close());
    expect([...seen].filter((s) => s.endsWith(":connected")).length).toBeGreaterThanOrEqual(2);

    const tree = CapnWeb.inspect(root) as any;
    expect(tree).toMatchObject({ kind: "supervisor", name: "app", status: "running", strategy: "one_for_one" });
    expect(tree.children.map((c: any) => [c.id, c.actor.kind, c.actor.status])).toEqual([
      ["one", "session", "connected"],
      ["two", "session", "connected"],
    ]);
    expect(tree.children[0].actor.tables).toEqual({ imports: 1, exports: 1 });
  });

  it("each tree's observer sees its own sessions only, and none after they stopped", async () => {
    const { server } = await startServer();
    const sessionsSeenBy = (seen: Set<string>) => (event: any) => {
      if (event.type === "@xstate.snapshot" && event.actorRef.getSnapshot().context?.name) seen.add(event.actorRef.getSnapshot().context.name);
    };
    const seenByA = new Set<string>();
    const seenByB = new Set<string>();
    const a = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ id: "a1", url: server.wsUrl })], { name: "a", inspect: sessionsSeenBy(seenByA) });
    const b = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ id: "b1", url: server.wsUrl })], { name: "b", inspect: sessionsSeenBy(seenByB) });
    cleanups.push(() => b.close());
    expect([...seenByA]).toEqual(["a1"]);
    expect([...seenByB]).toEqual(["b1"]);

    await a.close();
    const afterStop = seenByA.size;
    const c = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ id: "c1", url: server.wsUrl })], { name: "c" });
    cleanups.push(() => c.close());
    expect(seenByA.size).toBe(afterStop);
    expect([...seenByB]).toEqual(["b1"]);
  });
});
