// 5. 64 KiB payloads: `await api.echo(s)` with a 64 KiB string, one at a time. Raw ws: a 64 KiB
// frame echoed, one at a time. MB/s counts the payload once per operation (each way).

import { type Context, type WorkloadResult, measurePairs } from "../lib/context.js";

export const PAYLOAD_BYTES = 64 * 1024;
const PAYLOAD = "x".repeat(PAYLOAD_BYTES);

export async function payload(ctx: Context): Promise<WorkloadResult> {
  const figures = await measurePairs(
    ctx,
    ({ api }) =>
      async (n) => {
        for (let i = 0; i < n; i++) {
          const back = await api.echo(PAYLOAD);
          if (back.length !== PAYLOAD_BYTES) throw new Error("echo lost bytes");
        }
      },
    async (n) => {
      for (let i = 0; i < n; i++) await ctx.raw.exchange(1, PAYLOAD);
    },
  );
  const extra = Object.fromEntries(Object.entries(figures).map(([k, m]) => [`${k} MB/s`, (m.opsPerSec * PAYLOAD_BYTES) / 1e6]));
  return { id: "payload-64k", title: "64 KiB echo", unit: "echoes", figures, extra };
}
