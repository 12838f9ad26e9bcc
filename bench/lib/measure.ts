// Timing: each case is warmed up (which also sizes a "chunk": the number of operations that take
// about `chunkMs`), then every case runs `runs` times, interleaved, in an order that alternates
// between rounds (rotated, and reversed every other round), so that drift in the machine's speed
// and the state one case leaves behind are spread over all cases. A run repeats chunks until
// `runMs` have passed and counts what it did. A case's figure is the median of its runs.

import { performance } from "node:perf_hooks";

export interface Case {
  name: string;
  /** Performs `n` operations; resolves when all are done. */
  run(n: number): Promise<void>;
}

export interface MeasureOptions {
  /** Warm-up time per case, ms (also sizes the runs). */
  warmupMs?: number;
  /** Duration of one run, ms (a run ends with the first chunk that ends after it). */
  runMs?: number;
  /** Duration of one chunk of operations, ms (the clock is read between chunks). */
  chunkMs?: number;
  /** Runs per case (odd, so that the median is one of them). */
  runs?: number;
  /** Lower and upper bounds of operations per run. */
  minOps?: number;
  maxOps?: number;
}

export interface Measured {
  name: string;
  /** Operations per second: the median of the runs. */
  opsPerSec: number;
  /** Milliseconds per operation at the median run. */
  msPerOp: number;
  /** Operations per chunk. */
  chunk: number;
  /** Operations per second of every run, in the order they ran. */
  runs: number[];
  /** (max - min) / median of the runs: how noisy this case was. */
  spread: number;
}

export const DEFAULTS: Required<MeasureOptions> = { warmupMs: 300, runMs: 100, chunkMs: 5, runs: 11, minOps: 1, maxOps: 10_000_000 };

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function timed(run: (n: number) => Promise<void>, n: number): Promise<number> {
  const start = performance.now();
  await run(n);
  return performance.now() - start;
}

/** Warm-up for about `warmupMs`; returns the chunk size (operations per `chunkMs`). */
async function warmUp(c: Case, o: Required<MeasureOptions>): Promise<number> {
  let chunk = o.minOps;
  let spent = 0;
  while (spent < o.warmupMs) {
    const ms = await timed(c.run, chunk);
    spent += ms;
    const rate = chunk / Math.max(ms, 0.001);
    chunk = Math.max(o.minOps, Math.min(o.maxOps, Math.min(chunk * 4, Math.round(rate * o.chunkMs))));
  }
  return chunk;
}

/** One run: chunks until `runMs` have passed; operations per second. */
async function timedRun(c: Case, chunk: number, runMs: number): Promise<number> {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    await c.run(chunk);
    ops += chunk;
    elapsed = performance.now() - start;
  } while (elapsed < runMs);
  return (ops * 1000) / elapsed;
}

export function orderFor(round: number, count: number): number[] {
  const rotated = Array.from({ length: count }, (_, i) => (i + round) % count);
  return round % 2 === 0 ? rotated : rotated.reverse();
}

export async function measure(cases: Case[], options: MeasureOptions = {}): Promise<Measured[]> {
  const o = { ...DEFAULTS, ...options };
  const chunks: number[] = [];
  for (const c of cases) chunks.push(await warmUp(c, o));
  const samples: number[][] = cases.map(() => []);
  for (let round = 0; round < o.runs; round++) {
    for (const index of orderFor(round, cases.length)) samples[index]!.push(await timedRun(cases[index]!, chunks[index]!, o.runMs));
  }
  return cases.map((c, i) => {
    const runs = samples[i]!;
    const opsPerSec = median(runs);
    return {
      name: c.name,
      opsPerSec,
      msPerOp: 1000 / opsPerSec,
      chunk: chunks[i]!,
      runs,
      spread: (Math.max(...runs) - Math.min(...runs)) / opsPerSec,
    };
  });
}

/** Times one async action `times` times (after `warmup` untimed ones); the median, ms. */
export async function medianMs(action: () => Promise<void>, times: number, warmup = 1): Promise<{ median: number; samples: number[] }> {
  for (let i = 0; i < warmup; i++) await action();
  const samples: number[] = [];
  for (let i = 0; i < times; i++) samples.push(await timed(() => action(), 1));
  return { median: median(samples), samples };
}
