// A fuzzer for live sessions, on both sides of the wire.
//
// Ours as server: a raw `ws` client replays honest frame sequences (recorded from our own client
// talking to our server through a recording proxy: pushes with nested expressions, imports,
// exports, remaps, pulls, resolves of the server's callbacks, releases) plus hand-written ones,
// with one or more frames mutated, then a sentinel call on the main interface.
// Ours as client: a raw `ws` server answers our client's call (or calls it first) with mutated
// resolves, rejects, pushes, pulls, releases and aborts, followed by the honest answer.
//
// Every probe must end in a clean abort (an abort frame, then close code 3000), or a correct
// answer (the sentinel's, or the honest follow-up's), never a crash, an unhandled rejection, an
// uncaught exception or a hang (each probe is bounded by a timeout; a fresh honest client is
// served afterwards). Outcomes are counted and printed.

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import * as CapnWeb from "../../src/index.js";
import { canon, openRaw, printSummary, prng, sleep, watchCrashes } from "./helpers.js";
import { mutateFrame, randomJson } from "./mutate.js";

const startedAt = Date.now();
/** Fixed, so a run replays; RELIABILITY_SEED explores others (the failing probe names its seed). */
const SEED = Number(process.env.RELIABILITY_SEED ?? 0xf022_2026);
/** Bounds of each side's campaign: whichever comes first. */
const SERVER_PROBES = Number(process.env.RELIABILITY_PROBES ?? 1_500);
const SERVER_BUDGET_MS = Number(process.env.RELIABILITY_BUDGET_MS ?? 9_000);
const CLIENT_PROBES = Number(process.env.RELIABILITY_PROBES ?? 600);
const CLIENT_BUDGET_MS = Number(process.env.RELIABILITY_BUDGET_MS ?? 7_000);
/** Longest wait for one answer; a probe that waits this long without a legitimate reason is a hang. */
const PROBE_TIMEOUT_MS = 3_000;

const counts: Record<string, Record<string, number>> = { server: {}, client: {} };
const bump = (side: "server" | "client", key: string): void => void (counts[side]![key] = (counts[side]![key] ?? 0) + 1);

const crashes = watchCrashes();
afterAll(() => {
  crashes.stop();
  printSummary("fuzz", { server: counts.server, client: counts.client }, startedAt);
});

// -----------------------------------------------------------------------------------------------
// The server under fuzzing

class Counter extends CapnWeb.Target {
  constructor(private n: number) {
    super();
  }
  increment(k: number): number {
    return (this.n += k);
  }
  get value(): number {
    return this.n;
  }
}

class FuzzApi extends CapnWeb.Target {
  private held: unknown[] = [];
  square(i: number): number {
    return i * i;
  }
  echo(x: unknown): unknown {
    return x;
  }
  makeCounter(n: number): Counter {
    return new Counter(n);
  }
  pair(a: number, b: number): { a: Counter; b: Counter } {
    return { a: new Counter(a), b: new Counter(b) };
  }
  ids(n: number): number[] {
    return Array.from({ length: Math.min(Number(n) || 0, 100) }, (_, i) => i + 1);
  }
  fail(message: string): never {
    throw Object.assign(new RangeError(String(message)), { code: "E_FAIL" });
  }
  async callBack(fn: CapnWeb.Stub<(x: number) => number>, x: number): Promise<unknown> {
    try {
      return await fn(x);
    } finally {
      CapnWeb.release(fn);
    }
  }
  hold(cap: unknown): number {
    return this.held.push(cap);
  }
  async callHeld(x: number): Promise<unknown[]> {
    return Promise.all(this.held.map((fn) => (fn as (x: number) => unknown)(x)));
  }
  dropHeld(): number {
    CapnWeb.release(this.held);
    const n = this.held.length;
    this.held = [];
    return n;
  }
}

let server: CapnWeb.Server;

beforeAll(async () => {
  server = await CapnWeb.serve({ port: 0, main: () => new FuzzApi() });
});

afterAll(async () => {
  await server?.close();
});

/** A fresh, honest client is served correctly, and leaves nothing behind. */
async function expectServerHealthy(): Promise<void> {
  const api = await CapnWeb.connect<any>(server.wsUrl);
  try {
    const result = await CapnWeb.await(api.square(12), { timeout: PROBE_TIMEOUT_MS });
    expect(result).toEqual({ ok: true, value: 144 });
  } finally {
    CapnWeb.close(api);
  }
}

// -----------------------------------------------------------------------------------------------
// The corpus: honest sessions recorded through a proxy, plus hand-written frames

interface Recorded {
  name: string;
  /** Both directions, in the order the proxy saw them. */
  log: Array<{ dir: "c2s" | "s2c"; text: string }>;
}

async function recordingProxy(upstream: string): Promise<{ url: string; logs: Recorded[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await once(wss, "listening");
  const logs: Recorded[] = [];
  const sockets: WebSocket[] = [];
  wss.on("connection", (client) => {
    const entry: Recorded = { name: `session ${logs.length}`, log: [] };
    logs.push(entry);
    const up = new WebSocket(upstream, { perMessageDeflate: false });
    sockets.push(client, up);
    const backlog: string[] = [];
    client.on("error", () => {});
    up.on("error", () => {});
    client.on("message", (data) => {
      const text = data.toString();
      entry.log.push({ dir: "c2s", text });
      if (up.readyState === WebSocket.OPEN) up.send(text);
      else backlog.push(text);
    });
    up.on("open", () => {
      for (const text of backlog.splice(0)) up.send(text);
    });
    up.on("message", (data) => {
      const text = data.toString();
      entry.log.push({ dir: "s2c", text });
      if (client.readyState === WebSocket.OPEN) client.send(text);
    });
    client.on("close", () => up.close());
    up.on("close", () => client.close());
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    logs,
    async close() {
      for (const socket of sockets) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

class Doubler extends CapnWeb.Target {
  times2(x: number): number {
    return x * 2;
  }
}

/** Honest scenarios: each runs on its own connection, so each gives one frame sequence. */
const SCENARIOS: Array<{ name: string; run: (api: any) => Promise<void> }> = [
  { name: "square", run: async (api) => void (await api.square(4)) },
  {
    name: "echo of every value type",
    run: async (api) =>
      void (await api.echo({
        list: [[1, 2], "x"],
        when: new Date(0),
        big: 12345678901234567890n,
        bytes: new Uint8Array([1, 2, 3]),
        floats: new Float64Array([1.5, NaN]),
        error: Object.assign(new TypeError("t"), { code: "E" }),
        url: new URL("https://example.com/a?b"),
        nothing: undefined,
        inf: -Infinity,
      })),
  },
  {
    name: "pipelined counter, released",
    run: async (api) => {
      const counter = api.makeCounter(1);
      await counter.increment(2);
      CapnWeb.release(counter);
    },
  },
  {
    name: "awaited counter passed back",
    run: async (api) => {
      const counter = await api.makeCounter(1);
      await counter.increment(5);
      await api.echo(counter);
      CapnWeb.release(counter);
    },
  },
  { name: "callback (server pushes to the client)", run: async (api) => void (await api.callBack((x: number) => x + 1, 41)) },
  {
    name: "target passed and held, called, dropped",
    run: async (api) => {
      await api.hold((x: number) => x * 3);
      await api.callHeld(2);
      await api.dropHeld();
    },
  },
  { name: "map with a capture", run: async (api) => void (await api.ids(3).map((id: unknown) => api.square(id))) },
  { name: "nested promise argument", run: async (api) => void (await api.square(api.square(2))) },
  { name: "rejected call", run: async (api) => void (await CapnWeb.await(api.fail("boom"))) },
  {
    name: "pair, released",
    run: async (api) => {
      const pair = await api.pair(1, 2);
      await pair.a.increment(1);
      CapnWeb.release(pair);
    },
  },
  {
    name: "echo of a client Target",
    run: async (api) => {
      const back = await api.echo(new Doubler());
      await back.times2(4);
      CapnWeb.release(back);
    },
  },
  {
    name: "cancelled call",
    run: async (api) => {
      const call = api.square(9);
      CapnWeb.release(call);
      await api.square(1);
    },
  },
];

const HAND_WRITTEN: unknown[][][] = [
  [["push", ["pipeline", 0, ["square"], [3]]], ["pull", 1], ["release", 1, 1]],
  [["push", ["pipeline", 0, ["echo"], [[[["date", 0], ["bigint", "-99"], ["bytes", "AAEC", "Int8Array"], ["error", "Error", "e", null, { a: ["inf"] }]]]]]], ["pull", 1]],
  [["push", ["pipeline", 0, ["makeCounter"], [1]]], ["push", ["pipeline", 1, ["increment"], [2]]], ["pull", 2], ["release", 1, 1], ["release", 2, 1]],
  [["push", ["remap", 0, ["ids"], [["import", 0]], [["pipeline", -1, ["square"], [["pipeline", 0]]]]]], ["pull", 1]],
  [["push", ["pipeline", 0, ["ids"], [3]]], ["push", ["remap", 1, [], [["import", 0]], [["pipeline", -1, ["makeCounter"], [["pipeline", 0]]], ["pipeline", 1, ["increment"], [10]]]]], ["pull", 2]],
  [["push", ["pipeline", 0, ["callBack"], [["export", -1], 5]]], ["pull", 1]],
  [["push", ["pipeline", 0, ["square"], [["promise", -1]]]], ["resolve", -1, 6], ["pull", 1]],
  [["push", ["pipeline", 0, ["square"], [["promise", -1]]]], ["reject", -1, ["error", "Error", "no"]], ["pull", 1]],
  [["push", ["pipeline", 0, ["echo"], [["headers", [["a", "b"]]]]]], ["pull", 1]],
  [["push", ["pipeline", 0, ["echo"], [["url", "https://a.example/"]]]], ["pull", 1]],
  [["stream", ["pipeline", 0, ["square"], [2]]]],
  [["pipe"], ["pull", 1]],
  [["push", ["pipeline", 0, ["value"]]], ["pull", 1]],
  [["abort", ["error", "Error", "bye"]]],
];

// -----------------------------------------------------------------------------------------------
// Ours as server

/** How many IDs the frames take on the server's export table (each push, stream and pipe takes one). */
function pushesIn(texts: string[]): number {
  let n = 0;
  for (const text of texts) {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return n;
    }
    if (!Array.isArray(message)) return n;
    if ((message[0] === "push" && message.length === 2) || message[0] === "stream" || message[0] === "pipe") n++;
  }
  return n;
}

const SENTINEL = 1_111;

/**
 * The answers that can be predicted from the frames alone: push ID → expected resolve value, for
 * pushes that are still exactly `square(n)` with a number, or `echo(x)` with a string, number,
 * boolean or null.
 */
function predictableAnswers(texts: string[]): Map<number, unknown> {
  const expected = new Map<number, unknown>();
  let id = 0;
  for (const text of texts) {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      break;
    }
    if (!Array.isArray(message)) break;
    if (!((message[0] === "push" && message.length === 2) || message[0] === "stream" || message[0] === "pipe")) continue;
    id++;
    const push = message[1] as unknown;
    if (message[0] !== "push" || !Array.isArray(push) || push.length !== 4 || push[0] !== "pipeline" || push[1] !== 0) continue;
    const [, , path, args] = push as [string, number, unknown, unknown];
    if (!Array.isArray(path) || path.length !== 1 || !Array.isArray(args) || args.length !== 1) continue;
    const arg = args[0];
    if (path[0] === "square" && typeof arg === "number") expected.set(id, arg * arg);
    if (path[0] === "echo" && (arg === null || ["string", "number", "boolean"].includes(typeof arg))) expected.set(id, arg);
  }
  return expected;
}

/** Mutates a frame's text; a frame already nested too deeply to walk (a previous mutation) is cut. */
function mutateText(r: ReturnType<typeof prng>, text: string, gentle: boolean): { text: string; log: string[] } {
  try {
    return mutateFrame(r, parseOr(text, randomJson(r)), gentle);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const at = r.int(text.length);
    return { text: text.slice(0, at), log: [`truncate a deep frame at ${at}`] };
  }
}

function parseOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

type ServerOutcome = "abort" | "peer-abort" | "answered" | "rejected" | "ignored";

/**
 * Sends `texts` then a sentinel call on the main interface; resolves with the outcome. Fails the
 * test on anything else: a close that is not a clean abort, a wrong sentinel answer, a hang.
 */
async function serverProbe(texts: string[], describeProbe: () => string): Promise<ServerOutcome> {
  const peer = await openRaw(server.wsUrl);
  try {
    for (const text of texts) peer.send(text);
    const sentinelId = pushesIn(texts) + 1;
    peer.send(["push", ["pipeline", 0, ["square"], [SENTINEL]]]);
    peer.send(["pull", sentinelId]);
    const answer = await peer.waitFor((m) => (m[0] === "resolve" || m[0] === "reject") && m[1] === sentinelId, PROBE_TIMEOUT_MS);
    const sentAbort = texts.some((text) => text.startsWith('["abort"'));
    if (answer) {
      // The session survived the probe: the sentinel must be answered exactly.
      expect(answer, describeProbe()).toEqual(["resolve", sentinelId, SENTINEL * SENTINEL]);
      const earlier = peer.frames.filter((text) => /^\["(resolve|reject)",/.test(text)).map((text) => JSON.parse(text) as unknown[]);
      const mine = earlier.filter((m) => m[1] !== sentinelId);
      // Whatever was answered and can be predicted is correct.
      const predictable = predictableAnswers(texts);
      for (const answer of mine) {
        const id = answer[1] as number;
        if (!predictable.has(id)) continue;
        const value = predictable.get(id);
        // JSON cannot carry -0, NaN or the infinities as numbers: they come back as expressions.
        const wire = typeof value === "number" && !Number.isFinite(value) ? JSON.parse(CapnWeb.serialize(value)) : JSON.parse(JSON.stringify(value));
        expect(answer, describeProbe()).toEqual(["resolve", id, wire]);
        counts.server!.answersChecked = (counts.server!.answersChecked ?? 0) + 1;
      }
      if (mine.some((m) => m[0] === "reject")) return "rejected";
      return mine.length > 0 ? "answered" : "ignored";
    }
    if (!peer.isClosed) throw new Error(`Hang: neither an answer nor a close within ${PROBE_TIMEOUT_MS} ms. ${describeProbe()}`);
    const { code, reason } = await peer.closed;
    const last = peer.frames.at(-1);
    if (code === 1000 && sentAbort) return "peer-abort";
    // A clean abort: the last frame is ["abort", error], then close 3000 with the message as reason.
    expect({ code, last: last?.slice(0, 24) }, describeProbe()).toEqual({ code: 3000, last: expect.stringMatching(/^\["abort",\["error",/) });
    const abort = JSON.parse(last!) as [string, unknown[]];
    expect(typeof abort[1][2], describeProbe()).toBe("string");
    // (The reason went through UTF-8: a lone surrogate in the message arrives as U+FFFD.)
    expect(Buffer.from(abort[1][2] as string).toString().startsWith(reason), describeProbe()).toBe(true);
    return "abort";
  } finally {
    peer.terminate();
  }
}

describe("fuzzing our server with mutated frames from a raw client", () => {
  let corpus: Array<{ name: string; frames: unknown[] }>;

  beforeAll(async () => {
    const proxy = await recordingProxy(server.wsUrl);
    try {
      for (const scenario of SCENARIOS) {
        const api = await CapnWeb.connect<any>(proxy.url, { main: new Doubler() });
        try {
          await scenario.run(api);
          await sleep(5);
        } finally {
          CapnWeb.close(api);
        }
        proxy.logs.at(-1)!.name = scenario.name;
      }
      await sleep(20);
    } finally {
      await proxy.close();
    }
    corpus = proxy.logs.map((recorded) => ({
      name: recorded.name,
      frames: recorded.log.filter((f) => f.dir === "c2s").map((f) => JSON.parse(f.text) as unknown),
    }));
    corpus.push(...HAND_WRITTEN.map((frames, i) => ({ name: `hand-written ${i}`, frames })));
    counts.server!.corpusSequences = corpus.length;
    counts.server!.corpusFrames = corpus.reduce((n, entry) => n + entry.frames.length, 0);
    // The corpus itself is honest: every sequence, unmutated, is answered or ignored, never aborted
    // (except the one that aborts on purpose).
    for (const entry of corpus) {
      const outcome = await serverProbe(entry.frames.map((f) => JSON.stringify(f)), () => `unmutated ${entry.name}`);
      expect([entry.name, outcome]).not.toEqual([entry.name, "abort"]);
    }
  });

  it("every mutated probe ends in a clean abort or a correct answer; the server keeps serving", async () => {
    const r = prng(SEED);
    const deadline = Date.now() + SERVER_BUDGET_MS;
    let probes = 0;
    for (; probes < SERVER_PROBES && Date.now() < deadline; probes++) {
      const entry = r.pick(corpus);
      const texts = entry.frames.map((f) => JSON.stringify(f));
      const log: string[] = [];
      // Mutate one frame (sometimes two), insert a random one, or drop one.
      const roll = r.next();
      if (roll < 0.75 || texts.length < 2) {
        for (let n = r.chance(0.2) ? 2 : 1; n > 0; n--) {
          const at = r.int(texts.length);
          const gentle = r.chance(0.4);
          const mutated = mutateText(r, texts[at]!, gentle);
          texts[at] = mutated.text;
          log.push(`frame ${at}${gentle ? " (gentle)" : ""}: ${mutated.log.join("; ")}`);
        }
      } else if (roll < 0.9) {
        const at = r.int(texts.length + 1);
        texts.splice(at, 0, JSON.stringify(r.chance(0.5) ? randomJson(r) : [r.pick(["push", "pull", "release", "resolve", "reject"]), randomJson(r), randomJson(r)]));
        log.push(`insert random frame at ${at}`);
      } else {
        const at = r.int(texts.length);
        texts.splice(at, 1);
        log.push(`drop frame ${at}`);
      }
      const outcome = await serverProbe(texts, () => `probe ${probes} (seed ${SEED}) of ${entry.name}: ${log.join(" | ")}; frames: ${texts.map((t) => t.slice(0, 200)).join(" ")}`);
      bump("server", outcome);
      if (probes % 25 === 24) {
        await expectServerHealthy();
        bump("server", "honestChecks");
      }
    }
    counts.server!.probes = probes;
    await expectServerHealthy();
    // Every fuzzing connection is gone, and nothing is left of it.
    await vi.waitFor(() => expect(server.handlers.stats()).toEqual({ sessions: 0, imports: 0, exports: 0 }), { timeout: 5_000, interval: 10 });
    expect(crashes.unhandled).toEqual([]);
    expect(crashes.uncaught).toEqual([]);
  }, 60_000);
});

// -----------------------------------------------------------------------------------------------
// Ours as client

/** What our client offers the server. */
class ClientMain extends CapnWeb.Target {
  onEvent(x: number): number {
    return x * 2;
  }
  echo(x: unknown): unknown {
    return x;
  }
}

interface HostileConnection {
  socket: WebSocket;
  /** Frames our client sent. */
  received: string[];
  closed: Promise<{ code: number; reason: string }>;
  next(match: (m: unknown[]) => boolean, timeoutMs: number): Promise<unknown[] | undefined>;
}

describe("fuzzing our client with mutated frames from a raw server", () => {
  let wss: WebSocketServer;
  let url: string;
  const waiting: Array<(c: HostileConnection) => void> = [];

  beforeAll(async () => {
    wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await once(wss, "listening");
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    wss.on("connection", (socket) => {
      socket.on("error", () => {});
      const received: string[] = [];
      const wakers = new Set<() => void>();
      socket.on("message", (data) => {
        received.push(data.toString());
        for (const wake of [...wakers]) wake();
      });
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        socket.on("close", (code, reason) => {
          resolve({ code, reason: reason.toString() });
          for (const wake of [...wakers]) wake();
        }),
      );
      const connection: HostileConnection = {
        socket,
        received,
        closed,
        next(match, timeoutMs) {
          return new Promise((resolve) => {
            let seen = 0;
            const finish = (value: unknown[] | undefined): void => {
              clearTimeout(timer);
              wakers.delete(check);
              resolve(value);
            };
            const check = (): void => {
              for (; seen < received.length; seen++) {
                const message = JSON.parse(received[seen]!) as unknown[];
                if (match(message)) return finish(message);
              }
              if (socket.readyState === WebSocket.CLOSED) finish(undefined);
            };
            const timer = setTimeout(() => finish(undefined), timeoutMs);
            wakers.add(check);
            check();
          });
        },
      };
      waiting.shift()?.(connection);
    });
  });

  afterAll(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  async function connectClient(): Promise<{ api: any; conn: HostileConnection }> {
    const accepted = new Promise<HostileConnection>((resolve) => waiting.push(resolve));
    const api = await CapnWeb.connect<any>(url, { main: new ClientMain() });
    return { api, conn: await accepted };
  }

  /** Honest answers to `square(3)` and what a server may say instead (from the wire format). */
  const ANSWERS: unknown[][] = [
    ["resolve", 1, 9],
    ["resolve", 1, { a: [[1, ["date", 0], ["bigint", "5"], ["bytes", "AQID"], ["undefined"]]] }],
    ["resolve", 1, ["export", -1]],
    ["resolve", 1, ["promise", -1]],
    ["resolve", 1, ["pipeline", 0, ["onEvent"], [21]]],
    ["resolve", 1, ["pipeline", 0, ["echo"], [[["x", ["inf"]]]]]],
    ["resolve", 1, ["remap", 0, ["echo"], [], [["pipeline", 0]]]],
    ["resolve", 1, ["import", 0]],
    ["resolve", 1, ["error", "RangeError", "as a value", null, { code: "E" }]],
    ["reject", 1, ["error", "RangeError", "no", null, { code: "E_NO", type: "not_found" }]],
    ["reject", 1, ["error", "Custom", "stack?", "at x (y:1:1)"]],
    ["resolve", 1, ["headers", [["a", "b"]]]],
    ["resolve", 1, ["url", "https://example.com/"]],
    ["abort", ["error", "Error", "go away"]],
  ];
  /** Frames a server may send unprompted: calls into our main, pulls, releases. */
  const UNPROMPTED: unknown[][][] = [
    [["push", ["pipeline", 0, ["onEvent"], [5]]], ["pull", 1]],
    [["push", ["pipeline", 0, ["echo"], [{ d: ["date", 1], n: ["nan"] }]]], ["pull", 1], ["release", 1, 1]],
    [["push", ["pipeline", 0, ["echo"], [["export", -1]]]], ["pull", 1]],
    [["push", ["remap", 0, ["echo"], [["export", -1]], [["pipeline", -1, ["x"]]]]], ["pull", 1]],
    [["push", ["pipeline", 0, ["onEvent"], [["promise", -1]]]], ["resolve", -1, 4], ["pull", 1]],
    [["pull", 0]],
    [["release", 0, 1]],
    [["stream", ["pipeline", 0, ["onEvent"], [1]]]],
  ];

  type ClientOutcome = "abort" | "answered" | "rejected" | "rejected-protocol" | "ignored" | "peer-abort" | "waiting-on-peer-promise";

  async function clientProbe(r: ReturnType<typeof prng>, probe: number): Promise<ClientOutcome> {
    const { api, conn } = await connectClient();
    const log: string[] = [];
    try {
      const sent: string[] = [];
      const send = (text: string): void => {
        sent.push(text);
        if (conn.socket.readyState === WebSocket.OPEN) conn.socket.send(text);
      };
      // Sometimes the server speaks first: a mutated unprompted sequence.
      if (r.chance(0.4)) {
        const frames = r.pick(UNPROMPTED).map((f) => JSON.stringify(f));
        const at = r.int(frames.length);
        const mutated = mutateFrame(r, JSON.parse(frames[at]!));
        frames[at] = mutated.text;
        log.push(`unprompted frame ${at}: ${mutated.log.join("; ")}`);
        for (const text of frames) send(text);
      }
      const call = api.square(3);
      const result = CapnWeb.await(call, { timeout: PROBE_TIMEOUT_MS });
      const pull = await conn.next((m) => m[0] === "pull" && m[1] === 1, PROBE_TIMEOUT_MS);
      if (pull) {
        const answer = r.pick(ANSWERS);
        const mutated = mutateFrame(r, answer, r.chance(0.4));
        log.push(`answer ${JSON.stringify(answer).slice(0, 60)}: ${mutated.log.join("; ")}`);
        send(mutated.text);
        // The honest answer follows: a mutated answer that was ignored is not a hang.
        send(JSON.stringify(["resolve", 1, 9]));
      }
      const settled = await result;
      CapnWeb.release(call);
      const describeProbe = () => `client probe ${probe} (seed ${SEED}): ${log.join(" | ")}; sent: ${sent.map((t) => t.slice(0, 200)).join(" ")}`;
      // Our client either aborted cleanly (told the server why, closed with 3000)...
      const brokenByUs = CapnWeb.connectionOf(api)?.state === "broken" && !sent.some((text) => text.startsWith('["abort"'));
      if (brokenByUs) await Promise.race([conn.closed, sleep(PROBE_TIMEOUT_MS)]);
      const aborted = conn.received.find((text) => text.startsWith('["abort"'));
      if (brokenByUs || aborted) {
        expect(aborted, describeProbe()).toBeDefined();
        const { code } = await Promise.race([conn.closed, sleep(PROBE_TIMEOUT_MS).then(() => ({ code: -1, reason: "" }))]);
        expect({ code, last: conn.received.at(-1) }, describeProbe()).toEqual({ code: 3000, last: aborted });
        if (!settled.ok) expect(settled.error, describeProbe()).toBeInstanceOf(CapnWeb.Error);
        return "abort";
      }
      if (!settled.ok) {
        expect(settled.error, describeProbe()).toBeInstanceOf(CapnWeb.Error);
        if (settled.error.type === "timeout") {
          // Only a promise the server never resolves may keep the call waiting.
          if (!sent.some((text) => text.includes('"promise"'))) throw new Error(`Hang: the call timed out. ${describeProbe()}`);
          return "waiting-on-peer-promise";
        }
        if (settled.error.type === "aborted" && sent.some((text) => text.startsWith('["abort"'))) return "peer-abort";
        // A refusal that is not an abort: the server's reject (any type it chose), a value our
        // client cannot take yet ("unsupported"), or a remap whose instructions are malformed
        // (refused when applied, with type "protocol", as capnweb 0.12 does: a reject, no abort).
        return settled.error.type === "protocol" ? "rejected-protocol" : "rejected";
      }
      // ...or the call was answered: by the mutated answer, or (it was ignored) by the honest one.
      // A mutated resolve of plain data that answered the call gave exactly its decoded value.
      const first = sent.map((text) => parseOr(text, undefined)).find((m) => Array.isArray(m) && (m[0] === "resolve" || m[0] === "reject") && m[1] === 1) as unknown[] | undefined;
      if (first && first[0] === "resolve" && first.length === 3) {
        let plain: { value: unknown } | undefined;
        try {
          plain = { value: CapnWeb.deserialize(JSON.stringify(first[2])) };
        } catch {
          plain = undefined; // holds a capability, or is not a valid expression
        }
        if (plain) {
          expect(canon(settled.value), describeProbe()).toEqual(canon(plain.value));
          bump("client", "answersChecked");
        }
      }
      return settled.value === 9 ? "ignored" : "answered";
    } finally {
      CapnWeb.close(api);
      conn.socket.terminate();
    }
  }

  it("every mutated answer or call ends in a clean abort or a settled call, never a hang or crash", async () => {
    const r = prng(SEED + 1);
    const deadline = Date.now() + CLIENT_BUDGET_MS;
    let probes = 0;
    for (; probes < CLIENT_PROBES && Date.now() < deadline; probes++) bump("client", await clientProbe(r, probes));
    counts.client!.probes = probes;
    await sleep(20);
    expect(crashes.unhandled).toEqual([]);
    expect(crashes.uncaught).toEqual([]);
  }, 60_000);
});
