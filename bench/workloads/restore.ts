// 11. Restore: a supervised session holds N restorables (`(root) => root.users().get(i)`); its
// server goes away and comes back on the same port. Measured: from the server listening again to
// the first successful call on a restorable (made at once, waiting in the session's queue, so it
// leaves after the restore). Beside it, the same work by hand on a fresh connection: connect,
// get the N users again (pipelined, all at once), make the same call. N = 1, 100, 1,000.

import diagnostics from "node:diagnostics_channel";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { CapnWeb } from "../lib/library.js";
import type { BenchApi } from "../servers.js";
import { startOurServer } from "../servers.js";
import { median } from "../lib/measure.js";

export const RESTORE_COUNTS = [1, 100, 1_000] as const;
const REPETITIONS = 10;
/** Down long enough for the session to notice and wait for its next attempt. */
const DOWN_MS = 20;

export interface RestoreResult {
  restorables: number;
  repetitions: number;
  /** Server listening → first successful call on a restorable, median. */
  restoreMs: number;
  /** The session's connection up → that call's answer, median: the restore itself. */
  connectedToCallMs: number;
  /** Fresh connect + N gets by hand + the same call, median. */
  byHandMs: number;
}

type Api = BenchApi;

export async function restore(quick = false): Promise<RestoreResult[]> {
  const results: RestoreResult[] = [];
  const repetitions = quick ? 3 : REPETITIONS;
  for (const count of RESTORE_COUNTS) results.push(await restoreWith(count, repetitions));
  return results;
}

async function restoreWith(count: number, repetitions: number): Promise<RestoreResult> {
  let server = await startOurServer();
  const port = server.port;
  const name = `bench-restore-${count}`;
  const supervisor = await CapnWeb.Supervisor.start(
    [
      CapnWeb.Session.spec<Api>({
        name,
        url: server.wsUrl,
        // A constant 2 ms retry, so that the measure is the restore, not the backoff schedule.
        reconnect: { strategy: "constant", baseDelay: 2, jitter: 0 },
        queue: { max: 10, timeout: 10_000 },
        heartbeat: 0,
      }),
    ],
    { name: `bench-restore-${count}` },
  );
  const samples: number[] = [];
  const sinceConnected: number[] = [];
  const byHand: number[] = [];
  let connectedAt = 0;
  const onUp = (): void => void (connectedAt = performance.now());
  diagnostics.subscribe("capnweb:connection:up", onUp);
  try {
    const root = CapnWeb.session<Api>(name);
    const users = Array.from({ length: count }, (_, i) => CapnWeb.restorable(root, (api) => api.users().get(i)));
    await CapnWeb.ready(name, { timeout: 30_000 });
    const last = users[count - 1]!;
    for (let i = 0; i < repetitions; i++) {
      await server.close();
      await sleep(DOWN_MS);
      server = await startOurServer(port);
      const listening = performance.now();
      const answer = await last.profile().name();
      const answered = performance.now();
      samples.push(answered - listening);
      sinceConnected.push(answered - connectedAt);
      if (answer !== `user-${count - 1}`) throw new Error(`restored user answered ${answer}`);
    }
    for (let i = 0; i < repetitions; i++) {
      const started = performance.now();
      const api = await CapnWeb.connect<Api>(server.wsUrl);
      const again = Array.from({ length: count }, (_, j) => api.users().get(j));
      const answer = await again[count - 1]!.profile().name();
      byHand.push(performance.now() - started);
      if (answer !== `user-${count - 1}`) throw new Error(`fresh connection answered ${answer}`);
      CapnWeb.close(api);
    }
    CapnWeb.release(users);
  } finally {
    diagnostics.unsubscribe("capnweb:connection:up", onUp);
    await supervisor.close();
    await server.close();
  }
  return { restorables: count, repetitions, restoreMs: median(samples), connectedToCallMs: median(sinceConnected), byHandMs: median(byHand) };
}
