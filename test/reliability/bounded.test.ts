// Bounded under attack: every resource a peer can grow has a limit (CapnWeb.DEFAULT_LIMITS, one
// place), a peer that breaks one loses its own session only (a "limit" error naming the limit,
// published on limit:exceeded), and a peer that leaves leaves nothing behind. Each probe runs
// against our server, and where the attack applies to it, capnweb 0.12's server as the control.
// Around every probe: a bystander session on the same server answers during and after the
// attack, and afterwards the server holds no session, table entry or supervised child.
//
// Work is bounded by counts, never by timing; deadlines are generous and only prove liveness.
// Most probes run on a server with tight limits (TIGHT below), so that a few seconds reach them;
// the push flood runs at the default limit, to show what a default costs.

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import diagnostics from "node:diagnostics_channel";
import { request as httpRequest, createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect as tcpConnect, type AddressInfo, type Socket } from "node:net";
import v8 from "node:v8";
import vm from "node:vm";
import * as capnweb from "capnweb";
import WebSocket, { WebSocketServer } from "ws";
import * as CapnWeb from "../../src/index.js";
import { Inbox } from "../../src/transports/inbox.js";
import { openRaw, printSummary, sleep, watchCrashes, type RawPeer } from "./helpers.js";

const startedAt = Date.now();
const MB = 1024 * 1024;
const LIVENESS_MS = 10_000;

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
/** Heap and array buffers (where socket buffers live), after collection. */
function memoryAfterGc(): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}
const mb = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

const counts: Record<string, unknown> = {};
const crashes = watchCrashes();
afterAll(() => {
  crashes.stop();
  printSummary("bounded", counts, startedAt);
});

/** The limits of the server most probes attack: small enough to reach in a few seconds. */
const TIGHT: Partial<CapnWeb.Limits> = {
  maxImports: 2_000,
  maxPendingCalls: 1_000,
  maxAwaitedAnswers: 500,
  maxMessageBytes: 4 * MB,
  maxSendBuffer: 16 * MB,
  maxBatchBytes: 1 * MB,
  maxBatchLines: 1_000,
  handshakeTimeout: 500,
  bodyTimeout: 500,
  batchTimeout: 500,
  heartbeatInterval: 300,
  maxSessions: 50,
};

// -----------------------------------------------------------------------------------------------
// The API, on both servers

const executed = { square: 0, never: 0, callBack: 0, spam: 0 };

class Api extends CapnWeb.Target {
  square(i: number): number {
    executed.square++;
    return i * i;
  }
  echo(x: unknown): unknown {
    return x;
  }
  never(): Promise<never> {
    executed.never++;
    return new Promise(() => {});
  }
  range(n: number): number[] {
    return Array.from({ length: n }, (_, i) => i);
  }
  async callBack(fn: CapnWeb.Stub<(x: number) => unknown>, x: number): Promise<unknown> {
    executed.callBack++;
    try {
      return await fn(x);
    } finally {
      CapnWeb.release(fn);
    }
  }
  /** Calls the client back `count` times with `size` characters, without waiting. */
  spam(fn: CapnWeb.Stub<(text: string) => unknown>, count: number, size: number): number {
    executed.spam++;
    const text = "x".repeat(size);
    for (let i = 0; i < count; i++) CapnWeb.await(fn(text) as never);
    return count;
  }
}

class TheirApi extends capnweb.RpcTarget {
  square(i: number): number {
    executed.square++;
    return i * i;
  }
  never(): Promise<never> {
    executed.never++;
    return new Promise(() => {});
  }
  spam(fn: (text: string) => Promise<unknown>, count: number, size: number): number {
    executed.spam++;
    const text = "x".repeat(size);
    for (let i = 0; i < count; i++) fn(text).then(undefined, () => {});
    return count;
  }
}

let tight: CapnWeb.Server;
let roomy: CapnWeb.Server;
let theirs: { url: string; wsUrl: string; close(): Promise<void> };

/** capnweb 0.12's own Node server: one session per connection, nothing logged. */
async function startCapnweb(): Promise<typeof theirs> {
  const http = createServer((request: IncomingMessage, response: ServerResponse) => {
    void capnweb.nodeHttpBatchRpcResponse(request, response, new TheirApi()).catch(() => response.destroy());
  });
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (socket) => void capnweb.newWebSocketRpcSession(socket as never, new TheirApi()));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    wsUrl: `ws://127.0.0.1:${port}/`,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

beforeAll(async () => {
  tight = await CapnWeb.serve({ port: 0, main: () => new Api(), limits: TIGHT });
  roomy = await CapnWeb.serve({ port: 0, main: () => new Api() });
  theirs = await startCapnweb();
});

afterAll(async () => {
  await Promise.all([tight?.close({ deadline: 100 }), roomy?.close({ deadline: 100 }), theirs?.close()]);
});

// -----------------------------------------------------------------------------------------------
// Around every probe

/** Breaches published on the limit:exceeded channel while `fn` runs. */
async function breachesDuring(fn: () => Promise<void>): Promise<CapnWeb.LimitBreach[]> {
  const seen: CapnWeb.LimitBreach[] = [];
  const listener = (message: unknown): void => void seen.push(message as CapnWeb.LimitBreach);
  diagnostics.subscribe("capnweb:limit:exceeded", listener);
  try {
    await fn();
  } finally {
    diagnostics.unsubscribe("capnweb:limit:exceeded", listener);
  }
  return seen;
}

/**
 * Runs `attack` on `server` beside a bystander session (our client over WebSocket) that must be
 * answered after the attack began and after it ended; then the server must be back to nothing.
 */
async function withBystander(server: CapnWeb.Server, attack: (during: () => Promise<void>) => Promise<void>): Promise<void> {
  const api = await CapnWeb.connect<Api>(server.wsUrl);
  let answered = 0;
  const during = async (): Promise<void> => {
    const result = await CapnWeb.await(api.square(7), { timeout: LIVENESS_MS });
    expect(result).toEqual({ ok: true, value: 49 });
    answered++;
  };
  try {
    await during();
    await attack(during);
    await during();
  } finally {
    CapnWeb.close(api);
  }
  expect(answered).toBeGreaterThanOrEqual(2);
  await expectNothingLeft(server);
}

async function expectNothingLeft(server: CapnWeb.Server): Promise<void> {
  await vi.waitFor(
    () => {
      expect(server.handlers.stats()).toEqual({ sessions: 0, imports: 0, exports: 0 });
      expect(CapnWeb.inspect(server.handlers).children ?? []).toEqual([]);
    },
    { timeout: LIVENESS_MS, interval: 20 },
  );
  expect(crashes.unhandled).toEqual([]);
  expect(crashes.uncaught).toEqual([]);
}

/** The abort a raw peer received last, and its close code. */
async function abortOf(peer: RawPeer): Promise<{ code: number; type: unknown; limit: unknown; message: unknown }> {
  const closed = await Promise.race([peer.closed, sleep(LIVENESS_MS).then(() => undefined)]);
  expect(closed, "the session was not closed").toBeDefined();
  const last = JSON.parse(peer.frames.at(-1) ?? "[]") as unknown[];
  expect(last[0]).toBe("abort");
  // ["error", name, message, stack?, props?]
  const error = last[1] as unknown[];
  const props = (error.find((part) => typeof part === "object" && part !== null) ?? {}) as Record<string, unknown>;
  return { code: closed!.code, type: props.type, limit: props.limit, message: error[2] };
}

/** Posts `body` (or streams it) to `url`; resolves with the status and the answer. */
function post(url: string, body: string | ((write: (chunk: string) => boolean) => void), headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers: { "content-type": "text/plain;charset=UTF-8", ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (part: string) => (text += part));
      res.on("end", () => resolve({ status: res.statusCode!, text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (typeof body === "string") req.end(body);
    else body((chunk) => req.write(chunk));
  });
}

const batchOf = (...messages: unknown[]): string => messages.map((m) => JSON.stringify(m)).join("\n");

// -----------------------------------------------------------------------------------------------
// Ours alone

describe("abandoned HTTP batches", () => {
  const N = 1_000;

  /** Posts N batches whose call never resolves, waits until each ran, then walks away from all. */
  async function abandon(url: string): Promise<number> {
    const before = memoryAfterGc();
    const startedCalls = executed.never;
    const requests = Array.from({ length: N }, () => {
      const req = httpRequest(url, { method: "POST", headers: { "content-type": "text/plain" } });
      req.on("error", () => {});
      req.end(batchOf(["push", ["pipeline", 0, ["never"], []]], ["pull", 1]));
      return req;
    });
    await vi.waitFor(() => expect(executed.never - startedCalls).toBe(N), { timeout: LIVENESS_MS * 3, interval: 20 });
    for (const req of requests) req.destroy();
    await sleep(200);
    return memoryAfterGc() - before;
  }

  it(`${N} batches left waiting by clients that went away are all let go (ours; capnweb as control)`, async () => {
    await withBystander(roomy, async (during) => {
      const held = await abandon(roomy.url);
      await during();
      await vi.waitFor(() => expect(roomy.handlers.stats().sessions).toBe(1), { timeout: LIVENESS_MS, interval: 20 });
      counts.abandonedBatchesOursMB = mb(held);
      // ~11 KB each were kept before; now only what the collector has not yet reclaimed.
      expect(held).toBeLessThan(8 * MB);
    });
    const theirsHeld = await abandon(theirs.url);
    counts.abandonedBatchesCapnwebMB = mb(theirsHeld);
    expect(theirsHeld).toBeLessThan(8 * MB);
  }, 60_000);

  it("a batch still waiting at batchTimeout is answered with an abort naming it, and its session ends", async () => {
    await withBystander(tight, async (during) => {
      let answer: { status: number; text: string } | undefined;
      const breaches = await breachesDuring(async () => {
        const pending = post(tight.url, batchOf(["push", ["pipeline", 0, ["square"], [3]]], ["pull", 1], ["push", ["pipeline", 0, ["never"], []]], ["pull", 2]));
        await during();
        answer = await pending;
      });
      expect(answer!.status).toBe(200);
      const lines = answer!.text.split("\n").map((line) => JSON.parse(line) as unknown[]);
      expect(lines[0]).toEqual(["resolve", 1, 9]);
      expect(lines.at(-1)![0]).toBe("abort");
      expect(JSON.stringify(lines.at(-1))).toMatch(/batchTimeout/);
      expect(breaches.map((b) => b.limit)).toEqual(["batchTimeout"]);
      counts.batchTimeout = "answered with abort";
    });
  }, 30_000);
});

describe("a client that stops reading", () => {
  const CALLBACKS = 100;
  const SIZE = 1 * MB;

  /**
   * A raw client asks for CALLBACKS callbacks of SIZE characters, then stops reading. Returns the
   * peak growth of heap plus array buffers while the server writes to it, and the peer.
   */
  async function stopReading(wsUrl: string, settle: (peer: RawPeer) => Promise<void>): Promise<{ peak: number; peer: RawPeer }> {
    const base = memoryAfterGc();
    const peer = await openRaw(wsUrl);
    let peak = 0;
    const sampler = setInterval(() => {
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      peak = Math.max(peak, heapUsed + arrayBuffers - base);
    }, 2);
    try {
      peer.socket.pause();
      peer.send(["push", ["pipeline", 0, ["spam"], [["export", -1], CALLBACKS, SIZE]]]);
      peer.send(["pull", 1]);
      await settle(peer);
    } finally {
      clearInterval(sampler);
    }
    return { peak, peer };
  }

  it(`${CALLBACKS} callbacks of 1 MiB to a client that does not read: ours stops at maxSendBuffer (capnweb as control)`, async () => {
    await withBystander(tight, async (during) => {
      let result: { peak: number; peer: RawPeer } | undefined;
      const breaches = await breachesDuring(async () => {
        result = await stopReading(tight.wsUrl, async (peer) => {
          await Promise.race([peer.closed, sleep(LIVENESS_MS)]);
          expect(peer.isClosed, "the server dropped the peer that does not read").toBe(true);
        });
        await during();
      });
      expect(breaches.map((b) => b.limit)).toEqual(["maxSendBuffer"]);
      counts.slowReaderOursPeakMB = mb(result!.peak);
      // The limit (16 MiB) and one frame over it, the strings being encoded, and slack.
      expect(result!.peak).toBeLessThan(80 * MB);
    });
    const control = await stopReading(theirs.wsUrl, async () => {
      // capnweb keeps the connection and buffers all of it: wait until it has written every callback.
      await sleep(1_500);
    });
    control.peer.terminate();
    counts.slowReaderCapnwebPeakMB = mb(control.peak);
  }, 60_000);
});

describe("a client that stops reading, under maxSendBuffer", () => {
  it("8 MiB it never reads (under the 16 MiB limit) end its session after a heartbeat interval", async () => {
    await withBystander(tight, async (during) => {
      const peer = await openRaw(tight.wsUrl);
      const breaches = await breachesDuring(async () => {
        peer.socket.pause();
        peer.send(["push", ["pipeline", 0, ["spam"], [["export", -1], 8, MB]]]);
        peer.send(["pull", 1]);
        await during();
        // Only the bystander's session is left once the server dropped the peer (which, paused,
        // learns of it when it reads again).
        await vi.waitFor(() => expect(tight.handlers.stats().sessions).toBe(1), { timeout: LIVENESS_MS, interval: 20 });
        peer.socket.resume();
        const closed = await Promise.race([peer.closed, sleep(LIVENESS_MS).then(() => undefined)]);
        expect(closed, "the peer that reads nothing was kept").toBeDefined();
      });
      expect(breaches.map((b) => b.limit)).toEqual(["heartbeatInterval"]);
      expect(breaches[0]!.message).toMatch(/read nothing/);
    });
  }, 30_000);
});

describe("binary WebSocket frames", () => {
  const binary = (text: string): Buffer => Buffer.from(text);

  for (const target of ["ours", "capnweb"] as const) {
    it(`a binary frame carrying a call aborts the session and runs nothing (${target})`, async () => {
      const url = target === "ours" ? tight.wsUrl : theirs.wsUrl;
      const before = executed.square;
      const peer = await openRaw(url);
      peer.socket.send(binary('["push",["pipeline",0,["square"],[3]]]'), { binary: true });
      peer.socket.send(binary('["pull",1]'), { binary: true });
      const closed = await Promise.race([peer.closed, sleep(LIVENESS_MS).then(() => undefined)]);
      expect(closed, "the session was not closed").toBeDefined();
      expect(peer.frames.at(-1) ?? "").toMatch(/^\["abort"/);
      expect(peer.frames.some((frame) => frame.startsWith('["resolve"'))).toBe(false);
      expect(executed.square).toBe(before);
      peer.terminate();
      if (target === "ours") await expectNothingLeft(tight);
    }, 30_000);
  }
});

// -----------------------------------------------------------------------------------------------
// Tables

describe("tables", () => {
  it("pushes never pulled stop at maxExports (the default, 100,000): that session aborts, its memory is freed", async () => {
    const limit = CapnWeb.DEFAULT_LIMITS.maxExports;
    await withBystander(roomy, async (during) => {
      const before = memoryAfterGc();
      const peer = await openRaw(roomy.wsUrl);
      let peak = 0;
      const breaches = await breachesDuring(async () => {
        for (let i = 0; i < limit; i++) peer.send(`["push",["pipeline",0,["square"],[${i}]]]`);
        peer.send(["pull", limit]);
        await peer.waitFor((m) => m[0] === "resolve" && m[1] === limit, LIVENESS_MS * 3);
        peak = memoryAfterGc() - before;
        await during();
        // The 100,001st push breaks the limit.
        peer.send('["push",["pipeline",0,["square"],[1]]]');
        peer.send('["push",["pipeline",0,["square"],[2]]]');
        const abort = await abortOf(peer);
        expect(abort).toMatchObject({ code: 3000, type: "limit", limit: "maxExports" });
      });
      expect(breaches.map((b) => b.limit)).toEqual(["maxExports"]);
      counts.pushFloodAtLimitMB = mb(peak);
      // ~210 bytes per push held: 100,000 pushes stay far under 100 MB.
      expect(peak).toBeLessThan(100 * MB);
      await vi.waitFor(() => expect(roomy.handlers.stats().exports).toBeLessThan(10), { timeout: LIVENESS_MS, interval: 20 });
      const residue = memoryAfterGc() - before;
      counts.pushFloodResidueMB = mb(residue);
      expect(residue).toBeLessThan(10 * MB);
    });
    // The control: capnweb keeps every push (no limit), and the session stays open.
    const before = memoryAfterGc();
    const peer = await openRaw(theirs.wsUrl);
    for (let i = 0; i <= limit; i++) peer.send(`["push",["pipeline",0,["square"],[${i}]]]`);
    peer.send(["pull", limit + 1]);
    expect(await peer.waitFor((m) => m[0] === "resolve" && m[1] === limit + 1, LIVENESS_MS * 3)).toEqual(["resolve", limit + 1, limit * limit]);
    counts.pushFloodCapnwebMB = mb(memoryAfterGc() - before);
    expect(peer.isClosed).toBe(false);
    peer.terminate();
  }, 60_000);

  it("capabilities sent to the server stop at maxImports", async () => {
    await withBystander(tight, async (during) => {
      const peer = await openRaw(tight.wsUrl);
      const stubs = Array.from({ length: 2_500 }, (_, i) => ["export", -(i + 1)]);
      const breaches = await breachesDuring(async () => {
        peer.send(["push", ["pipeline", 0, ["square"], [[stubs]]]]);
        expect(await abortOf(peer)).toMatchObject({ code: 3000, type: "limit", limit: "maxImports" });
        await during();
      });
      expect(breaches.map((b) => b.limit)).toEqual(["maxImports"]);
    });
  }, 30_000);

  it("calls pulled and never answered stop at maxPendingCalls", async () => {
    await withBystander(tight, async (during) => {
      const peer = await openRaw(tight.wsUrl);
      const breaches = await breachesDuring(async () => {
        for (let i = 1; i <= 1_100; i++) {
          peer.send('["push",["pipeline",0,["never"],[]]]');
          peer.send(`["pull",${i}]`);
        }
        expect(await abortOf(peer)).toMatchObject({ code: 3000, type: "limit", limit: "maxPendingCalls" });
        await during();
      });
      expect(breaches.map((b) => b.limit)).toEqual(["maxPendingCalls"]);
    });
  }, 30_000);

  it("callbacks the client never answers stop at maxAwaitedAnswers", async () => {
    await withBystander(tight, async (during) => {
      const peer = await openRaw(tight.wsUrl);
      const breaches = await breachesDuring(async () => {
        // Each call makes the server call the client back and wait: the client never answers.
        for (let i = 1; i <= 600; i++) peer.send(`["push",["pipeline",0,["callBack"],[["export",-${i}],${i}]]]`);
        expect(await abortOf(peer)).toMatchObject({ code: 3000, type: "limit", limit: "maxAwaitedAnswers" });
        await during();
      });
      expect(breaches.map((b) => b.limit)).toEqual(["maxAwaitedAnswers"]);
    });
  }, 30_000);
});

// -----------------------------------------------------------------------------------------------
// Work

describe("work", () => {
  it("a remap of 10,000 elements times 21 instructions stops at maxRemapWork (100,000) and aborts", async () => {
    await withBystander(tight, async (during) => {
      const peer = await openRaw(tight.wsUrl);
      const before = executed.square;
      const instructions = [...Array.from({ length: 20 }, () => ["pipeline", -1, ["square"], [7]]), ["import", 0]];
      const breaches = await breachesDuring(async () => {
        peer.send(["push", ["pipeline", 0, ["range"], [10_000]]]);
        peer.send(["push", ["remap", 1, [], [["import", 0]], instructions]]);
        peer.send(["pull", 2]);
        expect(await abortOf(peer)).toMatchObject({ code: 3000, type: "limit", limit: "maxRemapWork" });
        await during();
      });
      expect(breaches.map((b) => b.limit)).toEqual(["maxRemapWork"]);
      const ran = executed.square - before;
      counts.remapCallsRun = ran;
      // Work stopped at the budget: at most 100,000 instruction runs, of which 20 in 21 are calls.
      expect(ran).toBeLessThanOrEqual(CapnWeb.DEFAULT_LIMITS.maxRemapWork);
    });
  }, 30_000);

  it("frames that keep a session busy yield: another turn runs before the next costly frame", async () => {
    const order: string[] = [];
    const inbox = new Inbox();
    const busy = (ms: number): void => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    inbox.start({
      frame(text) {
        order.push(text);
        busy(30);
      },
      closed() {},
    });
    setImmediate(() => order.push("other session"));
    inbox.frame("costly 1");
    inbox.frame("costly 2");
    inbox.frame("costly 3");
    await inbox.idle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(order.indexOf("other session")).toBeGreaterThan(-1);
    expect(order.indexOf("other session")).toBeLessThan(order.indexOf("costly 3"));
    expect(order.filter((text) => text.startsWith("costly"))).toEqual(["costly 1", "costly 2", "costly 3"]);
  });

  it("an HTTP batch over maxBatchLines is refused with 413 naming the limit; nothing runs", async () => {
    await withBystander(tight, async () => {
      const before = executed.square;
      const lines = Array.from({ length: 1_001 }, () => JSON.stringify(["push", ["pipeline", 0, ["square"], [1]]]));
      const breaches = await breachesDuring(async () => {
        const answer = await post(tight.url, lines.join("\n"));
        expect(answer.status).toBe(413);
        expect(answer.text).toMatch(/1000 lines/);
      });
      expect(breaches.map((b) => b.limit)).toEqual(["maxBatchLines"]);
      expect(executed.square).toBe(before);
    });
  }, 30_000);

  it("a chunked HTTP body that keeps coming is refused at maxBatchBytes, before it is buffered whole", async () => {
    await withBystander(tight, async () => {
      let written = 0;
      let stop = false;
      const chunk = "x".repeat(64 * 1024);
      const breaches = await breachesDuring(async () => {
        const answer = await post(tight.url, (write) => {
          const pump = (): void => {
            // At most 64 MiB, or until the answer came: far past the 1 MiB limit either way.
            while (!stop && written < 64 * MB) {
              written += chunk.length;
              if (!write(chunk)) return void setImmediate(pump);
            }
          };
          pump();
        });
        stop = true;
        expect(answer.status).toBe(413);
        expect(answer.text).toMatch(/Request body too large/);
      });
      expect(breaches.map((b) => b.limit)).toEqual(["maxBatchBytes"]);
      counts.chunkedBodyWrittenBeforeRefusalMB = mb(written);
    });
  }, 30_000);
});

// -----------------------------------------------------------------------------------------------
// Sizes

describe("sizes", () => {
  it("a WebSocket frame over maxMessageBytes is refused from its header (1009), before its payload is read", async () => {
    await withBystander(tight, async () => {
      const peer = await openRaw(tight.wsUrl);
      // Only the first 64 KiB of a (masked) frame that declares 8 MiB: ws refuses on the header.
      const header = Buffer.from([0x81, 0xff, 0, 0, 0, 0, 0, 0x80, 0, 0, 1, 2, 3, 4]);
      const raw = (peer.socket as unknown as { _socket: Socket })._socket;
      raw.write(Buffer.concat([header, Buffer.alloc(64 * 1024, 0x20)]));
      const { code } = await peer.closed;
      expect(code).toBe(1009);
    });
  }, 30_000);

  it("a fragmented message left unfinished ends its session after one heartbeat interval", async () => {
    await withBystander(tight, async (during) => {
      const peer = await openRaw(tight.wsUrl);
      const breaches = await breachesDuring(async () => {
        // The first fragment of a text message, never the last; the peer keeps answering pings.
        peer.socket.send("x".repeat(512 * 1024), { fin: false });
        await during();
        const closed = await Promise.race([peer.closed, sleep(LIVENESS_MS).then(() => undefined)]);
        expect(closed, "the unfinished message was held").toBeDefined();
      });
      expect(breaches.map((b) => b.limit)).toEqual(["heartbeatInterval"]);
    });
  }, 30_000);
});

// -----------------------------------------------------------------------------------------------
// Time

/** A raw TCP connection to `server`; resolves once the server has closed it. */
async function openTcp(server: CapnWeb.Server): Promise<{ socket: Socket; closed: Promise<void>; received: () => string }> {
  const socket = tcpConnect(server.port, "127.0.0.1");
  let received = "";
  socket.setEncoding("latin1");
  socket.on("data", (data: string) => (received += data));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  await new Promise((resolve) => socket.once("connect", resolve));
  return { socket, closed, received: () => received };
}

async function closedWithin(closed: Promise<void>, ms: number): Promise<boolean> {
  return Promise.race([closed.then(() => true), sleep(ms).then(() => false)]);
}

describe("time", () => {
  it("a connection that never sends its headers is closed (handshakeTimeout)", async () => {
    await withBystander(tight, async (during) => {
      const silent = await openTcp(tight);
      const slow = await openTcp(tight);
      slow.socket.write("POST / HTTP/1.1\r\nHost: x\r\n");
      await during();
      expect(await closedWithin(silent.closed, LIVENESS_MS)).toBe(true);
      expect(await closedWithin(slow.closed, LIVENESS_MS)).toBe(true);
    });
  }, 30_000);

  it("a chunked body that never ends is answered 408 at bodyTimeout and its connection closed", async () => {
    await withBystander(tight, async (during) => {
      const peer = await openTcp(tight);
      const breaches = await breachesDuring(async () => {
        peer.socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[\"pus\r\n");
        const drip = setInterval(() => peer.socket.write("1\r\n \r\n"), 50);
        try {
          await during();
          expect(await closedWithin(peer.closed, LIVENESS_MS)).toBe(true);
        } finally {
          clearInterval(drip);
        }
      });
      expect(peer.received()).toMatch(/^HTTP\/1\.1 408/);
      expect(breaches.map((b) => b.limit)).toEqual(["bodyTimeout"]);
    });
  }, 30_000);

  it("a WebSocket peer that stops answering pings is dropped (server heartbeat)", async () => {
    await withBystander(tight, async (during) => {
      const peer = new WebSocket(tight.wsUrl, { autoPong: false });
      peer.on("error", () => {});
      await new Promise((resolve) => peer.once("open", resolve));
      const closed = new Promise<void>((resolve) => peer.once("close", () => resolve()));
      await during();
      expect(await closedWithin(closed, LIVENESS_MS)).toBe(true);
    });
  }, 30_000);

  it("close({ deadline }) drops a peer that never completes the closing handshake", async () => {
    const server = await CapnWeb.serve({ port: 0, main: () => new Api() });
    // An upgraded connection that never reads again: the close frame is never answered.
    const peer = await openTcp(server);
    peer.socket.write(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    await vi.waitFor(() => expect(peer.received()).toMatch(/^HTTP\/1\.1 101/), { timeout: LIVENESS_MS });
    peer.socket.pause();
    // ws waits 30 s for a close frame; a deadline of 100 ms ends it well before a 10 s ceiling.
    const closing = server.close({ deadline: 100 });
    expect(await Promise.race([closing.then(() => "closed"), sleep(LIVENESS_MS).then(() => "still waiting")])).toBe("closed");
    peer.socket.resume();
    expect(await closedWithin(peer.closed, LIVENESS_MS)).toBe(true);
  }, 30_000);
});

// -----------------------------------------------------------------------------------------------
// Cross-site requests and the server as a whole

describe("cross-site requests", () => {
  const call = batchOf(["push", ["pipeline", 0, ["square"], [5]]], ["pull", 1]);

  it("a cross-site simple POST runs nothing on ours (403); capnweb runs it (control)", async () => {
    for (const server of [tight, theirs] as const) {
      const before = executed.square;
      const answer = await post(server.url, call, { origin: "https://evil.example" });
      const ran = executed.square - before;
      if (server === tight) {
        expect(answer.status).toBe(403);
        expect(ran).toBe(0);
      } else {
        counts.crossSiteCallsRunByCapnweb = ran;
      }
    }
    // The same request from the server's own page is served.
    const own = new URL(tight.url).origin;
    expect(await post(tight.url, call, { origin: own })).toEqual({ status: 200, text: '["resolve",1,25]' });
  });

  it("form-encoded and multipart bodies are refused (415): nothing runs", async () => {
    const before = executed.square;
    for (const type of ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      expect((await post(tight.url, call, { "content-type": type })).status).toBe(415);
    }
    expect(executed.square).toBe(before);
  });

  it("allowedOrigins: listed origins are served over HTTP batch and WebSocket, others refused (403)", async () => {
    const server = await CapnWeb.serve({ port: 0, main: () => new Api(), allowedOrigins: ["https://app.example"] });
    try {
      expect((await post(server.url, call, { origin: "https://app.example" })).status).toBe(200);
      expect((await post(server.url, call, { origin: "https://evil.example" })).status).toBe(403);
      const refused = new WebSocket(server.wsUrl, { origin: "https://evil.example" });
      const status = await new Promise<number>((resolve) => {
        refused.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        refused.on("error", () => {});
      });
      expect(status).toBe(403);
      const allowed = new WebSocket(server.wsUrl, { origin: "https://app.example" });
      allowed.on("error", () => {});
      await new Promise((resolve) => allowed.once("open", resolve));
      allowed.close();
    } finally {
      await server.close({ deadline: 100 });
    }
  });

  it("sessions past maxSessions are refused (503) while the others keep working", async () => {
    const server = await CapnWeb.serve({ port: 0, main: () => new Api(), limits: { maxSessions: 3 } });
    try {
      const clients = await Promise.all([1, 2, 3].map(() => CapnWeb.connect<Api>(server.wsUrl, { reconnect: false } as never)));
      const breaches = await breachesDuring(async () => {
        const fourth = new WebSocket(server.wsUrl);
        fourth.on("error", () => {});
        const status = await new Promise<number>((resolve) => fourth.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
        expect(status).toBe(503);
      });
      expect(breaches.map((b) => b.limit)).toEqual(["maxSessions"]);
      for (const api of clients) expect(await api.square(3)).toBe(9);
      for (const api of clients) CapnWeb.close(api);
    } finally {
      await server.close({ deadline: 100 });
    }
  });
});

describe("limits themselves", () => {
  it("a limit that is not a positive number, or a name that is no limit, is refused when the server starts", async () => {
    await expect(CapnWeb.serve({ port: 0, main: () => new Api(), limits: { maxExports: 0 } })).rejects.toMatchObject({ type: "invalid_argument" });
    await expect(CapnWeb.serve({ port: 0, main: () => new Api(), limits: { maxExport: 10 } as never })).rejects.toMatchObject({
      type: "invalid_argument",
      message: expect.stringMatching(/Unknown limit "maxExport"/),
    });
  });

  it("every default is documented in one place, and the server runs under exactly those unless told otherwise", () => {
    expect(Object.keys(CapnWeb.DEFAULT_LIMITS).sort()).toEqual(
      [
        "maxBigIntDigits", "maxDepth", "maxMessageSize", "maxExports", "maxImports", "maxPendingCalls", "maxAwaitedAnswers", "maxRemapWork",
        "maxMessageBytes", "maxSendBuffer", "pauseReadingAbove", "maxBatchBytes", "maxBatchLines",
        "handshakeTimeout", "bodyTimeout", "batchTimeout", "heartbeatInterval", "maxSessions",
      ].sort(),
    );
    expect(roomy.handlers.limits).toEqual(CapnWeb.DEFAULT_LIMITS);
    expect(tight.handlers.limits).toEqual({ ...CapnWeb.DEFAULT_LIMITS, ...TIGHT });
  });
});

// Last: its 96 MiB of strings would blur the memory probes above until collected.
describe("honest heavy traffic", () => {
  it("echoes of 512 KiB in flight, 48 MiB each way, are all answered under the default limits", async () => {
    // Over pauseReadingAbove the server stops reading the client until it has read the answers;
    // the client always reads, so both go on. (What is in flight stays under maxSendBuffer.)
    await withBystander(roomy, async (during) => {
      const api = await CapnWeb.connect<Api>(roomy.wsUrl);
      try {
        const blob = "y".repeat(512 * 1024);
        const breaches = await breachesDuring(async () => {
          const answers = CapnWeb.await(Promise.all(Array.from({ length: 96 }, () => api.echo(blob) as Promise<unknown>)), { timeout: LIVENESS_MS * 3 });
          await during();
          const result = await answers;
          expect(result.ok ? result.value.filter((answer) => answer !== blob).length : result.error.message).toBe(0);
        });
        expect(breaches).toEqual([]);
      } finally {
        CapnWeb.close(api);
      }
    });
  }, 60_000);
});
