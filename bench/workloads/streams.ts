// 13. Streams, two processes (the servers in the server process, the clients here):
//   throughput  100 MiB in 64 KiB chunks, three ways: a ReadableStream the server returns
//               (download), a WritableStream the client passes and the server fills (writable),
//               a ReadableStream the client passes and the server reads (upload); MB/s for the
//               four pairs and, as the limit, raw `ws` sending the same bytes as binary frames in the
//               same direction (server to client, or client to server for the upload: a client's
//               frames are masked, RFC 6455, which costs both ends a pass over every byte).
//               capnweb's wire carries bytes as base64 inside JSON text, so every RPC figure
//               pays a third more bytes and the encoding; raw ws pays neither. A second limit,
//               "raw ws, base64 JSON", sends each chunk as the frame capnweb's wire makes of it
//               (and decodes it): the encoding's cost without RPC, flow control or streams.
//   slow reader the server (writer) offers 10,000 chunks, the client takes 1 per 10 ms; measured
//               on the writer's side: the most bytes its source had produced beyond what the
//               reader had consumed, and its heapUsed, external memory (both after two gcs) and RSS
//               growth; beside them, external memory after the first of the two gcs, which still
//               counts the ArrayBuffers that died since the collection before (V8 takes their bytes
//               off at the next collection): what the writer allocates outside the heap between
//               two samples, not what it holds.
//
// A case that fails (our side before it carries streams) is left out and its error reported.

import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { type Context, RAW, RAW_JSON, type WorkloadResult } from "../lib/context.js";
import { type Measured, median, orderFor } from "../lib/measure.js";
import type { Pair, RawClient } from "../lib/clients.js";
import { CHUNK_BYTES, MiB, countingSink, countingSource, drain } from "../../test/shared/byte-streams.js";

export const STREAM_BYTES = 100 * MiB;
const WARMUP_BYTES = 16 * MiB;
export const SLOW_READER_OFFERED_CHUNKS = 10_000;
export const SLOW_READER_DELAY_MS = 10;

/** What the server process reports of its memory (after two gcs when it has gc). */
export interface MemorySample {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  /** `external` between the two gcs: with the ArrayBuffers that died since the gc before. */
  externalAfterOneGc: number;
}

export type StreamDirection = "download" | "writable" | "upload";
const DIRECTIONS: Record<StreamDirection, { title: string; run(api: any, bytes: number): Promise<number>; raw(raw: RawClient, bytes: number, json: boolean): Promise<number> }> = {
  download: {
    title: "Stream 100 MiB: ReadableStream returned by the server",
    raw: (raw, bytes, json) => raw.download(bytes, json),
    async run(api, bytes) {
      return (await drain(await api.download(bytes), { hash: false })).bytes;
    },
  },
  writable: {
    title: "Stream 100 MiB: WritableStream passed to the server",
    raw: (raw, bytes, json) => raw.download(bytes, json),
    async run(api, bytes) {
      const sink = countingSink({ hash: false });
      await api.fill(sink.stream, bytes);
      return (await sink.closed).bytes;
    },
  },
  upload: {
    title: "Stream 100 MiB: ReadableStream passed to the server",
    raw: (raw, bytes, json) => raw.upload(bytes, json),
    async run(api, bytes) {
      return await api.consume(countingSource(bytes, { content: "fixed" }).stream);
    },
  },
};

interface StreamCase {
  name: string;
  /** Moves `bytes`; resolves with the bytes that arrived. */
  run(bytes: number): Promise<number>;
}

export interface StreamsResult {
  /** Transfers per case (the figure is their median), and the bytes of each. */
  runs: number;
  bytes: number;
  throughput: WorkloadResult[];
  slowReader: SlowReaderResult[];
  /** Cases left out, by name: why they failed. */
  failures: Record<string, string>;
}

export interface SlowReaderResult {
  pair: string;
  chunksRead: number;
  /** The most the writer's source had produced beyond what the reader had consumed, bytes. */
  maxAheadBytes: number;
  /** Growth of the writer process's heapUsed, and of its external memory (both after two gcs) over the baseline, the most seen. */
  maxHeapGrowth: number;
  maxExternalGrowth: number;
  /** The same for external memory read after one gc: it includes what was allocated and dropped since the sample before. */
  maxExternalGrowthOneGc: number;
  maxRssGrowth: number;
}

const errorText = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

async function timedMBps(c: StreamCase, bytes: number): Promise<number> {
  const start = performance.now();
  const got = await c.run(bytes);
  const seconds = (performance.now() - start) / 1000;
  if (got !== bytes) throw new Error(`${c.name}: ${got} of ${bytes} bytes arrived`);
  return bytes / 1e6 / seconds;
}

/** Warm-up, then `runs` transfers per case interleaved in alternating order; the median MB/s. */
async function measureStreams(cases: StreamCase[], runs: number, bytes: number, failures: Record<string, string>, prefix: string): Promise<Record<string, Measured>> {
  const working: StreamCase[] = [];
  for (const c of cases) {
    try {
      await timedMBps(c, WARMUP_BYTES);
      working.push(c);
    } catch (error) {
      failures[`${prefix} ${c.name}`] = errorText(error);
    }
  }
  const samples = working.map((): number[] => []);
  for (let round = 0; round < runs; round++) {
    for (const index of orderFor(round, working.length)) samples[index]!.push(await timedMBps(working[index]!, bytes));
  }
  return Object.fromEntries(
    working.map((c, i) => {
      const mbps = median(samples[i]!);
      const m: Measured = { name: c.name, opsPerSec: mbps, msPerOp: 1000 / mbps, chunk: 1, runs: samples[i]!, spread: (Math.max(...samples[i]!) - Math.min(...samples[i]!)) / mbps };
      return [c.name, m];
    }),
  );
}

/** The slow reader against one pair: reads 1 chunk per 10 ms for `chunks` chunks of an offer of 10,000, then cancels. */
async function slowReader(pair: Pair, chunks: number, serverMemory: () => Promise<MemorySample>): Promise<SlowReaderResult> {
  // A short slow stream first, so that what the first one on this session allocates once (and
  // the buffers the throughput runs left for the collector) is not counted as held.
  await drain(await pair.api.download(SLOW_READER_OFFERED_CHUNKS * CHUNK_BYTES), { hash: false, delayMs: SLOW_READER_DELAY_MS, maxChunks: 25 });
  await sleep(200);
  const baseline = await serverMemory();
  let maxAheadBytes = 0;
  let maxHeapGrowth = 0;
  let maxExternalGrowth = 0;
  let maxExternalGrowthOneGc = 0;
  let maxRssGrowth = 0;
  const stream: ReadableStream<Uint8Array> = await pair.api.download(SLOW_READER_OFFERED_CHUNKS * CHUNK_BYTES);
  const read = await drain(stream, {
    hash: false,
    delayMs: SLOW_READER_DELAY_MS,
    maxChunks: chunks,
    async onChunk(consumed, n) {
      if (n % 25 !== 0) return;
      // Taken on the server after `consumed` was read here: an upper bound of what it holds ahead.
      const produced: number = await pair.api.produced();
      maxAheadBytes = Math.max(maxAheadBytes, produced - consumed);
      const m = await serverMemory();
      maxHeapGrowth = Math.max(maxHeapGrowth, m.heapUsed - baseline.heapUsed);
      maxExternalGrowth = Math.max(maxExternalGrowth, m.external - baseline.external);
      maxExternalGrowthOneGc = Math.max(maxExternalGrowthOneGc, m.externalAfterOneGc - baseline.external);
      maxRssGrowth = Math.max(maxRssGrowth, m.rss - baseline.rss);
    },
  });
  // Let the cancel reach the writer before the next pair's baseline.
  await sleep(50);
  return { pair: pair.label, chunksRead: read.chunks, maxAheadBytes, maxHeapGrowth, maxExternalGrowth, maxExternalGrowthOneGc, maxRssGrowth };
}

export async function streams(ctx: Context, serverMemory: () => Promise<MemorySample>, quick = false): Promise<StreamsResult> {
  const failures: Record<string, string> = {};
  const runs = quick ? 1 : 3;
  const bytes = quick ? 32 * MiB : STREAM_BYTES;
  const throughput: WorkloadResult[] = [];
  for (const [direction, d] of Object.entries(DIRECTIONS) as [StreamDirection, (typeof DIRECTIONS)[StreamDirection]][]) {
    const cases: StreamCase[] = ctx.pairs.map((pair) => ({ name: pair.label, run: (n) => d.run(pair.api, n) }));
    cases.push({ name: RAW, run: (n) => d.raw(ctx.raw, n, false) }, { name: RAW_JSON, run: (n) => d.raw(ctx.raw, n, true) });
    const figures = await measureStreams(cases, runs, bytes, failures, direction);
    throughput.push({ id: `stream-${direction}`, title: quick ? d.title.replace("100 MiB", "32 MiB") : d.title, unit: "MB", figures });
  }
  const slow: SlowReaderResult[] = [];
  for (const pair of ctx.pairs) {
    try {
      slow.push(await slowReader(pair, quick ? 100 : 300, serverMemory));
    } catch (error) {
      failures[`slow reader ${pair.label}`] = errorText(error);
    }
  }
  return { runs, bytes, throughput, slowReader: slow, failures };
}
