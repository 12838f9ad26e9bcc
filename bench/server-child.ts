// The servers of the benchmark, in a process of their own (so that the client process is measured
// alone, each side has a core, and 10,000 sessions need 10,000 fds here and 10,000 there):
// starts ours, capnweb's and the raw echo server, and in front of each a proxy that adds network
// latency (here too, so that forwarding costs the client process nothing); reports all their URLs
// over IPC, reports its memory when asked (for the streams' slow reader), and closes them when told to.

import { startAll, type ServerUrls } from "./servers.js";
import { type LatencyProxy, startLatencyProxy } from "./lib/latency-proxy.js";

/** Added each way: a 2 ms round trip, as between two machines of one data centre region. */
export const ONE_WAY_LATENCY_MS = 1;

const servers = await startAll();
const proxies: LatencyProxy[] = [];
const delayedUrls = {} as ServerUrls;
for (const [impl, urls] of Object.entries(servers.urls) as [keyof ServerUrls, ServerUrls[keyof ServerUrls]][]) {
  const target = new URL(urls.wsUrl);
  const proxy = await startLatencyProxy(Number(target.port), ONE_WAY_LATENCY_MS);
  proxies.push(proxy);
  const swap = (url: string) => url.replace(`:${target.port}`, `:${proxy.port}`);
  delayedUrls[impl] = { wsUrl: swap(urls.wsUrl), url: swap(urls.url) };
}
const gc = (globalThis as { gc?: () => void }).gc;
process.on("message", async (message: { type: string }) => {
  if (message.type === "memory") {
    // What the servers hold, not what they have left for the collector (run with --expose-gc).
    // Two collections: right after one, `external` still counts the ArrayBuffers that died since
    // the collection before it (V8 takes their bytes off at the next collection; `arrayBuffers`
    // leaves them out at once). Both readings are reported: the second is what is held.
    gc?.();
    const externalAfterOneGc = process.memoryUsage().external;
    gc?.();
    const { heapUsed, external, arrayBuffers, rss } = process.memoryUsage();
    process.send!({ type: "memory", heapUsed, external, arrayBuffers, rss, externalAfterOneGc, collected: gc !== undefined });
  } else if (message.type === "close") {
    await Promise.all(proxies.map((p) => p.close()));
    await servers.close();
    process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
process.send!({ type: "ready", urls: servers.urls, delayedUrls, oneWayLatencyMs: ONE_WAY_LATENCY_MS });
