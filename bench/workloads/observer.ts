// 13. The observer's cost: sequential calls on a supervised session, (a) with no observer, (b)
// with CapnWeb.observe(tree) running and no page open, (c) with a page connected (a Cap'n Web
// client of the observer's /rpc, asking `next()` as the page does, updates every second). The
// observer listens to telemetry process-wide while a page is open, so the three are phases, one
// after the other, not cases of one interleaved measure; each phase measures capnweb→capnweb and
// raw ws beside ours, so that its figures are compared as ratios taken in the same minutes, and
// the phases run twice, in opposite orders. A last phase, (d), opens the page on a large tree
// (LARGE_SESSIONS more sessions holding LARGE_CAPS_EACH capabilities each): what its updates cost
// the calls beside them, and what one update of it costs to build and to send.

import { CapnWeb } from "../lib/library.js";
import { RAW_SMALL_MESSAGE } from "../lib/clients.js";
import { type Context, RAW, type WorkloadResult } from "../lib/context.js";
import { type Case, type Measured, measure, median } from "../lib/measure.js";
import type { BenchApi } from "../servers.js";

const PHASES = ["no observer", "observe(), no page", "observe(), page open"] as const;
type Phase = (typeof PHASES)[number];
const LARGE_SESSIONS = 200;
const LARGE_CAPS_EACH = 25;
const LARGE_PHASE = `observe(), page open on ${LARGE_SESSIONS} more sessions holding ${(LARGE_SESSIONS * LARGE_CAPS_EACH).toLocaleString("en-US")} capabilities`;
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
    const results: WorkloadResult[] = PHASES.map((phase) => {
      const figures = merge(runs[phase]);
      return {
        id: `observer-${phase.replace(/\W+/g, "-").replace(/-+$/, "")}`,
        title: `Sequential calls, supervised session, ${phase}`,
        unit: "calls",
        figures,
        extra: { "ours÷capnweb vs no observer": oursPerCapnweb(runs[phase]) / noObserver },
      };
    });
    const large = await largeTreePhase(ctx, cases);
    results.push({
      id: "observer-large-tree",
      title: `Sequential calls, supervised session, ${LARGE_PHASE}`,
      unit: "calls",
      figures: large.figures,
      extra: { "ours÷capnweb vs no observer": oursPerCapnweb([Object.values(large.figures)]) / noObserver, "update ms": large.updateMs, "update KiB": large.updateKiB },
    });
    return results;
  } finally {
    await app.close();
  }
}

/**
 * (d): a second tree of LARGE_SESSIONS sessions to the same server, each holding LARGE_CAPS_EACH
 * capabilities, observed with a page open while the calls are measured. Also the median time of
 * a page's first update (the tree walk and every table, built and sent) and its size as JSON.
 */
async function largeTreePhase(ctx: Context, cases: Case[]): Promise<{ figures: Record<string, Measured>; updateMs: number; updateKiB: number }> {
  const names = Array.from({ length: LARGE_SESSIONS }, (_, i) => `bench-large-${i}`);
  const big = await CapnWeb.Supervisor.start(
    names.map((name) => CapnWeb.Session.spec<BenchApi>({ name, url: ctx.urls.ours.wsUrl, heartbeat: 0 })),
    { name: "bench_large", maxRestarts: 0 },
  );
  try {
    await Promise.all(
      names.map(async (name) => {
        await CapnWeb.ready(name, { timeout: 20_000 });
        const session = CapnWeb.session<BenchApi>(name);
        // Kept until the tree closes: each is an import here and an export on the server.
        for (let i = 0; i < LARGE_CAPS_EACH; i++) await session.users();
      }),
    );
    const observer = await CapnWeb.observe(big);
    try {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < 9; i++) {
        const page = await CapnWeb.connect<{ next(cursor: number): unknown }>(new URL("rpc", observer.url.replace("http:", "ws:")).href);
        const started = performance.now();
        const update = await page.next(0);
        times.push(performance.now() - started);
        bytes = JSON.stringify(update).length;
        CapnWeb.close(page);
      }
      const page = await openPage(observer);
      try {
        return { figures: merge([await measure(cases, ctx.timing)]), updateMs: median(times), updateKiB: bytes / 1024 };
      } finally {
        await page.stop();
      }
    } finally {
      await observer.close();
    }
  } finally {
    await big.close();
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
