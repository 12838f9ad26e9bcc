// Stream throughput of one client→server pair in one process, for a CPU profile or a quick A/B:
//   npm run build && node [--cpu-prof --cpu-prof-dir=bench/results/prof] --import tsx bench/stream-profile.ts <direction> [client] [server] [MiB] [runs]
//   direction: download | writable | upload
// Prints MB/s per run and the median. Not the bench (which runs client and server in two
// processes, side by side with capnweb and raw ws): one process pays both ends' CPU.

import { performance } from "node:perf_hooks";
import { startAll, type Impl } from "./servers.js";
import { openWs, closeWs } from "./lib/clients.js";
import { MiB, countingSink, countingSource, drain } from "../test/shared/byte-streams.js";

const [direction = "download", client = "ours", server = "ours", mib = "100", runs = "3"] = process.argv.slice(2) as [string, Impl, Impl, string, string];
const servers = await startAll();
const api = await openWs(client, servers.urls[server].wsUrl);
const bytes = Number(mib) * MiB;

const directions: Record<string, () => Promise<number>> = {
  download: async () => (await drain(await api.download(bytes), { hash: false })).bytes,
  writable: async () => {
    const sink = countingSink({ hash: false });
    await api.fill(sink.stream, bytes);
    return (await sink.closed).bytes;
  },
  upload: async () => await api.consume(countingSource(bytes, { content: "fixed" }).stream),
};
const run = directions[direction];
if (!run) throw new Error(`unknown direction ${direction}`);

const figures: number[] = [];
for (let i = 0; i < Number(runs); i++) {
  const start = performance.now();
  const got = await run();
  const seconds = (performance.now() - start) / 1000;
  if (got !== bytes) throw new Error(`${got} of ${bytes} bytes arrived`);
  figures.push(bytes / 1e6 / seconds);
}
figures.sort((a, b) => a - b);
console.log(`${direction} ${client}→${server}: ${figures.map((f) => f.toFixed(0)).join(" ")} MB/s, median ${figures[Math.floor(figures.length / 2)]!.toFixed(0)}`);
closeWs(client, api);
await servers.close();
process.exit(0);
