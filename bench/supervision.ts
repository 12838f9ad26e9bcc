// Supervision costs: starting and stopping N children under one DynamicSupervisor, at N = 100 and
// N = 10,000, for plain children, XState actors, and real supervised sessions (WebSocket to a
// local server). The point is the per-child cost staying flat as N grows (XState's own children
// would not: spawning the 5,001st child of one parent measured 7.3 ms here).

import { performance } from "node:perf_hooks";
import { WebSocket } from "ws";
import { createMachine } from "xstate";
import { newWebSocketRpcSession } from "capnweb";
import { CapnWeb, exitSignal } from "./lib/library.js";
import type { Child } from "../src/supervisor/child.js";
import type { ChildSpec } from "../src/index.js";

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

// Started the way an application under load starts them: many at once.
const BATCH = 256;

async function measure(
  kind: string,
  n: number,
  open: (i: number) => Promise<void>,
  closeAll: () => Promise<void>,
  batch = BATCH,
): Promise<SupervisionResult> {
  let start = performance.now();
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => open(i + j)));
  }
  const startMs = performance.now() - start;
  start = performance.now();
  await closeAll();
  const stopMs = performance.now() - start;
  return { kind, children: n, startMs, stopMs, startPerChildUs: (startMs * 1000) / n, stopPerChildUs: (stopMs * 1000) / n };
}

export async function measureSupervisor(kind: string, n: number, specFor: (i: number) => ChildSpec): Promise<SupervisionResult> {
  const supervisor = await CapnWeb.DynamicSupervisor.create({ name: `bench-${kind}` });
  return measure(kind, n, async (i) => void (await supervisor.startChild(specFor(i))), () => supervisor.close());
}

function openSocket(wsUrl: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, { perMessageDeflate: false });
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
  });
}

/**
 * The same N connections to the same server without supervision, side by side: raw `ws`
 * sockets (the handshakes alone: the floor), capnweb sessions on sockets opened the same way,
 * and our plain `connect()`. Started when open; stopped by closing (no wait for the peer).
 */
export async function benchUnsupervisedConnections(wsUrl: string, n: number): Promise<SupervisionResult[]> {
  const sockets: WebSocket[] = [];
  const raw = await measure("raw ws connection", n, async (i) => void (sockets[i] = await openSocket(wsUrl)), async () => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  const stubs: Array<{ [Symbol.dispose](): void }> = [];
  const capnweb = await measure("capnweb session", n, async (i) => void (stubs[i] = newWebSocketRpcSession(await openSocket(wsUrl) as never)), async () => {
    for (const stub of stubs.splice(0)) stub[Symbol.dispose]();
  });
  const apis: unknown[] = [];
  const ours = await measure("our session (connect)", n, async (i) => void (apis[i] = await CapnWeb.connect(wsUrl)), async () => {
    for (const api of apis.splice(0)) CapnWeb.close(api);
  });
  return [raw, capnweb, ours];
}

/**
 * Restarts: one plain child of a one_for_one supervisor crashes N times in a row, each time once
 * its replacement has started ("start" is the N crash-to-restart cycles, "stop" the close).
 */
export async function measureRestarts(n: number): Promise<SupervisionResult> {
  let current: { exit: (reason: { error: unknown }) => void } | undefined;
  let started: (() => void) | undefined;
  const crash = new Error("crash");
  const supervisor = await CapnWeb.Supervisor.start(
    [
      {
        id: "crasher",
        start: () => {
          const { exited, exit } = exitSignal();
          current = { exit };
          started?.();
          return { exited, stop: () => exit("shutdown"), kill: () => exit("shutdown"), inspect: () => ({ kind: "plain", status: "running" }) };
        },
      },
    ],
    { name: "bench-restarts", maxRestarts: n + 1, maxSeconds: 3_600 },
  );
  return measure("plain child restart", n, async () => {
    const restarted = new Promise<void>((resolve) => (started = resolve));
    current!.exit({ error: crash });
    await restarted;
  }, () => supervisor.close(), 1);
}

/** Plain children and XState actors (no sockets): the supervisor's own cost. */
export async function benchChildren(sizes: number[]): Promise<SupervisionResult[]> {
  const results: SupervisionResult[] = [];
  for (const n of sizes) {
    results.push(await measureSupervisor("plain child", n, (i) => ({ id: String(i), start: plainChild })));
    results.push(await measureSupervisor("XState actor", n, (i) => CapnWeb.Supervisor.actor(idle, { id: String(i) })));
    results.push(await measureRestarts(n));
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
    results.push(...(await benchUnsupervisedConnections(wsUrl, n)));
    results.push(await measureSupervisor("supervised session", n, (i) => CapnWeb.Session.spec({ id: String(i), url: wsUrl, reconnect: false })));
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchSupervision([100, 10_000], [100, 1_000]);
  console.table(results.map((r) => ({ ...r, startMs: r.startMs.toFixed(1), stopMs: r.stopMs.toFixed(1), startPerChildUs: r.startPerChildUs.toFixed(1), stopPerChildUs: r.stopPerChildUs.toFixed(1) })));
}
