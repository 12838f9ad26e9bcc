// The ownership scenarios, written once and run against both servers (a real capnweb 0.12 server,
// and ours): after each one, our session's tables (CapnWeb.stats) and the server's session that
// served it are back at their baseline, the main interfaces only: { imports: 1, exports: 1 }.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type AnyActorRef, assign, fromPromise, setup } from "xstate";
import * as CapnWeb from "../../src/index.js";
import { WAIT, chatClient, recordReleases, streamCollector, type ChatSeen, type CollectorState, type ServerState } from "./helpers.js";

export const BASELINE = { imports: 1, exports: 1 };

/** One connection of our client, and what the server keeps for it. */
export interface Client {
  api: any;
  /** The table sizes of the server's session serving this connection. */
  peerStats(): { imports: number; exports: number };
  /** What the server's main object for this connection saw. */
  state: ServerState;
}

/** Both sides of a connection are back at the main interfaces only. */
export async function expectBaseline(client: Client): Promise<void> {
  await vi.waitFor(() => {
    expect(CapnWeb.stats(client.api)).toEqual(BASELINE);
    expect(client.peerStats()).toEqual(BASELINE);
  }, WAIT);
}

/** Registers every scenario; `connectClient` opens a new connection (and checks it works). */
export function ownershipScenarios(connectClient: () => Promise<Client>): void {
  let client: Client;
  let api: any;
  const peerStats = () => client.peerStats();

  beforeEach(async () => {
    client = await connectClient();
    api = client.api;
    await expectBaseline(client);
  });

  afterEach(async () => {
    // Every scenario ends at the baseline itself; this double-checks before closing.
    try {
      await expectBaseline(client);
    } finally {
      CapnWeb.close(api);
    }
  });

  describe("callbacks", () => {
    it("the server calls a plain function several times, then releases it", async () => {
      const seen: number[] = [];
      const results = await api.callMany((i: number) => {
        seen.push(i);
        return i * 10;
      }, 8);
      expect(results).toEqual([0, 10, 20, 30, 40, 50, 60, 70]);
      expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      await expectBaseline(client);
    });

    it("an exported function is a target actor: it counts the calls and stops when the server releases it", async () => {
      const fn = CapnWeb.export(api, (i: number) => i + 100, { label: "adder" });
      const actor = CapnWeb.targetActorOf(fn)!;
      expect(await api.callMany(fn, 5)).toEqual([100, 101, 102, 103, 104]);
      await expectBaseline(client);
      expect(actor.inspect()).toMatchObject({ status: "stopped", stopReason: "released", calls: 5 });
      CapnWeb.release(fn);
      await expectBaseline(client);
    });

    it("a callback that calls the server back while it is being called", async () => {
      const results = await api.callMany(async (i: number) => (await api.square(i)) + 1, 6);
      expect(results).toEqual([1, 2, 5, 10, 17, 26]);
      await expectBaseline(client);
    });

    it("a callback that obtains capabilities from the server while being called: ours until released", async () => {
      // A plain function has no owner: what it obtains stays ours (the server keeps exporting
      // the counters) until released here.
      const obtained: any[] = [];
      const results = await api.callMany(async (i: number) => {
        const counter = await api.makeCounter(i);
        obtained.push(counter);
        return await counter.increment(1);
      }, 4);
      expect(results).toEqual([1, 2, 3, 4]);
      await vi.waitFor(() => expect(peerStats().exports).toBe(5), WAIT);
      CapnWeb.release(obtained);
      await expectBaseline(client);
      expect(client.state.countersDisposed).toBe(4);
    });
  });

  describe("a stateful collector (the original StreamCollector)", () => {
    it("the server streams items into it; our state holds them in order; everything is released", async () => {
      const collector = CapnWeb.export(api, streamCollector(), { label: "stream-collector" });
      const actor = CapnWeb.targetActorOf(collector)!;
      const items = Array.from({ length: 25 }, (_, i) => ({ id: i, name: `row-${i}` }));
      expect(await api.streamInto(collector, items)).toEqual({ streamed: 25, count: 25 });
      const state = actor.snapshot() as CollectorState;
      expect(state.items).toEqual(items);
      expect(state.count).toBe(25);
      expect(state.done).toBe(true);
      await expectBaseline(client);
      // The server released the argument when streamInto returned (capnweb disposes it, ours
      // releases it): the actor stopped with it.
      expect(actor.inspect()).toMatchObject({ status: "stopped", stopReason: "released", calls: 26 });
      CapnWeb.release(collector);
      await expectBaseline(client);
    });
  });

  describe("a chat room", () => {
    it("the server keeps each member's callback and calls it; leaving releases it; two clients chat", async () => {
      const other = await connectClient();
      try {
        const room = `room-${Math.random()}`;
        const alice = CapnWeb.export(api, chatClient(), { label: "alice" });
        const bob = CapnWeb.export(other.api, chatClient(), { label: "bob" });
        const aliceActor = CapnWeb.targetActorOf(alice)!;
        const bobActor = CapnWeb.targetActorOf(bob)!;

        const aliceIn = await api.join(room, "alice", alice);
        const bobIn = await other.api.join(room, "bob", bob);
        expect(await aliceIn.members()).toEqual(["alice", "bob"]);
        // The room holds each member: one import more on each server session.
        await vi.waitFor(() => expect(peerStats().imports).toBe(2), WAIT);
        await vi.waitFor(() => expect(other.peerStats().imports).toBe(2), WAIT);

        expect(await aliceIn.send("hi bob")).toBe(2);
        expect(await bobIn.send("hi alice")).toBe(2);
        expect(await aliceIn.send("bye")).toBe(2);
        await bobIn.leave();
        await vi.waitFor(() => expect(bobActor.isRunning).toBe(false), WAIT);
        await aliceIn.leave();

        expect((aliceActor.snapshot() as ChatSeen).lines).toEqual(["+bob", "alice: hi bob", "bob: hi alice", "alice: bye", "-bob"]);
        expect((bobActor.snapshot() as ChatSeen).lines).toEqual(["alice: hi bob", "bob: hi alice", "alice: bye"]);

        CapnWeb.release([aliceIn, bobIn, alice, bob]);
        await expectBaseline(client);
        await expectBaseline(other);
        expect(aliceActor.inspect()).toMatchObject({ status: "stopped", stopReason: "released" });
        expect(bobActor.inspect()).toMatchObject({ status: "stopped", stopReason: "released" });
      } finally {
        CapnWeb.close(other.api);
      }
    });

    it("a member whose connection closes without leaving: its actor stops, the room drops it, the rest is released", async () => {
      const other = await connectClient();
      const room = `room-${Math.random()}`;
      const alice = CapnWeb.export(api, chatClient(), { label: "alice" });
      const bob = CapnWeb.export(other.api, chatClient(), { label: "bob" });
      const bobActor = CapnWeb.targetActorOf(bob)!;
      const aliceIn = await api.join(room, "alice", alice);
      await other.api.join(room, "bob", bob);
      expect(await aliceIn.send("anyone?")).toBe(2);
      CapnWeb.close(other.api);
      await vi.waitFor(() => expect(bobActor.isRunning).toBe(false), WAIT);
      // The room still holds bob's (now broken) stub: calling it fails, the broadcast carries on.
      expect(await aliceIn.send("still there?")).toBe(2);
      await aliceIn.leave();
      CapnWeb.release([aliceIn, alice]);
      await expectBaseline(client);
    });
  });

  describe("the reason a target actor stopped", () => {
    // TargetStopReason has "session-ended" for this case (README: a target actor stops "when its
    // session ends").
    it("is session-ended when its session closes while the peer holds it", async () => {
      const other = await connectClient();
      const cap = CapnWeb.export(other.api, chatClient(), { label: "held" });
      const actor = CapnWeb.targetActorOf(cap)!;
      await other.api.hold(cap);
      CapnWeb.close(other.api);
      await vi.waitFor(() => expect(actor.isRunning).toBe(false), WAIT);
      expect(actor.inspect().stopReason).toBe("session-ended");
    });

    it("is session-ended when its session closes before it was ever sent", async () => {
      const other = await connectClient();
      const cap = CapnWeb.export(other.api, chatClient(), { label: "never-sent" });
      const actor = CapnWeb.targetActorOf(cap)!;
      CapnWeb.close(other.api);
      await vi.waitFor(() => expect(actor.isRunning).toBe(false), WAIT);
      expect(actor.inspect().stopReason).toBe("session-ended");
    });
  });

  describe("map() with captured stubs", () => {
    it("a mapper calling a captured (resolved) capability", async () => {
      const cache = await api.cache();
      const ids = api.ids(4);
      expect(await ids.map((id: any) => cache.get(id))).toEqual(["v1", "v2", "v3", "v4"]);
      expect(client.state.cacheLookups).toBe(4);
      // The never-awaited `ids` promise and the cache are still ours to give back.
      expect(CapnWeb.stats(api).imports).toBeGreaterThan(1);
      CapnWeb.release([ids, cache]);
      await expectBaseline(client);
    });

    it("a mapper calling a captured promise (api.cache() not awaited)", async () => {
      const cache = api.cache();
      const ids = api.ids(3);
      expect(await ids.map((id: any) => cache.get(id))).toEqual(["v1", "v2", "v3"]);
      CapnWeb.release([ids, cache]);
      await expectBaseline(client);
    });

    it("a mapper returning capabilities: the caller owns each and releases them", async () => {
      const ids = api.ids(3);
      const counters = await ids.map((id: any) => api.makeCounter(id));
      expect(counters).toHaveLength(3);
      expect(await Promise.all(counters.map((c: any) => c.increment(10)))).toEqual([11, 12, 13]);
      CapnWeb.release([ids, counters]);
      await expectBaseline(client);
      expect(client.state.countersDisposed).toBe(3);
    });

    it("the same, inside a scope: nothing to release by hand", async () => {
      const values = await CapnWeb.scope(async () => {
        const cache = api.cache();
        const counters = await api.ids(2).map((id: any) => api.makeCounter(id));
        const looked = await api.ids(2).map((id: any) => cache.get(id));
        return { looked, incremented: await Promise.all(counters.map((c: any) => c.increment(1))) };
      });
      expect(values).toEqual({ looked: ["v1", "v2"], incremented: [2, 3] });
      await expectBaseline(client);
      expect(client.state.countersDisposed).toBe(2);
    });
  });

  describe("a crashing target", () => {
    it("the caller gets the error; with onError stop, the peer's later calls fail with released; what it obtained is released", async () => {
      const disposed: unknown[] = [];
      const crashy = CapnWeb.export(
        api,
        CapnWeb.target({
          init: () => ({ n: 0, counter: undefined as unknown }),
          handlers: {
            ok: (_args, state) => ({ reply: state.n + 1, state: { ...state, n: state.n + 1 } }),
            grab: async (_args, state) => {
              const counter = await api.makeCounter(5);
              return { reply: await counter.increment(1), state: { ...state, counter } };
            },
            boom: () => {
              throw new RangeError("boom");
            },
          },
          onError: "stop",
          dispose: (state) => disposed.push(state),
        }),
        { label: "crashy" },
      );
      const actor = CapnWeb.targetActorOf(crashy)!;
      expect(await api.hold(crashy)).toBe(1);
      expect(await api.callHeld("ok")).toEqual([{ ok: true, value: 1 }]);
      expect(await api.callHeld("grab")).toEqual([{ ok: true, value: 6 }]);
      // The counter the target obtained is exported by the server to us.
      await vi.waitFor(() => expect(peerStats().exports).toBe(2), WAIT);
      expect(actor.inspect().holding).toBeGreaterThanOrEqual(1);

      expect(await api.callHeld("boom")).toEqual([expect.objectContaining({ ok: false, message: "boom" })]);
      await vi.waitFor(() => expect(actor.inspect()).toMatchObject({ status: "stopped", stopReason: "crashed" }), WAIT);
      expect(disposed).toHaveLength(1);
      // What it obtained was released: the server disposed the counter.
      await vi.waitFor(() => expect(client.state.countersDisposed).toBe(1), WAIT);
      await vi.waitFor(() => expect(peerStats().exports).toBe(1), WAIT);

      const later = await api.callHeld("ok");
      expect(later).toHaveLength(1);
      expect(later[0]).toMatchObject({ ok: false, type: "released" });

      expect(await api.dropHeld()).toBe(1);
      CapnWeb.release(crashy);
      await expectBaseline(client);
      expect(disposed).toHaveLength(1);
    });

    it("onError keep and restart reply with the error and carry on", async () => {
      const make = (onError: "keep" | "restart") =>
        CapnWeb.export(
          api,
          CapnWeb.target({
            init: () => ({ n: 0 }),
            handlers: {
              ok: (_args, state) => ({ reply: state.n + 1, state: { n: state.n + 1 } }),
              boom: () => {
                throw new Error(`boom-${onError}`);
              },
            },
            onError,
          }),
          { label: onError },
        );
      const keep = make("keep");
      const restart = make("restart");
      await api.hold(keep);
      await api.hold(restart);
      expect(await api.callHeld("ok")).toEqual([{ ok: true, value: 1 }, { ok: true, value: 1 }]);
      // (capnweb's server sees a plain Error; ours a CapnWeb.Error of type "remote")
      expect(await api.callHeld("boom")).toEqual([
        expect.objectContaining({ ok: false, message: "boom-keep" }),
        expect.objectContaining({ ok: false, message: "boom-restart" }),
      ]);
      expect(await api.callHeld("ok")).toEqual([{ ok: true, value: 2 }, { ok: true, value: 1 }]);
      expect(CapnWeb.targetActorOf(keep)!.isRunning).toBe(true);
      expect(await api.dropHeld()).toBe(2);
      CapnWeb.release([keep, restart]);
      await expectBaseline(client);
    });
  });

  describe("owners: scope, withCapability, using", () => {
    it("a scope that throws releases every stub obtained inside it, across awaits, except the kept one", async () => {
      let kept: any;
      await expect(
        CapnWeb.scope(async (scope) => {
          const a = await api.makeCounter(1);
          const pending = api.makeCounter(2); // never awaited
          await a.increment(1);
          const cache = await api.cache();
          await cache.get(1);
          const ids = api.ids(2);
          const counters = await ids.map((id: any) => api.makeCounter(id));
          kept = await api.makeCounter(9);
          scope.keep(kept);
          expect(pending).toBeDefined();
          expect(counters).toHaveLength(2);
          expect(peerStats().exports).toBeGreaterThan(4);
          throw new Error("scope failed");
        }),
      ).rejects.toThrow("scope failed");
      // Everything but `kept` is given back.
      await vi.waitFor(() => expect(peerStats()).toEqual({ imports: 1, exports: 2 }), WAIT);
      expect(await kept.increment(1)).toBe(10);
      CapnWeb.release(kept);
      await expectBaseline(client);
      expect(client.state.countersDisposed).toBe(client.state.countersMade);
    });

    it("withCapability releases on a throw; using releases at the end of the block", async () => {
      await expect(
        CapnWeb.withCapability(api.makeCounter(3), async (counter: any) => {
          expect(await counter.increment(1)).toBe(4);
          throw new Error("inside");
        }),
      ).rejects.toThrow("inside");
      await expectBaseline(client);
      {
        using counter = await api.makeCounter(7);
        expect(await counter.increment(1)).toBe(8);
      }
      await expectBaseline(client);
      expect(client.state.countersDisposed).toBe(2);
    });
  });

  describe("a killed owner actor", () => {
    const counterMachine = (a: any) =>
      setup({
        actors: {
          fetchCounter: fromPromise(async () => {
            const counter = await a.makeCounter(40);
            await counter.increment(2);
            return counter;
          }),
        },
      }).createMachine({
        context: { counter: undefined as any },
        initial: "loading",
        states: {
          loading: {
            invoke: {
              src: "fetchCounter",
              onDone: { target: "ready", actions: assign({ counter: ({ event }) => event.output }) },
            },
          },
          ready: {
            on: {
              crash: {
                actions: () => {
                  throw new Error("actor crashed");
                },
              },
            },
          },
        },
      });

    async function startOwner(restart: "permanent" | "temporary") {
      let ref: AnyActorRef | undefined;
      const supervisor = await CapnWeb.Supervisor.start([
        CapnWeb.Supervisor.actor(counterMachine(api), { id: "owner", restart, onStart: (actor) => (ref = actor) }),
      ]);
      await vi.waitFor(() => expect(ref?.getSnapshot().value).toBe("ready"), WAIT);
      const counter = ref!.getSnapshot().context.counter;
      expect(await counter.value).toBe(42);
      await vi.waitFor(() => expect(peerStats().exports).toBe(2), WAIT);
      return { supervisor, ref: ref! };
    }

    it("supervisor.close() releases the stub the actor obtained through an invoked promise", async () => {
      const { supervisor } = await startOwner("permanent");
      await supervisor.close();
      await expectBaseline(client);
      expect(client.state.countersDisposed).toBe(1);
    });

    it("a crash releases it too", async () => {
      const { supervisor, ref } = await startOwner("temporary");
      ref.send({ type: "crash" });
      expect(ref.getSnapshot().status).toBe("error");
      await expectBaseline(client);
      expect(client.state.countersDisposed).toBe(1);
      await supervisor.close();
    });
  });

  describe("a target that obtained capabilities while handling calls", () => {
    const holder = (a: any) =>
      CapnWeb.target({
        init: () => ({ held: [] as unknown[] }),
        handlers: {
          // A call's argument is released when the call returns: what the handler keeps, it dup()s.
          take: ([counter], state) => ({ reply: state.held.length + 1, state: { held: [...state.held, (counter as CapnWeb.Stub<unknown>).dup()] } }),
          fetch: async (_args, state) => {
            const counter = await a.makeCounter(100);
            return { reply: await counter.increment(1), state: { held: [...state.held, counter] } };
          },
        },
      });

    it("stops when the server releases it after the call: its argument stubs and call results are released", async () => {
      const cb = CapnWeb.export(api, holder(api), { label: "holder" });
      const actor = CapnWeb.targetActorOf(cb)!;
      expect(await api.feed(cb, 3)).toBe(101);
      await expectBaseline(client);
      expect(actor.inspect()).toMatchObject({ status: "stopped", stopReason: "released", holding: 0 });
      expect(client.state.countersMade).toBe(4);
      expect(client.state.countersDisposed).toBe(4);
      CapnWeb.release(cb);
    });

    it("stops when the application releases it while the server still holds it", async () => {
      const releases = recordReleases();
      try {
        const cb = CapnWeb.export(api, holder(api), { label: "holder" });
        const actor = CapnWeb.targetActorOf(cb)!;
        await api.hold(cb);
        expect(await api.callHeld("fetch")).toEqual([{ ok: true, value: 101 }]);
        expect(await api.callHeld("fetch")).toEqual([{ ok: true, value: 101 }]);
        await vi.waitFor(() => expect(peerStats().exports).toBe(3), WAIT);
        CapnWeb.release(cb);
        expect(actor.inspect()).toMatchObject({ status: "stopped", stopReason: "released" });
        await vi.waitFor(() => expect(client.state.countersDisposed).toBe(2), WAIT);
        expect(releases.events.filter((e) => e.reason === "owner-ended")).toHaveLength(2);
        const later = await api.callHeld("fetch");
        expect(later[0]).toMatchObject({ ok: false, type: "released" });
        await api.dropHeld();
        await expectBaseline(client);
      } finally {
        releases.stop();
      }
    });

    it("an XState target keeps dups of its argument stubs in its context; stopping it releases them", async () => {
      const machine = setup({}).createMachine({
        context: { held: [] as unknown[] },
        on: {
          take: {
            actions: [
              assign({ held: ({ context, event }) => [...context.held, (event as any).args[0].dup()] }),
              ({ context, event }) => (event as any).reply(context.held.length),
            ],
          },
          fetch: {
            actions: ({ event }) => {
              // Calls made from an action are owned by the target too.
              void (async () => {
                const counter = await api.makeCounter(1);
                (event as any).reply(await counter.increment(1));
              })();
            },
          },
        },
      });
      const cb = CapnWeb.export(api, machine, { label: "xstate-holder" });
      const actor = CapnWeb.targetActorOf(cb)!;
      await api.hold(cb);
      expect(await api.feed(cb, 2)).toBe(2);
      await vi.waitFor(() => expect(peerStats().exports).toBe(4), WAIT);
      actor.stop();
      await vi.waitFor(() => expect(client.state.countersDisposed).toBe(3), WAIT);
      const later = await api.callHeld("take", 1);
      expect(later[0]).toMatchObject({ ok: false, type: "released" });
      await api.dropHeld();
      CapnWeb.release(cb);
      await expectBaseline(client);
    });
  });
}
