// 6. HTTP batch: one POST carrying a four-call pipeline (`users().get(1).profile().name()`),
// awaited one at a time. No WebSocket: each client POSTs to each server's HTTP endpoint.

import { PAIR_ORDER, httpClient, label } from "../lib/clients.js";
import { measure, type Case } from "../lib/measure.js";
import type { Context, WorkloadResult } from "../lib/context.js";

export async function httpBatch(ctx: Context): Promise<WorkloadResult> {
  const cases: Case[] = [];
  for (const [client, server] of PAIR_ORDER) {
    const next = await httpClient(client, ctx.urls[server].url);
    cases.push({
      name: label(client, server),
      run: async (n) => {
        for (let i = 0; i < n; i++) {
          const name = await next().users().get(i).profile().name();
          if (name !== `user-${i}`) throw new Error(`unexpected ${name}`);
        }
      },
    });
  }
  // fetch (undici, which both clients use) takes seconds of traffic to reach its steady speed.
  const results = await measure(cases, { ...ctx.timing, warmupMs: Math.max(ctx.timing.warmupMs ?? 0, 1_500) });
  return { id: "http-batch", title: "HTTP batch, four-call pipeline", unit: "batches", figures: Object.fromEntries(results.map((r) => [r.name, r])) };
}
