// Heap per idle session, measured in a process of its own:
//   node --expose-gc --import tsx bench/heap-child.ts client <kind> <wsUrl> [n]
//     opens n sessions of <kind> to <wsUrl> and reports the heap they cost this (client) side;
//   node --expose-gc --import tsx bench/heap-child.ts server <kind>
//     runs the server <kind> talks to and, driven over IPC by the parent (which opens the
//     sessions), reports the heap they cost the server side.
// Both sides warm up first (20 sessions opened and closed) so that code and caches loaded on
// first use are not counted. Reported: deltas after gc, divided by n.

import { setTimeout as sleep } from "node:timers/promises";
import { startServer } from "./servers.js";
import { type SessionKind, openSessions, serverFor } from "./lib/sessions.js";

export interface HeapReport {
  role: "client" | "server";
  kind: SessionKind;
  n: number;
  heapUsedPerSession: number;
  externalPerSession: number;
  rssPerSession: number;
}

interface Snapshot {
  heapUsed: number;
  external: number;
  rss: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");

async function settle(): Promise<Snapshot> {
  // Several rounds: finalizers and weak callbacks run between them.
  for (let i = 0; i < 4; i++) {
    gc!();
    await sleep(20);
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, rss: m.rss };
}

function report(role: "client" | "server", kind: SessionKind, n: number, before: Snapshot, after: Snapshot): HeapReport {
  return {
    role,
    kind,
    n,
    heapUsedPerSession: (after.heapUsed - before.heapUsed) / n,
    externalPerSession: (after.external - before.external) / n,
    rssPerSession: (after.rss - before.rss) / n,
  };
}

function send(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => process.send!(message, undefined, {}, (error) => (error ? reject(error) : resolve())));
}

const [role, kind, arg3, arg4] = process.argv.slice(2) as ["client" | "server", SessionKind, string | undefined, string | undefined];

if (role === "client") {
  const url = arg3!;
  const n = Number(arg4 ?? 500);
  const warm = await openSessions(kind, url, 20);
  await warm.close();
  await sleep(100);
  const before = await settle();
  const sessions = await openSessions(kind, url, n);
  await sleep(100);
  const after = await settle();
  await send(report("client", kind, n, before, after));
  await sessions.close();
  await sleep(50);
  process.exit(0);
} else if (role === "server") {
  const server = await startServer(serverFor(kind));
  let before: Snapshot | undefined;
  process.on("message", async (message: { type: string; n?: number }) => {
    if (message.type === "baseline") {
      before = await settle();
      await send({ type: "baseline-done" });
    } else if (message.type === "measure") {
      const after = await settle();
      await send({ type: "report", report: report("server", kind, message.n!, before!, after) });
    } else if (message.type === "exit") {
      await server.close();
      process.exit(0);
    }
  });
  await send({ type: "ready", wsUrl: server.wsUrl });
} else {
  throw new Error(`usage: heap-child.ts client|server <kind> ...`);
}
