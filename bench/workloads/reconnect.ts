// 10. Reconnect: a supervised session (reconnect { baseDelay: 10, maxDelay: 50, jitter: 0 }) loses
// its server, which comes back on the same port; the time from the server listening again to the
// first successful call, 20 times, median. The call is made at once and waits in the session's
// queue for the connection. References: a fresh connect plus its first call, ours and capnweb's.

import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { newWebSocketRpcSession } from "capnweb";
import { CapnWeb } from "../lib/library.js";
import { startCapnwebServer, startOurServer } from "../servers.js";
import { median, medianMs } from "../lib/measure.js";

export const RECONNECTS = 20;
/**
 * How long the server stays down: long enough for the backoff to reach maxDelay (10, 20, 40, 50),
 * plus a share of one 50 ms retry period that differs at each repetition (evenly spread), so that
 * the restart falls at every phase of the retry schedule rather than always at the same one.
 */
const DOWN_MS = 150;
const RETRY_PERIOD_MS = 50;

export interface ReconnectResult {
  repetitions: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
  /** A fresh CapnWeb.connect() and its first call. */
  freshConnectOursMs: number;
  /** A fresh capnweb newWebSocketRpcSession() and its first call. */
  freshConnectCapnwebMs: number;
}

export async function reconnect(repetitions = RECONNECTS): Promise<ReconnectResult> {
  let server = await startOurServer();
  const port = server.port;
  const supervisor = await CapnWeb.DynamicSupervisor.create({ name: "bench-reconnect" });
  const samples: number[] = [];
  try {
    await supervisor.startChild(
      CapnWeb.Session.spec({
        id: "bench-reconnect",
        name: "bench-reconnect",
        url: server.wsUrl,
        reconnect: { baseDelay: 10, maxDelay: 50, jitter: 0 },
        queue: { max: 10, timeout: 10_000 },
      }),
    );
    const api = CapnWeb.session<{ square(i: number): number }>("bench-reconnect");
    await api.square(1);
    for (let i = 0; i < repetitions; i++) {
      await server.close();
      await sleep(DOWN_MS + Math.round((RETRY_PERIOD_MS * i) / repetitions));
      server = await startOurServer(port);
      const listening = performance.now();
      const answer = await api.square(i);
      samples.push(performance.now() - listening);
      if (answer !== i * i) throw new Error(`reconnected session answered ${answer}`);
    }
  } finally {
    await supervisor.close();
  }

  const fresh = await medianMs(async () => {
    const api: any = await CapnWeb.connect(server.wsUrl);
    await api.square(2);
    CapnWeb.close(api);
  }, repetitions);
  await server.close();
  const theirs = await startCapnwebServer();
  const freshCapnweb = await medianMs(async () => {
    const api: any = newWebSocketRpcSession(theirs.wsUrl);
    await api.square(2);
    api[Symbol.dispose]();
  }, repetitions);
  await theirs.close();

  return {
    repetitions,
    medianMs: median(samples),
    minMs: Math.min(...samples),
    maxMs: Math.max(...samples),
    samplesMs: samples,
    freshConnectOursMs: fresh.median,
    freshConnectCapnwebMs: freshCapnweb.median,
  };
}
