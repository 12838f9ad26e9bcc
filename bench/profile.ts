// One workload, one client→server pair, in one process, for a CPU profile:
//   npm run build && node --cpu-prof --cpu-prof-dir=bench/results/prof --import tsx bench/profile.ts <workload> <client> <server> [seconds]
//   npx tsx bench/profile-summary.ts bench/results/prof/<file>.cpuprofile
// workload: sequential | in-flight | pipeline | four-awaits | map | payload | http-batch | callbacks

import { performance } from "node:perf_hooks";
import { startAll, type Impl } from "./servers.js";
import { httpClient, openWs, closeWs } from "./lib/clients.js";

const [workload = "http-batch", client = "ours", server = "ours", seconds = "5"] = process.argv.slice(2) as [string, Impl, Impl, string];
const servers = await startAll();
const { wsUrl, url } = servers.urls[server];
const api = workload === "http-batch" ? undefined : await openWs(client, wsUrl);
const next = workload === "http-batch" ? await httpClient(client, url) : undefined;
const payload = "x".repeat(64 * 1024);
const cb = (x: number) => x + 1;

const ops: Record<string, (i: number) => Promise<unknown>> = {
  sequential: (i) => api.square(i),
  "in-flight": (i) => Promise.all(Array.from({ length: 1000 }, (_, j) => api.square(i + j))),
  pipeline: async () => {
    using users = api.users();
    using user = users.get(1);
    using profile = user.profile();
    return await profile.name();
  },
  "four-awaits": async () => {
    using users = await api.users();
    using user = await users.get(1);
    using profile = await user.profile();
    return await profile.name();
  },
  map: async () => {
    using array = api.generateArray(100);
    return await array.map((x: any) => api.square(x));
  },
  payload: () => api.echo(payload),
  "http-batch": (i) => next!().users().get(i).profile().name(),
  callbacks: (i) => api.callFunction(cb, i),
};
const op = ops[workload];
if (!op) throw new Error(`unknown workload ${workload}`);

const end = performance.now() + Number(seconds) * 1000;
let count = 0;
while (performance.now() < end) await op(count++);
console.log(`${workload} ${client}→${server}: ${count} ops in ${seconds} s (${Math.round(count / Number(seconds))}/s, profiler on)`);
if (api) closeWs(client, api);
await servers.close();
process.exit(0);
