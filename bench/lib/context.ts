// What every workload gets, and what it gives back.

import type { ServerUrls } from "../servers.js";
import { measure, type Case, type MeasureOptions, type Measured } from "./measure.js";
import type { Pair, RawClient } from "./clients.js";

export interface Context {
  urls: ServerUrls;
  /** One open WebSocket session per client→server pair. */
  pairs: Pair[];
  raw: RawClient;
  /** Scales run lengths (BENCH_QUICK=1 halves them). */
  timing: MeasureOptions;
}

/** One workload's figures, keyed by pair label ("ours→capnweb") or "raw ws". */
export interface WorkloadResult {
  id: string;
  title: string;
  /** What `opsPerSec` counts ("calls", "chains", "maps of 100", ...). */
  unit: string;
  figures: Record<string, Measured>;
  /** Derived numbers (MB/s, in-pair ratios, ...). */
  extra?: Record<string, number>;
}

export const RAW = "raw ws";
/** Raw ws sending what capnweb's wire makes of a stream's bytes (base64 in JSON text frames). */
export const RAW_JSON = "raw ws, base64 JSON";

/** Measures one case per pair (plus the raw socket, if given), interleaved. */
export async function measurePairs(
  ctx: Context,
  op: (pair: Pair) => (n: number) => Promise<void>,
  raw?: (n: number) => Promise<void>,
  options: MeasureOptions = {},
): Promise<Record<string, Measured>> {
  const cases: Case[] = ctx.pairs.map((pair) => ({ name: pair.label, run: op(pair) }));
  if (raw) cases.push({ name: RAW, run: raw });
  const results = await measure(cases, { ...ctx.timing, ...options });
  return Object.fromEntries(results.map((r) => [r.name, r]));
}

/** Multiplies a result's rates by `factor` (one measured operation = `factor` counted ones). */
export function scale(m: Measured, factor: number): Measured {
  const runs = m.runs.map((r) => r * factor);
  return { ...m, opsPerSec: m.opsPerSec * factor, msPerOp: m.msPerOp / factor, chunk: m.chunk * factor, runs };
}
