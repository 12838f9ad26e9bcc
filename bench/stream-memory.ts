// What the slow reader's "external growth" on the writer's side is made of (README, Benchmarks):
//   npm run build && node --import tsx bench/stream-memory.ts [--throughput] [--frames=string] [--pairs=ours→ours,capnweb→capnweb] [--trace-gc]
// The bench's conditions: the bench's server child (here with a probe on ws's send, see
// bench/stream-memory-child.ts), the clients in this process, optionally the throughput runs
// first (3 × 100 MiB returned by the server, per pair), then the slow reader as the bench runs it
// (a short slow stream, a baseline, then 300 chunks at 1 per 10 ms, a sample every 25). Each
// sample, over the baseline: `external` after one gc (what the bench reported), `external` and
// `arrayBuffers` after a second gc, and the bytes of the Buffers the server handed to ws since the
// sample before.

import { setTimeout as sleep } from "node:timers/promises";
import type { ChildProcess } from "node:child_process";
import { nextMessage, spawnTs } from "./lib/spawn.js";
import { closeWs, label, openWs } from "./lib/clients.js";
import type { Impl, ServerUrls } from "./servers.js";
import { CHUNK_BYTES, MiB, drain } from "../test/shared/byte-streams.js";

const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const childArgs = args.filter((a) => a.startsWith("--frames="));
const pairs = (option("pairs") ?? "ours→ours,capnweb→capnweb").split(",").map((p) => p.split("→") as [Impl, Impl]);

interface Sample {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  externalAfterOneGc: number;
}

// --trace-gc: the child logs its collections (which of them ran between two samples).
const child: ChildProcess = spawnTs("bench/stream-memory-child.ts", childArgs, ["--expose-gc", ...args.filter((a) => a === "--trace-gc")]);
const { urls } = await nextMessage<{ urls: ServerUrls }>(child, (m) => m.type === "ready");
const memory = (): Promise<Sample> => {
  child.send({ type: "memory" });
  return nextMessage<Sample>(child, (m) => m.type === "memory");
};
const sent = (): Promise<{ bufferBytesSent: number; framesSent: number }> => {
  child.send({ type: "sent" });
  return nextMessage(child, (m) => m.type === "sent");
};
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`.padStart(9);

for (const [client, server] of pairs) {
  const api = await openWs(client, urls[server].wsUrl);
  if (args.includes("--throughput")) {
    for (let i = 0; i < 3; i++) await drain(await api.download(100 * MiB), { hash: false });
  }
  const offered = 10_000 * CHUNK_BYTES;
  await drain(await api.download(offered), { hash: false, delayMs: 10, maxChunks: 25 });
  await sleep(200);
  await memory();
  const base = await memory();
  await sent();
  console.log(`${label(client, server)}${childArgs.length ? ` (${childArgs.join(" ")})` : ""}`);
  console.log("  chunks | external, 1 gc | external, 2 gcs | arrayBuffers | heapUsed | Buffers sent since last | frames");
  const stream: ReadableStream<Uint8Array> = await api.download(offered);
  await drain(stream, {
    hash: false,
    delayMs: 10,
    maxChunks: 300,
    async onChunk(_consumed, n) {
      if (n % 25 !== 0) return;
      const s = await sent();
      const m = await memory();
      console.log(
        `  ${String(n).padStart(6)} | ${kib(m.externalAfterOneGc - base.external)}      | ${kib(m.external - base.external)}       | ${kib(m.arrayBuffers - base.arrayBuffers)}    | ${kib(m.heapUsed - base.heapUsed)} | ${kib(s.bufferBytesSent)}               | ${s.framesSent}`,
      );
    },
  });
  await sleep(50);
  closeWs(client, api);
}
child.send({ type: "close" });
