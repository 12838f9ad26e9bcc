// 1. Sequential calls: one `await api.square(i)` at a time. Raw ws: one frame round trip at a time.

import { RAW_SMALL_MESSAGE } from "../lib/clients.js";
import { type Context, type WorkloadResult, measurePairs } from "../lib/context.js";

export async function sequential(ctx: Context): Promise<WorkloadResult> {
  const figures = await measurePairs(
    ctx,
    ({ api }) =>
      async (n) => {
        for (let i = 0; i < n; i++) await api.square(i);
      },
    async (n) => {
      for (let i = 0; i < n; i++) await ctx.raw.exchange(1, RAW_SMALL_MESSAGE);
    },
  );
  return { id: "sequential", title: "Sequential calls", unit: "calls", figures };
}
