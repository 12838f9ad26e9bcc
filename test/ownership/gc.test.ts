// The GC safety net: a stub dropped without release is released when garbage-collected, the peer's
// tables go back to their baseline, and telemetry reports reason "finalized".
//
// Two ways to run it for real:
// - in process, which needs a worker started with --expose-gc (skipped otherwise):
//     npx vitest run test/ownership/gc.test.ts --execArgv=--expose-gc
//   (or NODE_OPTIONS=--expose-gc npx vitest run test/ownership/gc.test.ts)
// - always: the second suite spawns test/ownership/gc-scenario.ts under
//   `node --expose-gc --import tsx` and asserts the JSON it prints.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { startCapnwebServer, type CapnwebServer } from "../interop/helpers.js";
import { CwApi, OurLeakApi, ServerState, recordReleases, sleep } from "./helpers.js";

const gc = (globalThis as { gc?: () => void }).gc;
const BASELINE = { imports: 1, exports: 1 };
const same = (a: { imports: number; exports: number }, b: typeof BASELINE) => a.imports === b.imports && a.exports === b.exports;

/** Collects garbage until `done()` holds or ~3 s pass. */
async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let round = 0; round < 150; round++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
    await sleep(20);
    if (done()) return true;
  }
  return false;
}

describe.skipIf(typeof gc !== "function")("in process (needs --expose-gc)", () => {
  let ours: CapnWeb.Server;
  let theirs: CapnwebServer;
  const ourStates: ServerState[] = [];
  const theirStates: ServerState[] = [];

  beforeAll(async () => {
    ours = await CapnWeb.serve({
      port: 0,
      main: () => {
        const state = new ServerState();
        ourStates.push(state);
        return new OurLeakApi(state);
      },
    });
    theirs = await startCapnwebServer(() => {
      const state = new ServerState();
      theirStates.push(state);
      return new CwApi(state);
    });
  });

  afterAll(async () => {
    await ours.close();
    await theirs.close();
  });

  async function connect(which: "ours" | "capnweb") {
    if (which === "ours") {
      const api = await CapnWeb.connect<any>(ours.wsUrl);
      expect(await api.square(2)).toBe(4);
      const live = [...ours.handlers.sessions];
      const session = live[live.length - 1]!.session;
      return { api, peerStats: () => session.stats(), state: ourStates[ourStates.length - 1]! };
    }
    const api = await CapnWeb.connect<any>(theirs.wsUrl);
    const peer = await theirs.lastSession();
    expect(await api.square(2)).toBe(4);
    return { api, peerStats: () => peer.session.getStats(), state: theirStates[theirStates.length - 1]! };
  }

  it.each(["ours", "capnweb"] as const)("%s server: a dropped resolved stub is released by the GC with reason finalized", async (which) => {
    const { api, peerStats, state } = await connect(which);
    const releases = recordReleases();
    try {
      await (async () => {
        const counter = await api.makeCounter(1);
        expect(await counter.increment(1)).toBe(2);
      })();
      await sleep(20);
      expect(peerStats().exports).toBe(2);
      expect(await collectUntil(() => same(peerStats(), BASELINE) && same(CapnWeb.stats(api), BASELINE))).toBe(true);
      const finalized = releases.events.filter((e) => e.reason === "finalized");
      expect(finalized).toHaveLength(1);
      expect(finalized[0]).toMatchObject({ refcount: 1 });
      expect(finalized[0]!.importId).toBeLessThan(0);
      expect(state.countersDisposed).toBe(1);
    } finally {
      releases.stop();
      CapnWeb.close(api);
    }
  });

  it.each(["ours", "capnweb"] as const)("%s server: a dropped unawaited call is released by the GC with reason finalized", async (which) => {
    const { api, peerStats } = await connect(which);
    const releases = recordReleases();
    try {
      (() => {
        api.makeCounter(2);
      })();
      expect(await api.square(3)).toBe(9);
      await sleep(20);
      expect(peerStats().exports).toBe(2);
      expect(await collectUntil(() => same(peerStats(), BASELINE) && same(CapnWeb.stats(api), BASELINE))).toBe(true);
      const finalized = releases.events.filter((e) => e.reason === "finalized");
      expect(finalized).toHaveLength(1);
      expect(finalized[0]!.importId).toBeGreaterThan(0);
    } finally {
      releases.stop();
      CapnWeb.close(api);
    }
  });

  it("a stub still referenced is never finalized", async () => {
    const { api, peerStats } = await connect("ours");
    const releases = recordReleases();
    try {
      const kept = await api.makeCounter(5);
      for (let i = 0; i < 10; i++) {
        gc!();
        await sleep(10);
      }
      expect(releases.events.filter((e) => e.reason === "finalized")).toEqual([]);
      expect(await kept.increment(1)).toBe(6);
      CapnWeb.release(kept);
      expect(await collectUntil(() => same(peerStats(), BASELINE))).toBe(true);
    } finally {
      releases.stop();
      CapnWeb.close(api);
    }
  });
});

// -------------------------------------------------------------------------------------------------

interface ScenarioResult {
  name: string;
  peerWhileHeld: { imports: number; exports: number };
  collected: boolean;
  peerAfter: { imports: number; exports: number };
  oursAfter: { imports: number; exports: number };
  releases: CapnWeb.ReleaseEvent[];
  made: number;
  disposed: number;
}
interface ServerResults {
  results: ScenarioResult[];
  control: { keptWorks: boolean; keptFinalized: number; keptReleasedTo: boolean };
}

function runScenario(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = fileURLToPath(new URL("./gc-scenario.ts", import.meta.url));
  const root = fileURLToPath(new URL("../../", import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", script], {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("standalone script under node --expose-gc", () => {
  let output: { ourServer: ServerResults; capnwebServer: ServerResults; error?: string };

  beforeAll(async () => {
    const { code, stdout, stderr } = await runScenario();
    const last = stdout.trim().split("\n").pop() ?? "";
    if (code !== 0) throw new Error(`gc-scenario exited with ${code}: ${last}\n${stderr}`);
    output = JSON.parse(last);
  }, 60_000);

  for (const server of ["ourServer", "capnwebServer"] as const) {
    describe(server, () => {
      it("every dropped stub is released by the GC alone: both sides back at baseline, reason finalized", () => {
        const { results } = output[server];
        expect(results).toHaveLength(3);
        for (const result of results) {
          expect(result.peerWhileHeld.exports, result.name).toBeGreaterThan(1);
          expect(result.collected, result.name).toBe(true);
          expect(result.peerAfter, result.name).toEqual(BASELINE);
          expect(result.oursAfter, result.name).toEqual(BASELINE);
          const finalized = result.releases.filter((e) => e.reason === "finalized");
          expect(finalized.length, result.name).toBeGreaterThan(0);
          // Nothing but answers ("resolved") and the GC ("finalized") released anything.
          expect(result.releases.every((e) => e.reason === "finalized" || e.reason === "resolved"), result.name).toBe(true);
        }
        const [resolved, unawaited, bag] = results;
        expect(resolved!.releases.filter((e) => e.reason === "finalized")).toEqual([{ importId: expect.any(Number), refcount: 1, reason: "finalized" }]);
        expect(unawaited!.releases.filter((e) => e.reason === "finalized")).toHaveLength(1);
        expect(bag!.releases.filter((e) => e.reason === "finalized")).toHaveLength(3);
      });

      it("the server's targets behind collected stubs are disposed", () => {
        const [resolved, , bag] = output[server].results;
        expect(resolved!.disposed).toBe(resolved!.made);
        expect(bag!.disposed).toBe(bag!.made);
        // (The unawaited call's Target is checked in leaks-our-server.test.ts: our server does not
        // dispose a Target whose call result is released unpulled.)
      });

      it("a stub still referenced survives the collections and works", () => {
        expect(output[server].control).toEqual({ keptWorks: true, keptFinalized: 0, keptReleasedTo: true });
      });
    });
  }
});
