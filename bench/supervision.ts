// Supervision costs: starting and stopping N children under one DynamicSupervisor, at N = 100 and
// N = 10,000, for plain children, XState actors, and real supervised sessions (WebSocket to a
// local server). The point is the per-child cost staying flat as N grows (XState's own children
// would not: spawning the 5,001st child of one parent measured 7.3 ms here).

import { performance } from "node:perf_hooks";
import { createMachine } from "xstate";
import * as CapnWeb from "../src/index.js";
import { exitSignal, type Child } from "../src/supervisor/child.js";

export interface SupervisionResult {
  kind: string;
  children: number;
  startMs: number;
  stopMs: number;
  startPerChildUs: number;
  stopPerChildUs: number;
}

function plainChild(): Child {
  const { exited, exit } = exitSignal();
  return { exited, stop: () => exit("shutdown"), kill: () => exit("shutdown"), inspect: () => ({ kind: "plain", status: "running" }) };
}

const idle = createMachine({ id: "idle", initial: "waiting", states: { waiting: {} } });

export async function measureSupervisor(kind: string, n: number, specFor: (i: number) => CapnWeb.ChildSpec): Promise<SupervisionResult> {
  const supervisor = await CapnWeb.DynamicSupervisor.create({ name: `bench-${kind}` });
  let start = performance.now();
  // Started the way an application under load starts them: many at once.
  const batch = 256;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => supervisor.startChild(specFor(i + j))));
  }
  const startMs = performance.now() - start;
  start = performance.now();
  await supervisor.close();
  const stopMs = performance.now() - start;
  return { kind, children: n, startMs, stopMs, startPerChildUs: (startMs * 1000) / n, stopPerChildUs: (stopMs * 1000) / n };
}

/** Plain children and XState actors (no sockets): the supervisor's own cost. */
export async function benchChildren(sizes: number[]): Promise<SupervisionResult[]> {
  const results: SupervisionResult[] = [];
  for (const n of sizes) {
    results.push(await measureSupervisor("plain child", n, (i) => ({ id: String(i), start: plainChild })));
    results.push(await measureSupervisor("XState actor", n, (i) => CapnWeb.Supervisor.actor(idle, { id: String(i) })));
  }
  return results;
}

export async function benchSupervision(sizes: number[], sessionSizes: number[]): Promise<SupervisionResult[]> {
  const results = await benchChildren(sizes);
  class Api extends CapnWeb.Target {
    ping() {
      return "pong";
    }
  }
  const server = await CapnWeb.serve({ port: 0, main: new Api() });
  try {
    for (const n of sessionSizes) {
      results.push(
        await measureSupervisor("supervised session", n, (i) => CapnWeb.Session.spec({ id: String(i), url: server.wsUrl, reconnect: false })),
      );
    }
  } finally {
    await server.close();
  }
  return results;
}

/**
 * Real supervised sessions against a server that runs elsewhere (another process: N sessions
 * cost N sockets on each side, and one process holding both sides of 10,000 needs 20,000 fds).
 */
export async function benchSupervisedSessions(wsUrl: string, sizes: number[]): Promise<SupervisionResult[]> {
  const results: SupervisionResult[] = [];
  for (const n of sizes) {
    results.push(await measureSupervisor("supervised session", n, (i) => CapnWeb.Session.spec({ id: String(i), url: wsUrl, reconnect: false })));
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchSupervision([100, 10_000], [100, 1_000]);
  console.table(results.map((r) => ({ ...r, startMs: r.startMs.toFixed(1), stopMs: r.stopMs.toFixed(1), startPerChildUs: r.startPerChildUs.toFixed(1), stopPerChildUs: r.stopPerChildUs.toFixed(1) })));
}
