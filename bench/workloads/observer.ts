// 13. The observer's cost: sequential calls on a supervised session, (a) with no observer, (b)
// with CapnWeb.observe(tree) running and no page open, (c) with a page connected (a Cap'n Web
// client of the observer's /rpc, asking `next()` as the page does, updates every second). The
// observer listens to telemetry process-wide while a page is open, so the three are phases, one
// after the other, not cases of one interleaved measure; each phase measures capnweb→capnweb and
// raw ws beside ours, so that its figures are compared as ratios taken in the same minutes, and
// the phases run twice, in opposite orders.

import { CapnWeb } from "../lib/library.js";
import { RAW_SMALL_MESSAGE } from "../lib/clients.js";
import { type Context, RAW, type WorkloadResult } from "../lib/context.js";
import { type Case, type Measured, measure, median } from "../lib/measure.js";
import type { BenchApi } from "../servers.js";

const PHASES = ["no observer", "observe(), no page", "observe(), page open"] as const;
type Phase = (typeof PHASES)[number];
const OURS = "ours→ours";
const CAPNWEB = "capnweb→capnweb";

interface Page {
  stop(): Promise<void>;
}

/** A page's session: asks for the next update until stopped, as the browser page does. */
async function openPage(observer: { url: string }): Promise<Page> {
  const page = await CapnWeb.connect<{ next(cursor: number): { log: { seq: number }[] } }>(new URL("rpc", observer.url.replace("http:", "ws:")).href);
  let running = true;
  const loop = (async () => {
    let cursor = 0;
    while (running) {
      const update = await page.next(cursor);
      cursor = update.log.at(-1)?.seq ?? cursor;
    }
  })().catch(() => {});
  return {
    async stop() {
      running = false;
      CapnWeb.close(page);
      await loop;
    },
  };
}

export async function observerCost(ctx: Context): Promise<WorkloadResult[]> {
  const name = "bench-observed";
  const app = await CapnWeb.Supervisor.start([CapnWeb.Session.spec<BenchApi>({ name, url: ctx.urls.ours.wsUrl, heartbeat: 0 })], { name: "bench_app" });
  const capnweb = ctx.pairs.find((p) => p.label === CAPNWEB)!;
  try {
    const api = CapnWeb.session<BenchApi>(name);
    await CapnWeb.ready(name, { timeout: 10_000 });
    const cases: Case[] = [
      { name: OURS, run: async (n) => void (await sequentialCalls(api, n)) },
      { name: CAPNWEB, run: async (n) => void (await sequentialCalls(capnweb.api, n)) },
      { name: RAW, run: async (n) => { for (let i = 0; i < n; i++) await ctx.raw.exchange(1, RAW_SMALL_MESSAGE); } },
    ];
    const runs: Record<Phase, Measured[][]> = { "no observer": [], "observe(), no page": [], "observe(), page open": [] };
    for (const order of [PHASES, [...PHASES].reverse()]) {
      for (const phase of order) {
        let observer: Awaited<ReturnType<typeof CapnWeb.observe>> | undefined;
        let page: Page | undefined;
        try {
          if (phase !== "no observer") observer = await CapnWeb.observe(app);
          if (phase === "observe(), page open") page = await openPage(observer!);
          runs[phase].push(await measure(cases, ctx.timing));
          if (page && observer!.pages !== 1) throw new Error("the bench page did not stay connected");
        } finally {
          await page?.stop();
          await observer?.close();
        }
      }
    }
    const noObserver = oursPerCapnweb(runs["no observer"]);
    return PHASES.map((phase) => {
      const figures = merge(runs[phase]);
      return {
        id: `observer-${phase.replace(/\W+/g, "-").replace(/-+$/, "")}`,
        title: `Sequential calls, supervised session, ${phase}`,
        unit: "calls",
        figures,
        extra: { "ours÷capnweb vs no observer": oursPerCapnweb(runs[phase]) / noObserver },
      };
    });
  } finally {
    await app.close();
  }
}

async function sequentialCalls(api: { square(i: number): unknown }, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await api.square(i);
}

/** The two rounds of one phase as one figure per case: the median of all their runs. */
function merge(rounds: Measured[][]): Record<string, Measured> {
  const out: Record<string, Measured> = {};
  for (const measured of rounds[0]!) {
    const all = rounds.flatMap((round) => round.find((m) => m.name === measured.name)!.runs);
    const opsPerSec = median(all);
    out[measured.name] = { ...measured, runs: all, opsPerSec, msPerOp: 1000 / opsPerSec, spread: (Math.max(...all) - Math.min(...all)) / opsPerSec };
  }
  return out;
}

function oursPerCapnweb(rounds: Measured[][]): number {
  const figures = merge(rounds);
  return figures[OURS]!.opsPerSec / figures[CAPNWEB]!.opsPerSec;
}
