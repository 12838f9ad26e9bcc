// 2. 1,000 calls in flight: fire 1,000 `api.square(i)`, await them all, repeat. Raw ws: 1,000
// frames sent at once, then wait for the 1,000 echoes.

import { RAW_SMALL_MESSAGE } from "../lib/clients.js";
import { type Context, type WorkloadResult, measurePairs, scale } from "../lib/context.js";

export const IN_FLIGHT = 1_000;

export async function inFlight(ctx: Context): Promise<WorkloadResult> {
  // One measured operation is one wave of 1,000 calls.
  const waves = await measurePairs(
    ctx,
    ({ api }) =>
      async (n) => {
        for (let wave = 0; wave < n; wave++) {
          const calls = new Array(IN_FLIGHT);
          for (let i = 0; i < IN_FLIGHT; i++) calls[i] = api.square(i);
          await Promise.all(calls);
        }
      },
    async (n) => {
      for (let wave = 0; wave < n; wave++) await ctx.raw.exchange(IN_FLIGHT, RAW_SMALL_MESSAGE);
    },
  );
  const figures = Object.fromEntries(Object.entries(waves).map(([k, m]) => [k, scale(m, IN_FLIGHT)]));
  return { id: "in-flight", title: "1,000 calls in flight", unit: "calls", figures };
}
