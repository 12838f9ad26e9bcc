// Scenarios our client must pass against any Cap'n Web server offering the interop API, written
// once and run against capnweb's server (our-client-capnweb-server) and ours (ours-both-ends).

import { expect, it } from "vitest";
import * as CapnWeb from "../../src/index.js";

type Cap<T> = T & CapnWeb.Target;

/** A Target our client passes to the server. */
export class LocalCounter extends CapnWeb.Target {
  constructor(public count: number) {
    super();
  }
  increment(amount: number) {
    this.count += amount;
    return this.count;
  }
}

/** The part of both servers' interop API these scenarios use. */
export interface ScenarioApi {
  square(i: number): number;
  add(a: number, b: number): number;
  generateFibonacci(length: number): number[];
  makeCounter(start: number): Cap<{ increment(amount?: number): number; record(id: number): number; log(): number[] }>;
  users(): Cap<{ get(id: number): Cap<{ profile(): Cap<{ name(): string }> }> }>;
  incrementCounter(counter: Cap<{ increment(amount: number): number }>, amount: number): number;
  callFunction(fn: (i: number) => number, i: number): { result: number };
}

export interface ScenarioSession {
  /** WebSocket (a session that lasts), not HTTP batch (a session per batch). */
  ws: boolean;
  /** The root stub of this test's session. */
  api(): CapnWeb.Stub<ScenarioApi>;
  /** How many exports the server's side of a WebSocket session holds now. */
  serverExports(): number;
  /** Waits until both sides' tables hold only what the session started with. */
  expectBaseline(): Promise<void>;
}

export function clientScenarios(session: ScenarioSession): void {
  it("map() over an array runs the mapper on the server, calling the root stub inside", async () => {
    const api = session.api();
    const fib = api.generateFibonacci(7);
    expect(await fib.map((i) => api.square(i))).toEqual([0, 1, 1, 4, 9, 25, 64]);
    CapnWeb.release(fib);
    await session.expectBaseline();
  });

  it("map() can build objects holding several calls per element", async () => {
    const api = session.api();
    const fib = api.generateFibonacci(4);
    const rows = await fib.map((i) => ({ i, square: api.square(i), plusTen: api.add(i, 10) }));
    expect(rows).toEqual([
      { i: 0, square: 0, plusTen: 10 },
      { i: 1, square: 1, plusTen: 11 },
      { i: 1, square: 1, plusTen: 11 },
      { i: 2, square: 4, plusTen: 12 },
    ]);
    CapnWeb.release(fib);
    await session.expectBaseline();
  });

  it("nested map() calls run on the server", async () => {
    const api = session.api();
    const fib = api.generateFibonacci(5);
    const result = await CapnWeb.await(fib.map((i) => api.generateFibonacci(i).map((j) => api.square(j))));
    expect(result).toEqual({ ok: true, value: [[], [0], [0], [0, 1], [0, 1, 1]] });
    CapnWeb.release(fib);
    await session.expectBaseline();
  });

  it("20 calls fired without awaiting on one Counter stub arrive in order (E-order)", async () => {
    const counter = session.api().makeCounter(0);
    const calls = Array.from({ length: 20 }, (_, i) => counter.record(i));
    const log = counter.log();
    const ids = Array.from({ length: 20 }, (_, i) => i);
    // One Promise.all, so that over HTTP every pull is in the same batch as the calls.
    const [results, order] = await Promise.all([Promise.all(calls), log]);
    expect(results).toEqual(ids);
    expect(order).toEqual(ids);
    CapnWeb.release(counter);
    await session.expectBaseline();
  });

  it.runIf(session.ws)("a Target passed as an argument is called back by the server", async () => {
    const local = new LocalCounter(4);
    expect(await session.api().incrementCounter(local, 9)).toBe(13);
    expect(local.count).toBe(13);
    // The server is done with it when the call returns: our export of `local` is released.
    await session.expectBaseline();
  });

  it.runIf(session.ws)("after releasing everything used, both tables are back to baseline", async () => {
    const api = session.api();
    const counter = await api.makeCounter(1);
    const pending = api.makeCounter(2); // never awaited
    const users = api.users();
    const user = users.get(3);
    const profile = user.profile();
    await counter.increment(1);
    await pending.increment(1);
    expect(await profile.name()).toBe("user-3");
    await api.callFunction((i: number) => i + 1, 1);
    await api.incrementCounter(new LocalCounter(0), 1);
    expect(CapnWeb.stats(api).imports).toBeGreaterThan(1);
    expect(session.serverExports()).toBeGreaterThan(1);
    for (const stub of [counter, pending, users, user, profile]) CapnWeb.release(stub);
    await session.expectBaseline();
  });
}
