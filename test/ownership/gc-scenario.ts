// The GC safety net, as a standalone script (spawned by gc.test.ts, or run by hand):
//
//   node --expose-gc --import tsx test/ownership/gc-scenario.ts
//
// Stubs are obtained and dropped without release; the garbage collector is run until the peer's
// tables are back at their baseline. The last line printed is a JSON object of results, which
// the test asserts. Self-contained on purpose: nothing from vitest is imported here.

import diagnostics from "node:diagnostics_channel";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { RpcSession as CwRpcSession, RpcTarget, WebSocketTransport } from "capnweb";
import { WebSocket, WebSocketServer } from "ws";
import * as CapnWeb from "../../src/index.js";

// capnweb's WebSocketTransport looks for the global WebSocket (Node 20 has none).
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

type Stats = { imports: number; exports: number };

const gc = (globalThis as { gc?: () => void }).gc;
if (typeof gc !== "function") {
  console.log(JSON.stringify({ error: "run with --expose-gc" }));
  process.exit(2);
}

const events: CapnWeb.ReleaseEvent[] = [];
diagnostics.subscribe("capnweb:release:sent", (message) => events.push(message as CapnWeb.ReleaseEvent));

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Collects garbage until `done()` holds (or `rounds` × ~20 ms pass); returns whether it held. */
async function collectUntil(done: () => boolean, rounds = 150): Promise<boolean> {
  for (let round = 0; round < rounds; round++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
    await sleep(20);
    if (done()) return true;
  }
  return false;
}

const same = (a: Stats, b: Stats) => a.imports === b.imports && a.exports === b.exports;
const BASELINE: Stats = { imports: 1, exports: 1 };

// ---- our server ---------------------------------------------------------------------------------

const ours = { made: 0, disposed: 0 };
class OurCounter extends CapnWeb.Target {
  constructor(private n: number) {
    super();
    ours.made++;
  }
  increment(by = 1) {
    return (this.n += by);
  }
  [Symbol.dispose]() {
    ours.disposed++;
  }
}
class OurApi extends CapnWeb.Target {
  makeCounter(n: number) {
    return new OurCounter(n);
  }
  square(i: number) {
    return i * i;
  }
}

// ---- a capnweb 0.12 server ----------------------------------------------------------------------

const theirs = { made: 0, disposed: 0 };
class CwCounter extends RpcTarget {
  constructor(private n: number) {
    super();
    theirs.made++;
  }
  increment(by = 1) {
    return (this.n += by);
  }
  [Symbol.dispose]() {
    theirs.disposed++;
  }
}
class CwApi extends RpcTarget {
  makeCounter(n: number) {
    return new CwCounter(n);
  }
  square(i: number) {
    return i * i;
  }
}

async function startCapnweb() {
  const sessions: CwRpcSession[] = [];
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (socket) => sessions.push(new CwRpcSession(new WebSocketTransport(socket as any), new CwApi())));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    wsUrl: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`,
    sessions,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

// ---- scenarios ----------------------------------------------------------------------------------

interface ScenarioResult {
  name: string;
  /** The peer's session table while the dropped stub was alive. */
  peerWhileHeld: Stats;
  /** Whether both sides reached the baseline by collecting garbage alone. */
  collected: boolean;
  peerAfter: Stats;
  oursAfter: Stats;
  /** Release telemetry seen during the scenario. */
  releases: CapnWeb.ReleaseEvent[];
  /** Targets made / disposed on the server during the scenario. */
  made: number;
  disposed: number;
}

async function scenario(
  name: string,
  api: any,
  peerStats: () => Stats,
  counts: { made: number; disposed: number },
  drop: () => Promise<void>,
): Promise<ScenarioResult> {
  const from = events.length;
  const made = counts.made;
  const disposed = counts.disposed;
  await drop();
  // Let the last answers' releases reach the peer before looking at it.
  await sleep(30);
  const peerWhileHeld = peerStats();
  const collected = await collectUntil(() => same(peerStats(), BASELINE) && same(CapnWeb.stats(api), BASELINE));
  await sleep(20);
  return {
    name,
    peerWhileHeld,
    collected,
    peerAfter: peerStats(),
    oursAfter: CapnWeb.stats(api),
    releases: events.slice(from),
    made: counts.made - made,
    disposed: counts.disposed - disposed,
  };
}

async function dropScenarios(api: any, peerStats: () => Stats, counts: { made: number; disposed: number }, label: string) {
  const results: ScenarioResult[] = [];
  results.push(
    await scenario(`${label}: a resolved stub dropped without release`, api, peerStats, counts, async () => {
      const counter = await api.makeCounter(1);
      if ((await counter.increment(1)) !== 2) throw new Error("counter broken");
    }),
  );
  results.push(
    await scenario(`${label}: a promise stub dropped unawaited`, api, peerStats, counts, async () => {
      const pending = api.makeCounter(2);
      // Make sure it reached the peer (an answer on the same connection came back after it).
      if ((await api.square(3)) !== 9) throw new Error("square broken");
      void pending;
    }),
  );
  results.push(
    await scenario(`${label}: several stubs dropped inside an object`, api, peerStats, counts, async () => {
      const bag = { a: await api.makeCounter(1), b: [await api.makeCounter(2), await api.makeCounter(3)] };
      if ((await bag.b[1].increment(1)) !== 4) throw new Error("counter broken");
    }),
  );
  // A control: a stub still referenced is never collected, and works after the collections.
  const kept = await api.makeCounter(10);
  const before = events.length;
  await collectUntil(() => false, 10);
  const keptWorks = (await kept.increment(1)) === 11;
  const keptFinalized = events.slice(before).filter((e) => e.reason === "finalized").length;
  CapnWeb.release(kept);
  const keptReleasedTo = await collectUntil(() => same(peerStats(), BASELINE));
  return { results, control: { keptWorks, keptFinalized, keptReleasedTo } };
}

async function main() {
  const server = await CapnWeb.serve({ port: 0, main: () => new OurApi() });
  const cw = await startCapnweb();
  const output: Record<string, unknown> = {};
  try {
    const api = await CapnWeb.connect<any>(server.wsUrl);
    const ourSession = [...server.handlers.sessions][0]!.session;
    if ((await api.square(2)) !== 4) throw new Error("our server broken");
    output.ourServer = await dropScenarios(api, () => ourSession.stats(), ours, "our server");
    CapnWeb.close(api);

    const cwApi = await CapnWeb.connect<any>(cw.wsUrl);
    if ((await cwApi.square(2)) !== 4) throw new Error("capnweb server broken");
    const cwSession = cw.sessions[0]!;
    output.capnwebServer = await dropScenarios(cwApi, () => cwSession.getStats(), theirs, "capnweb server");
    CapnWeb.close(cwApi);
  } finally {
    await server.close();
    await cw.close();
  }
  console.log(JSON.stringify(output));
}

main().catch((error) => {
  console.log(JSON.stringify({ error: String(error?.stack ?? error) }));
  process.exit(1);
});
