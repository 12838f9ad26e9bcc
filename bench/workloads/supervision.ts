// 9. Supervision: starting and stopping N children under one DynamicSupervisor, N = 100 and
// 10,000: plain children, XState actors, and real supervised sessions against the server child
// process (10,000 sessions are 10,000 sockets in this process and 10,000 in that one; `ulimit -n`
// is 20,000 here, so one process could not hold both sides). Beside the sessions, the same number
// of connections without a supervisor, opened the same way: raw `ws` sockets (the handshakes
// alone), capnweb sessions and our connect(). The small sizes take milliseconds, so they are
// repeated and their medians reported.

import { benchChildren, benchSupervisedSessions, type SupervisionResult } from "../supervision.js";
import { median } from "../lib/measure.js";

export const SUPERVISION_SIZES = [100, 10_000];
const SMALL = 1_000;
const SMALL_REPEATS = 5;

function medians(rounds: SupervisionResult[][]): SupervisionResult[] {
  return rounds[0]!.map((first, i) => {
    const startMs = median(rounds.map((r) => r[i]!.startMs));
    const stopMs = median(rounds.map((r) => r[i]!.stopMs));
    return { ...first, startMs, stopMs, startPerChildUs: (startMs * 1000) / first.children, stopPerChildUs: (stopMs * 1000) / first.children };
  });
}

async function repeated(n: number, bench: (sizes: number[]) => Promise<SupervisionResult[]>): Promise<SupervisionResult[]> {
  const rounds: SupervisionResult[][] = [];
  for (let i = 0; i < (n < SMALL ? SMALL_REPEATS : 1); i++) rounds.push(await bench([n]));
  return medians(rounds);
}

export async function supervision(wsUrl: string, sizes = SUPERVISION_SIZES): Promise<SupervisionResult[]> {
  // Warm-up (not reported): the first hundred of each kind load and compile what the rest reuse.
  await benchChildren([100]);
  await benchSupervisedSessions(wsUrl, [100]);
  const results: SupervisionResult[] = [];
  for (const n of sizes) results.push(...(await repeated(n, benchChildren)));
  for (const n of sizes) results.push(...(await repeated(n, (s) => benchSupervisedSessions(wsUrl, s))));
  return results;
}
