// `npm run bench`: the same workloads with capnweb's client and ours against capnweb's server and
// ours (all four pairs, interleaved), plus raw `ws` as the physical limit; prints ratios as
// markdown and writes every number to bench/results/latest.json.
//
//   npm run bench                       everything (about 2–3 minutes on 2 cores)
//   npm run bench -- --only=map,callbacks   some workloads (names: see WORKLOADS)
//   npm run bench -- --quick            shorter runs (noisier)
//   npm run bench -- --mode=one|two     only the one-process or only the two-process pass
//   npm run bench -- --server-cpu-prof  the server child process writes a .cpuprofile to bench/results/prof
// A run with --only, --quick or --mode writes bench/results/partial.json instead. For a profile
// of one workload and one pair, see bench/profile.ts and bench/profile-summary.ts.
//
// Absolute numbers drift 10–40 % between runs; only ratios taken in one run mean anything.

import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, platform, release } from "node:os";
import { performance } from "node:perf_hooks";
import { CapnWeb } from "./lib/library.js";
import { type ServerUrls, startAll } from "./servers.js";
import { PAIR_ORDER, RawClient, closePairs, openPairs } from "./lib/clients.js";
import { type Context, RAW, RAW_JSON, type WorkloadResult } from "./lib/context.js";
import { DEFAULTS, type Measured } from "./lib/measure.js";
import { REPO, exited, nextMessage, spawnTs } from "./lib/spawn.js";
import { sequential } from "./workloads/sequential.js";
import { inFlight } from "./workloads/in-flight.js";
import { pipeline } from "./workloads/pipeline.js";
import { map } from "./workloads/map.js";
import { payload } from "./workloads/payload.js";
import { httpBatch } from "./workloads/http-batch.js";
import { callbacks } from "./workloads/callbacks.js";
import { heap, type HeapResult } from "./workloads/heap.js";
import { supervision } from "./workloads/supervision.js";
import { reconnect, type ReconnectResult } from "./workloads/reconnect.js";
import { restore, type RestoreResult } from "./workloads/restore.js";
import { bundleSize, type BundleResult } from "./workloads/bundle.js";
import { type MemorySample, SLOW_READER_DELAY_MS, SLOW_READER_OFFERED_CHUNKS, type StreamsResult, streams } from "./workloads/streams.js";
import { observerCost } from "./workloads/observer.js";
import type { SupervisionResult } from "./supervision.js";
import { SESSION_KINDS, type SessionKind } from "./lib/sessions.js";

const WORKLOADS = ["sequential", "in-flight", "pipeline", "map", "payload", "http-batch", "callbacks", "observer", "heap", "supervision", "reconnect", "restore", "bundle", "streams"] as const;
type WorkloadName = (typeof WORKLOADS)[number];

const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = option("only")?.split(",") as WorkloadName[] | undefined;
for (const name of only ?? []) if (!WORKLOADS.includes(name)) throw new Error(`unknown workload ${name} (${WORKLOADS.join(", ")})`);
const selected = (name: WorkloadName) => !only || only.includes(name);
const quick = args.includes("--quick") || process.env.BENCH_QUICK === "1";
const timing = quick ? { ...DEFAULTS, warmupMs: 150, runMs: 60, runs: 5 } : DEFAULTS;

const began = performance.now();
const progress = (what: string) => console.error(`[bench ${((performance.now() - began) / 1000).toFixed(1).padStart(5)} s] ${what}`);

// ------------------------------------------------------------------------------------------------
// Run

// Two passes over the call workloads:
//   one process   clients and servers share one thread: a figure is the whole CPU cost of a call,
//                 both sides. That is what the implementations differ in, and it hardly depends on
//                 how the kernel schedules two processes (the main table).
//   two processes the servers run in the server child process: each side has a core, and latency
//                 (round trips, wake-ups) dominates. Pipelining's gain is a latency gain, so it
//                 shows only here. Sequential calls, in flight, pipeline and callbacks only.
// `--mode=one` or `--mode=two` runs only one pass (then `two` covers every call workload).
// The server child process always runs: the heap clients and the 10,000 supervised sessions use it.
const mode = option("mode") ?? "both";
if (!["both", "one", "two"].includes(mode)) throw new Error(`--mode=both|one|two, not ${mode}`);
const RPC_WORKLOADS = ["sequential", "in-flight", "pipeline", "map", "payload", "http-batch", "callbacks", "observer"] as const;
type RpcWorkload = (typeof RPC_WORKLOADS)[number];
const TWO_PROCESS_WORKLOADS: RpcWorkload[] = mode === "two" ? [...RPC_WORKLOADS] : ["sequential", "in-flight", "pipeline", "callbacks"];

// --expose-gc: the streams' slow reader asks the server process what it holds after a collection.
const serverFlags = ["--expose-gc", ...(args.includes("--server-cpu-prof") ? ["--cpu-prof", `--cpu-prof-dir=${REPO}bench/results/prof`] : [])];
const serverChild = spawnTs("bench/server-child.ts", [], serverFlags);
const {
  urls: childUrls,
  delayedUrls,
  oneWayLatencyMs,
} = await nextMessage<{ urls: ServerUrls; delayedUrls: ServerUrls; oneWayLatencyMs: number }>(serverChild, (m) => m.type === "ready");
progress(`server process up (pid ${serverChild.pid})`);

interface Pass {
  workloads: WorkloadResult[];
  pipelineExtra?: Record<string, number>;
  /** What our client sessions still hold after the pass (leak check: 1 import, the root; 1 export, the main slot). */
  tables: Record<string, unknown>;
}

async function rpcPass(urls: ServerUrls, names: readonly RpcWorkload[], what: string): Promise<Pass> {
  const pass: Pass = { workloads: [], tables: {} };
  const ctx: Context = { urls, pairs: await openPairs(urls), raw: await RawClient.open(urls.raw.wsUrl), timing };
  try {
    for (const name of names) {
      progress(`${name} (${what})`);
      switch (name) {
        case "sequential":
          pass.workloads.push(await sequential(ctx));
          break;
        case "in-flight":
          pass.workloads.push(await inFlight(ctx));
          break;
        case "pipeline": {
          const r = await pipeline(ctx);
          pass.workloads.push(r.single, r.pipeline, r.fourAwaits);
          pass.pipelineExtra = r.pipeline.extra;
          break;
        }
        case "map":
          pass.workloads.push(await map(ctx));
          break;
        case "payload":
          pass.workloads.push(await payload(ctx));
          break;
        case "http-batch":
          pass.workloads.push(await httpBatch(ctx));
          break;
        case "callbacks":
          pass.workloads.push(await callbacks(ctx));
          break;
        case "observer":
          pass.workloads.push(...(await observerCost(ctx)));
          break;
      }
    }
    pass.tables = Object.fromEntries(ctx.pairs.filter((p) => p.client === "ours").map((p) => [p.label, CapnWeb.stats(p.api)]));
  } finally {
    closePairs(ctx.pairs);
    ctx.raw.close();
  }
  return pass;
}

let onePass: Pass | undefined;
let twoPass: Pass | undefined;
let networkPass: Pass | undefined;
let heapResult: HeapResult | undefined;
let supervisionResult: SupervisionResult[] | undefined;
let reconnectResult: ReconnectResult | undefined;
let restoreResult: RestoreResult[] | undefined;
let bundleResult: BundleResult | undefined;
let streamsResult: StreamsResult | undefined;

const serverMemory = (): Promise<MemorySample> => {
  serverChild.send({ type: "memory" });
  return nextMessage<MemorySample>(serverChild, (m) => m.type === "memory");
};

/** Streams run against the server process: the slow reader measures the writer's memory there. */
async function streamsPass(): Promise<StreamsResult> {
  const ctx: Context = { urls: childUrls, pairs: await openPairs(childUrls), raw: await RawClient.open(childUrls.raw.wsUrl), timing };
  try {
    return await streams(ctx, serverMemory, quick);
  } finally {
    closePairs(ctx.pairs);
    ctx.raw.close();
  }
}

try {
  const oneNames = mode === "two" ? [] : RPC_WORKLOADS.filter(selected);
  if (oneNames.length) {
    const local = await startAll();
    try {
      onePass = await rpcPass(local.urls, oneNames, "one process");
    } finally {
      await local.close();
    }
  }
  const twoNames = mode === "one" ? [] : TWO_PROCESS_WORKLOADS.filter(selected);
  if (twoNames.length) twoPass = await rpcPass(childUrls, twoNames, "two processes");
  // Pipelining over a network: the servers' process, behind the latency proxies.
  if (mode !== "one" && selected("pipeline")) networkPass = await rpcPass(delayedUrls, ["pipeline"], `two processes, ${2 * oneWayLatencyMs} ms round trip`);
  if (selected("heap")) {
    progress("heap (child processes)");
    heapResult = await heap(childUrls);
  }
  if (selected("supervision")) {
    progress("supervision (100 and 10,000)");
    supervisionResult = await supervision(childUrls.ours.wsUrl);
  }
  if (selected("reconnect")) {
    progress("reconnect");
    reconnectResult = await reconnect();
  }
  if (selected("restore")) {
    progress("restore (1, 100 and 1,000 restorables)");
    restoreResult = await restore(quick);
  }
  if (selected("bundle")) {
    progress("browser bundle");
    bundleResult = await bundleSize();
  }
  if (selected("streams")) {
    progress("streams (two processes: throughput, then a slow reader)");
    streamsResult = await streamsPass();
  }
} finally {
  serverChild.send({ type: "close" });
  await Promise.race([exited(serverChild), new Promise((r) => setTimeout(r, 5_000))]);
  if (serverChild.exitCode === null) serverChild.kill();
}
const durationSec = (performance.now() - began) / 1000;
progress("done");

// ------------------------------------------------------------------------------------------------
// Ratios

type Ratio = { name: string; of: [string, string] };
/** Every ratio is a speed ratio: > 1 means the first of the two is faster. */
const RATIOS: Ratio[] = [
  { name: "ours→ours ÷ capnweb→capnweb", of: ["ours→ours", "capnweb→capnweb"] },
  { name: "client: ours ÷ capnweb (capnweb server)", of: ["ours→capnweb", "capnweb→capnweb"] },
  { name: "client: ours ÷ capnweb (our server)", of: ["ours→ours", "capnweb→ours"] },
  { name: "server: ours ÷ capnweb (capnweb client)", of: ["capnweb→ours", "capnweb→capnweb"] },
  { name: "server: ours ÷ capnweb (our client)", of: ["ours→ours", "ours→capnweb"] },
  { name: "ours→ours ÷ raw ws", of: ["ours→ours", RAW] },
  { name: "capnweb→capnweb ÷ raw ws", of: ["capnweb→capnweb", RAW] },
  { name: "ours→ours ÷ raw ws, base64 JSON", of: ["ours→ours", RAW_JSON] },
  { name: "capnweb→capnweb ÷ raw ws, base64 JSON", of: ["capnweb→capnweb", RAW_JSON] },
];

function ratio(figures: Record<string, Measured>, [a, b]: [string, string]): number | undefined {
  const x = figures[a];
  const y = figures[b];
  return x && y ? x.opsPerSec / y.opsPerSec : undefined;
}

function ratiosOf(pass: Pass | undefined) {
  if (!pass) return null;
  return Object.fromEntries(
    pass.workloads.map((w) => [w.id, Object.fromEntries(RATIOS.map((r) => [r.name, ratio(w.figures, r.of)]).filter(([, v]) => v !== undefined))]),
  );
}

// ------------------------------------------------------------------------------------------------
// Markdown

const fmtRatio = (x: number | undefined) => (x === undefined ? "–" : `${x.toFixed(2)}×`);
const fmtInt = (x: number) => Math.round(x).toLocaleString("en-US");
const fmtMs = (x: number) => (x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(0));
const fmtBytes = (x: number) => (Math.abs(x) >= 1024 * 1024 ? `${(x / 1024 / 1024).toFixed(1)} MiB` : Math.abs(x) >= 1024 ? `${(x / 1024).toFixed(1)} KiB` : `${Math.round(x)} B`);
function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(" | ")} |`, `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

const cpu = cpus()[0]?.model ?? "unknown";
const out: string[] = [];
out.push(`### Benchmark: capnweb-otp vs capnweb 0.12`);
out.push("");
out.push(
  `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpu}, ${cpus().length} cores, ${platform()} ${release()}. ` +
    `Loopback. Every figure is the median of ${timing.runs} runs, interleaved with the other cases of its workload in alternating order. ` +
    `Absolute figures drift 10–40 % between runs, so only ratios taken in one run are shown.`,
);

function speedTable(pass: Pass, heading: string): void {
  const shown = RATIOS.filter((r) => pass.workloads.some((w) => ratio(w.figures, r.of) !== undefined));
  out.push("");
  out.push(heading);
  out.push("");
  out.push(table(["Workload", ...shown.map((r) => r.name)], pass.workloads.map((w) => [w.title, ...shown.map((r) => fmtRatio(ratio(w.figures, r.of)))])));
}

if (onePass) {
  speedTable(
    onePass,
    `**Speed ratios, one process** (clients and servers on one thread: the whole cost of a call, both sides; > 1: the first is faster; "client" and "server" compare one side with the other side held fixed)`,
  );
}
if (twoPass) {
  speedTable(twoPass, `**Speed ratios, two processes** (servers in their own process, one core each: latency-bound)`);
}

const observerRows = (onePass ?? twoPass)?.workloads.filter((w) => w.id.startsWith("observer-")) ?? [];
if (observerRows.length) {
  out.push("");
  out.push(
    "**Observer cost** (sequential calls on a supervised session of a tree; phases one after the other, each with capnweb→capnweb and raw ws measured beside it; " +
      "last column: ours ÷ capnweb in that phase ÷ ours ÷ capnweb with no observer, 1.00× = no cost)",
  );
  out.push("");
  out.push(
    table(
      ["Phase", "ours ÷ capnweb", "ours ÷ raw ws", "vs no observer"],
      observerRows.map((w) => [
        w.title.replace("Sequential calls, supervised session, ", ""),
        fmtRatio(ratio(w.figures, ["ours→ours", "capnweb→capnweb"])),
        fmtRatio(ratio(w.figures, ["ours→ours", RAW])),
        fmtRatio(w.extra?.["ours÷capnweb vs no observer"]),
      ]),
    ),
  );
  const large = observerRows.find((w) => w.id === "observer-large-tree");
  if (large?.extra?.["update ms"] !== undefined) {
    out.push("");
    out.push(
      `One update of the large tree (the tree walk and every session's tables, built, sent and received by a page): ` +
        `${large.extra["update ms"].toFixed(1)} ms (median of 9), ${large.extra["update KiB"]!.toFixed(0)} KiB as JSON.`,
    );
  }
}

const networkName = `${2 * oneWayLatencyMs} ms network`;
const pipelinePasses = ([["one process", onePass], ["two processes", twoPass], [networkName, networkPass]] as const).filter(([, p]) => p?.pipelineExtra);
if (pipelinePasses.length) {
  out.push("");
  out.push(
    `**Pipelining** (time ratios within one pair: a four-call pipeline ÷ a single call, and four awaits ÷ the pipeline; "${networkName}": two processes through a proxy that delays every chunk ${oneWayLatencyMs} ms each way)`,
  );
  out.push("");
  const labels = PAIR_ORDER.map(([c, s]) => `${c}→${s}`);
  out.push(
    table(
      ["Pair", ...pipelinePasses.flatMap(([name]) => [`pipeline ÷ single (${name})`, `four awaits ÷ pipeline (${name})`])],
      labels.map((l) => [l, ...pipelinePasses.flatMap(([, p]) => [fmtRatio(p!.pipelineExtra![`${l} pipeline/single`]), fmtRatio(p!.pipelineExtra![`${l} four-awaits/pipeline`])])]),
    ),
  );
}

if (heapResult) {
  const h = heapResult;
  const label: Record<SessionKind, string> = { capnweb: "capnweb session", ours: "our session (connect)", supervised: "our supervised session", raw: "raw ws" };
  out.push("");
  out.push(`**Heap per idle session** (${h.n} sessions, heapUsed delta after gc ÷ n; client and server in separate processes; ratios < 1: smaller than capnweb)`);
  out.push("");
  out.push(
    table(
      ["Session", "client", "server", "client ÷ capnweb", "server ÷ capnweb", "client ÷ raw ws", "server ÷ raw ws"],
      SESSION_KINDS.map((k) => [
        label[k],
        fmtBytes(h.client[k].heapUsedPerSession),
        fmtBytes(h.server[k].heapUsedPerSession),
        fmtRatio(h.client[k].heapUsedPerSession / h.client.capnweb.heapUsedPerSession),
        fmtRatio(h.server[k].heapUsedPerSession / h.server.capnweb.heapUsedPerSession),
        fmtRatio(h.client[k].heapUsedPerSession / h.client.raw.heapUsedPerSession),
        fmtRatio(h.server[k].heapUsedPerSession / h.server.raw.heapUsedPerSession),
      ]),
    ),
  );
}

if (supervisionResult) {
  const s = supervisionResult;
  // Connections of any kind, against opening the same number of bare sockets in the same run.
  const rawStartRatio = (r: SupervisionResult): string => {
    const raw = s.find((x) => x.kind === "raw ws connection" && x.children === r.children);
    return raw && (r.kind.includes("session") || r.kind.includes("connection")) ? fmtRatio(r.startMs / raw.startMs) : "";
  };
  out.push("");
  out.push("**Supervision** (children of one DynamicSupervisor; connections opened 256 at a time against the server process, and for comparison the same connections without a supervisor: raw `ws` sockets, capnweb sessions, our `connect()`; flatness = per-child cost at the largest N ÷ at the smallest)");
  out.push("");
  const kinds = [...new Set(s.map((r) => r.kind))];
  const rows: string[][] = [];
  for (const kind of kinds) {
    const rs = s.filter((r) => r.kind === kind).sort((a, b) => a.children - b.children);
    const small = rs[0]!;
    const large = rs[rs.length - 1]!;
    for (const r of rs) {
      const last = r === large && rs.length > 1;
      rows.push([
        kind,
        fmtInt(r.children),
        (r.startMs / 1000).toFixed(3),
        (r.stopMs / 1000).toFixed(3),
        r.startPerChildUs.toFixed(1),
        r.stopPerChildUs.toFixed(1),
        last ? `${fmtRatio(large.startPerChildUs / small.startPerChildUs)} / ${fmtRatio(large.stopPerChildUs / small.stopPerChildUs)}` : "",
        rawStartRatio(r),
      ]);
    }
  }
  out.push(table(["Children", "N", "start s", "stop s", "start µs/child", "stop µs/child", "flatness start / stop", "start ÷ raw ws connections"], rows));
}

if (reconnectResult) {
  const r = reconnectResult;
  out.push("");
  out.push(`**Reconnect** (supervised session, backoff 10→50 ms, no jitter; server back on the same port; ${r.repetitions} times)`);
  out.push("");
  out.push(
    table(
      ["listening → first successful call, median", "min", "max", "÷ fresh connect + call (ours)", "fresh connect ours ÷ capnweb (speed)"],
      [[`${fmtMs(r.medianMs)} ms`, `${fmtMs(r.minMs)} ms`, `${fmtMs(r.maxMs)} ms`, fmtRatio(r.medianMs / r.freshConnectOursMs), fmtRatio(r.freshConnectCapnwebMs / r.freshConnectOursMs)]],
    ),
  );
}

if (restoreResult) {
  out.push("");
  out.push(
    "**Restore** (a supervised session with N restorables `(root) => root.users().get(i)`; server back on the same port; " +
      "listening → first successful call on a restorable, median; beside it, a fresh connection that gets the N users again by hand and makes the same call)",
  );
  out.push("");
  out.push(
    table(
      [
        "Restorables",
        "listening → first call (reconnect + restore)",
        "connected → first call (restore)",
        "fresh connect + the same calls by hand",
        "reconnect + restore ÷ by hand (time)",
        "restore ÷ by hand (time)",
      ],
      restoreResult.map((r) => [
        r.restorables.toLocaleString("en-US"),
        `${fmtMs(r.restoreMs)} ms`,
        `${fmtMs(r.connectedToCallMs)} ms`,
        `${fmtMs(r.byHandMs)} ms`,
        fmtRatio(r.restoreMs / r.byHandMs),
        fmtRatio(r.connectedToCallMs / r.byHandMs),
      ]),
    ),
  );
}

if (bundleResult) {
  const b = bundleResult;
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  out.push("");
  out.push("**Browser bundle** (the browser entry and capnweb's, each bundled by esbuild for the browser, minified, then gzipped at level 9)");
  out.push("");
  out.push(
    table(
      ["Bundle", "minified", "gzipped", "minified ÷ capnweb", "gzipped ÷ capnweb"],
      [
        ["capnweb-otp (supervision, actors, restorables)", kb(b.ours.minifiedBytes), kb(b.ours.gzippedBytes), fmtRatio(b.ours.minifiedBytes / b.capnweb.minifiedBytes), fmtRatio(b.ours.gzippedBytes / b.capnweb.gzippedBytes)],
        ["capnweb", kb(b.capnweb.minifiedBytes), kb(b.capnweb.gzippedBytes), "1.00×", "1.00×"],
      ],
    ),
  );
  out.push("");
  out.push(`Ours by part (minified): ${Object.entries(b.oursByPart).sort((x, y) => y[1] - x[1]).map(([part, bytes]) => `${part} ${kb(bytes)}`).join(", ")}.`);
}

/** Whether `ws` masks and unmasks frames natively (its optional `bufferutil` addon) or in JavaScript. */
function wsMasking(): string {
  if (process.env.WS_NO_BUFFER_UTIL) return "JavaScript (WS_NO_BUFFER_UTIL set)";
  try {
    createRequire(createRequire(import.meta.url).resolve("ws"))("bufferutil");
    return "native (bufferutil)";
  } catch {
    return "ws's JavaScript fallback, byte by byte (bufferutil not installed)";
  }
}

if (streamsResult) {
  const r = streamsResult;
  out.push("");
  out.push(
    `**Streams** (two processes: the servers in theirs, the clients here; ${r.bytes / 1024 / 1024} MiB in 64 KiB chunks, the median of ${r.runs} transfers per case after a warm-up, interleaved; ` +
      "ratios of MB/s, > 1: the first is faster; raw ws: the same bytes as binary frames between a raw ws client and server in the row's direction, the limit of every row " +
      "(passing a ReadableStream to the server, the client sends: a WebSocket client masks its frames and the server unmasks them, RFC 6455); " +
      "capnweb's wire carries bytes as base64 inside JSON, a third more bytes plus the encoding, which raw ws pays neither of; " +
      `ws's masking here: ${wsMasking()})`,
  );
  out.push("");
  const shown = RATIOS.filter((x) => r.throughput.some((w) => ratio(w.figures, x.of) !== undefined));
  out.push(table(["Workload", ...shown.map((x) => x.name)], r.throughput.map((w) => [w.title, ...shown.map((x) => fmtRatio(ratio(w.figures, x.of)))])));
  const columns = [...PAIR_ORDER.map(([c, s]) => `${c}→${s}`), RAW, RAW_JSON];
  out.push("");
  out.push(
    table(
      ["MB/s (median)", ...columns],
      r.throughput.map((w) => [w.title, ...columns.map((c) => (w.figures[c] ? `${w.figures[c]!.opsPerSec.toFixed(1)} ±${Math.round((w.figures[c]!.spread * 100) / 2)}%` : "–"))]),
    ),
  );
  if (r.slowReader.length) {
    out.push("");
    out.push(
      `**Stream with a slow reader** (the server writes, offering ${SLOW_READER_OFFERED_CHUNKS.toLocaleString("en-US")} chunks of 64 KiB; the client takes 1 chunk per ${SLOW_READER_DELAY_MS} ms; ` +
        "on the writer's side: the most its source had produced beyond what the reader had consumed, and its process's growth after two gcs; " +
        "beside external growth, external memory read between the two gcs, which still counts the ArrayBuffers allocated and dropped since the sample before (25 chunks earlier): allocation, not holding)",
    );
    out.push("");
    const capnweb = r.slowReader.find((x) => x.pair === "capnweb→capnweb");
    out.push(
      table(
        ["Pair", "chunks read", "produced − consumed, max", "heapUsed growth, max", "external growth, max", "external after one gc, max", "RSS growth, max", "ahead ÷ capnweb→capnweb"],
        r.slowReader.map((x) => [
          x.pair,
          fmtInt(x.chunksRead),
          fmtBytes(x.maxAheadBytes),
          fmtBytes(x.maxHeapGrowth),
          fmtBytes(x.maxExternalGrowth),
          fmtBytes(x.maxExternalGrowthOneGc),
          fmtBytes(x.maxRssGrowth),
          capnweb ? fmtRatio(x.maxAheadBytes / capnweb.maxAheadBytes) : "–",
        ]),
      ),
    );
  }
  for (const [name, why] of Object.entries(r.failures)) out.push("", `Left out: ${name}: ${why}`);
}

function absoluteTable(pass: Pass, name: string): void {
  const columns = ["ours→ours", "capnweb→capnweb", "ours→capnweb", "capnweb→ours", RAW];
  out.push("");
  out.push(`<details><summary>Absolute figures of this run, ${name} (operations/s; ± = half the spread of the runs)</summary>`);
  out.push("");
  out.push(
    table(
      ["Workload", ...columns],
      pass.workloads.map((w) => [
        `${w.title} (${w.unit}/s)`,
        ...columns.map((c) => {
          const m = w.figures[c];
          return m ? `${fmtInt(m.opsPerSec)} ±${Math.round((m.spread * 100) / 2)}%` : "–";
        }),
      ]),
    ),
  );
  const payloadResult = pass.workloads.find((w) => w.id === "payload-64k");
  if (payloadResult?.extra) {
    out.push("");
    out.push(`64 KiB echo, MB/s: ${columns.filter((c) => payloadResult.extra![`${c} MB/s`] !== undefined).map((c) => `${c} ${payloadResult.extra![`${c} MB/s`]!.toFixed(1)}`).join(", ")}`);
  }
  out.push("");
  out.push("</details>");
}
if (onePass) absoluteTable(onePass, "one process");
if (twoPass) absoluteTable(twoPass, "two processes");
if (networkPass) absoluteTable(networkPass, `two processes, ${networkName}`);

const markdown = out.join("\n");
console.log(markdown);

// ------------------------------------------------------------------------------------------------
// JSON

const json = {
  date: new Date().toISOString(),
  node: process.version,
  cpu,
  cores: cpus().length,
  platform: `${platform()} ${release()}`,
  quick,
  mode,
  timing,
  durationSec,
  only: only ?? null,
  oneProcess: onePass ? { workloads: Object.fromEntries(onePass.workloads.map((w) => [w.id, w])), ratios: ratiosOf(onePass), pipeline: onePass.pipelineExtra ?? null, ourClientTablesAfterPass: onePass.tables } : null,
  twoProcesses: twoPass ? { workloads: Object.fromEntries(twoPass.workloads.map((w) => [w.id, w])), ratios: ratiosOf(twoPass), pipeline: twoPass.pipelineExtra ?? null, ourClientTablesAfterPass: twoPass.tables } : null,
  network: networkPass
    ? { oneWayLatencyMs, workloads: Object.fromEntries(networkPass.workloads.map((w) => [w.id, w])), pipeline: networkPass.pipelineExtra ?? null }
    : null,
  heap: heapResult ?? null,
  supervision: supervisionResult ?? null,
  reconnect: reconnectResult ?? null,
  restore: restoreResult ?? null,
  bundle: bundleResult ?? null,
  streams: streamsResult ?? null,
  markdown,
};
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
// Only a full run replaces latest.json (the README's tables): a partial or quick one goes beside it.
const file = new URL(only || quick || mode !== "both" ? "./results/partial.json" : "./results/latest.json", import.meta.url);
writeFileSync(file, JSON.stringify(json, null, 2) + "\n");
progress(`wrote ${file.pathname} in ${durationSec.toFixed(1)} s`);
process.exit(0);
