// 7. Server-to-client callbacks: `await api.callFunction(cb, i)`, where the server calls the
// client's function back (two round trips, one each way), one at a time.

import { type Context, type WorkloadResult, measurePairs } from "../lib/context.js";

export async function callbacks(ctx: Context): Promise<WorkloadResult> {
  const cb = (x: number) => x + 1;
  const figures = await measurePairs(ctx, ({ api }) => async (n) => {
    for (let i = 0; i < n; i++) {
      const r = await api.callFunction(cb, i);
      if (r !== i + 1) throw new Error(`callback answered ${r}`);
    }
  });
  return { id: "callbacks", title: "Server-to-client callbacks", unit: "callbacks", figures };
}
