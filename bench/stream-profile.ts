// Stream throughput of one client→server pair, for a CPU profile or a quick A/B:
//   npm run build && node [--cpu-prof --cpu-prof-dir=bench/results/prof] --import tsx bench/stream-profile.ts <direction> [client] [server] [MiB] [runs] [--server-child[=prof]]
//   direction: download | writable | upload
// Prints MB/s per run and the median. By default in one process, which pays both ends' CPU (not
// the bench, which runs client and server in two processes, side by side with capnweb and raw
// ws). `--server-child` puts the servers in the bench's server child process instead (two
// processes, as the bench); `--server-child=prof` makes that process write a .cpuprofile to
// bench/results/prof.

import { performance } from "node:perf_hooks";
import { startAll, type Impl, type ServerUrls } from "./servers.js";
import { openWs, closeWs } from "./lib/clients.js";
import { REPO, exited, nextMessage, spawnTs } from "./lib/spawn.js";
import { MiB, countingSink, countingSource, drain } from "../test/shared/byte-streams.js";

const childOption = process.argv.find((a) => a.startsWith("--server-child"));
const [direction = "download", client = "ours", server = "ours", mib = "100", runs = "3"] = process.argv.slice(2).filter((a) => !a.startsWith("--")) as [string, Impl, Impl, string, string];
let urls: ServerUrls;
let close: () => Promise<void>;
if (childOption) {
  const flags = childOption === "--server-child=prof" ? ["--cpu-prof", `--cpu-prof-dir=${REPO}bench/results/prof`] : [];
  const child = spawnTs("bench/server-child.ts", [], flags);
  urls = (await nextMessage<{ urls: ServerUrls }>(child, (m) => m.type === "ready")).urls;
  close = async () => {
    child.send({ type: "close" });
    await exited(child);
  };
} else {
  const servers = await startAll();
  urls = servers.urls;
  close = () => servers.close();
}
const api = await openWs(client, urls[server].wsUrl);
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
await close();
process.exit(0);
