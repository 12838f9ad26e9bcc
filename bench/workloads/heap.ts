// 8. Heap per idle session, client side and server side measured in separate child processes
// (bench/heap-child.ts), for capnweb's session, our plain session (connect), our supervised
// session (Session.spec under a DynamicSupervisor) and a raw `ws` socket.

import { setTimeout as sleep } from "node:timers/promises";
import type { ServerUrls } from "../servers.js";
import type { HeapReport } from "../heap-child.js";
import { type SessionKind, SESSION_KINDS, openSessions, serverFor } from "../lib/sessions.js";
import { exited, nextMessage, spawnTs } from "../lib/spawn.js";

export const HEAP_SESSIONS = 500;

export interface HeapResult {
  n: number;
  client: Record<SessionKind, HeapReport>;
  server: Record<SessionKind, HeapReport>;
}

async function clientSide(kind: SessionKind, urls: ServerUrls, n: number): Promise<HeapReport> {
  const child = spawnTs("bench/heap-child.ts", ["client", kind, urls[serverFor(kind)].wsUrl, String(n)], ["--expose-gc"]);
  const report = await nextMessage<HeapReport>(child);
  await exited(child);
  return report;
}

async function serverSide(kind: SessionKind, n: number): Promise<HeapReport> {
  const child = spawnTs("bench/heap-child.ts", ["server", kind], ["--expose-gc"]);
  try {
    const { wsUrl } = await nextMessage<{ wsUrl: string }>(child, (m) => m.type === "ready");
    const warm = await openSessions(kind, wsUrl, 20);
    await warm.close();
    await sleep(200);
    child.send({ type: "baseline" });
    await nextMessage(child, (m) => m.type === "baseline-done");
    const sessions = await openSessions(kind, wsUrl, n);
    await sleep(200);
    child.send({ type: "measure", n });
    const { report } = await nextMessage<{ report: HeapReport }>(child, (m) => m.type === "report");
    await sessions.close();
    child.send({ type: "exit" });
    await exited(child);
    return report;
  } catch (error) {
    child.kill();
    throw error;
  }
}

export async function heap(urls: ServerUrls, n = HEAP_SESSIONS): Promise<HeapResult> {
  const client = {} as Record<SessionKind, HeapReport>;
  const server = {} as Record<SessionKind, HeapReport>;
  for (const kind of SESSION_KINDS) {
    // The client-side child and the server-side child of one kind run at the same time: they
    // are separate processes, and memory is what is measured, not time.
    [client[kind], server[kind]] = await Promise.all([clientSide(kind, urls, n), serverSide(kind, n)]);
  }
  return { n, client, server };
}
