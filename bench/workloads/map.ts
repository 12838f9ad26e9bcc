// 4. map over 100 elements: `api.generateArray(100).map(x => api.square(x))`, one round trip
// (a `remap` the server runs), awaited one at a time.

import { type Context, type WorkloadResult, measurePairs } from "../lib/context.js";

export const MAP_SIZE = 100;

export async function map(ctx: Context): Promise<WorkloadResult> {
  const figures = await measurePairs(ctx, ({ api }) => async (n) => {
    for (let i = 0; i < n; i++) {
      using array = api.generateArray(MAP_SIZE);
      const squares = await array.map((x: any) => api.square(x));
      if (squares.length !== MAP_SIZE) throw new Error("map returned the wrong length");
    }
  });
  return { id: "map", title: `map over ${MAP_SIZE} elements`, unit: "maps", figures };
}
