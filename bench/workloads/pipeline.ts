// 3. A four-call pipeline (`api.users().get(1).profile().name()`, one round trip) against the
// same four calls with an await after each (four round trips) and against a single call.
// Intermediate promises and stubs are disposed, as a careful application does (otherwise both
// implementations keep three imports per chain until the session ends).

import { measure, type Case, type Measured } from "../lib/measure.js";
import type { Context, WorkloadResult } from "../lib/context.js";

export async function pipeline(ctx: Context): Promise<{ single: WorkloadResult; pipeline: WorkloadResult; fourAwaits: WorkloadResult }> {
  const cases: Case[] = [];
  for (const { api, label } of ctx.pairs) {
    cases.push({
      name: `${label} single`,
      run: async (n) => {
        for (let i = 0; i < n; i++) await api.square(3);
      },
    });
    cases.push({
      name: `${label} pipeline`,
      run: async (n) => {
        for (let i = 0; i < n; i++) {
          using users = api.users();
          using user = users.get(1);
          using profile = user.profile();
          await profile.name();
        }
      },
    });
    cases.push({
      name: `${label} four awaits`,
      run: async (n) => {
        for (let i = 0; i < n; i++) {
          using users = await api.users();
          using user = await users.get(1);
          using profile = await user.profile();
          await profile.name();
        }
      },
    });
  }
  const results = await measure(cases, { ...ctx.timing, runMs: (ctx.timing.runMs ?? 100) * 0.6 });
  const pick = (suffix: string): Record<string, Measured> =>
    Object.fromEntries(results.filter((r) => r.name.endsWith(` ${suffix}`)).map((r) => [r.name.slice(0, -suffix.length - 1), { ...r, name: r.name.slice(0, -suffix.length - 1) }]));
  const single = pick("single");
  const chain = pick("pipeline");
  const awaits = pick("four awaits");
  const extra: Record<string, number> = {};
  for (const { label } of ctx.pairs) {
    extra[`${label} pipeline/single`] = chain[label]!.msPerOp / single[label]!.msPerOp;
    extra[`${label} four-awaits/pipeline`] = awaits[label]!.msPerOp / chain[label]!.msPerOp;
  }
  return {
    single: { id: "single", title: "Single call (latency)", unit: "calls", figures: single },
    pipeline: { id: "pipeline", title: "Four-call pipeline", unit: "chains", figures: chain, extra },
    fourAwaits: { id: "four-awaits", title: "Four calls, four awaits", unit: "chains", figures: awaits },
  };
}
