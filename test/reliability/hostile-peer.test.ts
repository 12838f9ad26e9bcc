// A capnweb-speaking attacker (raw `ws`, every frame written by hand) against our server, beyond
// test/protocol/hostile.test.ts: floods of pushes without pulls (with the heap growth measured and
// bounded), calls and pulls on IDs never given (or given to another session), releases of foreign
// IDs, messages at and over the size limit, deep nesting in every place a message can nest,
// prototype paths on every kind of export. Each is refused (an abort, or a rejected call on a
// session that stays up) while an honest client on another session keeps getting correct answers.
//
// What a flood costs (measured below, and documented): every push the peer never pulls or
// releases keeps one export-table entry with its result alive for the life of the session. There
// is no per-session cap on the export table (capnweb 0.12 has none either): the memory one peer can
// hold is bounded only by what it sends before it disconnects. It is all freed when the session
// ends. The bound asserted here: 50,000 pushes hold less than FLOOD_HEAP_BOUND (200 MB) of heap.
// Measured on Node 20 (printed as floodHeapMB / floodBytesPerPush): about 10 MB, ~210 bytes per
// `square(i)` push; 20,000 pushes of 1 KB arguments hold about 25 MB; under 1 MB remains after
// the session ends. So a peer holds roughly (210 bytes + its arguments) per unreleased push.

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import v8 from "node:v8";
import vm from "node:vm";
import * as CapnWeb from "../../src/index.js";
import { openRaw, printSummary, sleep, watchCrashes, type RawPeer } from "./helpers.js";

const startedAt = Date.now();
const MB = 1024 * 1024;
const FLOOD_PUSHES = 50_000;
/** The stated bound on the heap one peer can hold with FLOOD_PUSHES pushes never pulled. */
const FLOOD_HEAP_BOUND = 200 * MB;
/** What may remain once the flooding session has ended (nothing of it should). */
const RESIDUE_BOUND = 30 * MB;
const ANSWER_TIMEOUT_MS = 10_000;

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const counts: Record<string, number | Record<string, number>> = {};
const bump = (key: string, by = 1): void => void (counts[key] = ((counts[key] as number | undefined) ?? 0) + by);

const crashes = watchCrashes();
afterAll(() => {
  crashes.stop();
  printSummary("hostile-peer", counts, startedAt);
});

// -----------------------------------------------------------------------------------------------
// The server

/**
 * Every method that ran, per session (keyed by the client's port), so a test can prove that
 * nothing executed on the attacker's session while the honest neighbour's calls run.
 */
const executedBy = new Map<number, string[]>();
const record = (port: number, what: string): void => {
  let list = executedBy.get(port);
  if (!list) executedBy.set(port, (list = []));
  list.push(what);
};
/** What ran on the session of `peer`. */
const executedFor = (peer: RawPeer): string[] => executedBy.get((peer.socket as unknown as { _socket: { localPort: number } })._socket.localPort) ?? [];

class Counter extends CapnWeb.Target {
  secret = "instance-field";
  constructor(
    private n: number,
    private readonly port: number,
  ) {
    super();
  }
  increment(k: number): number {
    record(this.port, "increment");
    return (this.n += k);
  }
  get value(): number {
    return this.n;
  }
}

class Api extends CapnWeb.Target {
  constructor(private readonly port: number) {
    super();
  }
  square(i: number): number {
    record(this.port, "square");
    return i * i;
  }
  echo(x: unknown): unknown {
    record(this.port, "echo");
    return x;
  }
  makeCounter(n: number): Counter {
    record(this.port, "makeCounter");
    return new Counter(n, this.port);
  }
  /** A plain (non-arrow) function: it has an own `prototype`. */
  getFunction(): (x: number) => number {
    const port = this.port;
    return function addOne(x: number): number {
      record(port, "addOne");
      return x + 1;
    };
  }
  async callBack(fn: CapnWeb.Stub<(x: number) => unknown>, x: number): Promise<unknown> {
    try {
      return await fn(x);
    } finally {
      CapnWeb.release(fn);
    }
  }
}

let server: CapnWeb.Server;

beforeAll(async () => {
  server = await CapnWeb.serve({ port: 0, main: (info) => new Api(info.request.socket.remotePort ?? 0) });
});

afterAll(async () => {
  await server?.close();
});

// -----------------------------------------------------------------------------------------------
// The honest neighbour: another session on the same server, calling all the time

interface Honest {
  /** Stops the loop; resolves with how many answers it got, after checking every one. */
  stop(): Promise<number>;
}

async function honestNeighbour(label: string): Promise<Honest> {
  const api = await CapnWeb.connect<any>(server.wsUrl);
  const counter = await api.makeCounter(0);
  let running = true;
  let answers = 0;
  let expectedCount = 0;
  const failures: string[] = [];
  const loop = (async () => {
    // Bounded by count and by time (the attack decides the time; this is a ceiling).
    const deadline = Date.now() + 60_000;
    for (let i = 0; running && i < 1_000_000 && Date.now() < deadline; i++) {
      const square = await CapnWeb.await(api.square(i), { timeout: ANSWER_TIMEOUT_MS });
      if (!square.ok || square.value !== i * i) failures.push(`square(${i}): ${JSON.stringify(square.ok ? square.value : square.error.message)}`);
      // Its own capability, on its own session, is untouched by anything the attacker does.
      expectedCount += 1;
      const incremented = await CapnWeb.await(counter.increment(1), { timeout: ANSWER_TIMEOUT_MS });
      if (!incremented.ok || incremented.value !== expectedCount) failures.push(`increment: ${JSON.stringify(incremented.ok ? incremented.value : incremented.error.message)}`);
      answers += 2;
      if (failures.length > 5) break;
      // Yield to the timers so the loop does not hog the event loop itself.
      if (i % 20 === 19) await sleep(1);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      expect(failures, `honest neighbour during ${label}`).toEqual([]);
      // Its first call left before the attack began, so it was answered during (or after) it.
      expect(answers).toBeGreaterThanOrEqual(2);
      // And it still works after the attack.
      expect(await api.square(12)).toBe(144);
      CapnWeb.release(counter);
      CapnWeb.close(api);
      bump("honestAnswers", answers);
      return answers;
    },
  };
}

/** Raw attacker sessions of the running test; all terminated at its end, whatever happened. */
const attackers: RawPeer[] = [];
async function attacker(): Promise<RawPeer> {
  const peer = await openRaw(server.wsUrl);
  attackers.push(peer);
  return peer;
}

/** Runs `attack` while an honest neighbour calls; checks the neighbour and the server afterwards. */
async function whileHonestCalls(label: string, attack: () => Promise<void>): Promise<void> {
  const honest = await honestNeighbour(label);
  try {
    await attack();
  } finally {
    for (const peer of attackers.splice(0)) peer.terminate();
    await honest.stop();
  }
  await vi.waitFor(() => expect(server.handlers.stats()).toEqual({ sessions: 0, imports: 0, exports: 0 }), { timeout: 10_000, interval: 10 });
  expect(crashes.unhandled).toEqual([]);
  expect(crashes.uncaught).toEqual([]);
}

// -----------------------------------------------------------------------------------------------
// Outcomes of one raw session

/** Waits for the abort of `peer`: abort frame last, close 3000, message matching `keyword`. */
async function expectAborted(peer: RawPeer, keyword: RegExp, answersBefore = 0): Promise<string> {
  const closed = await Promise.race([peer.closed, sleep(ANSWER_TIMEOUT_MS).then(() => undefined)]);
  expect(closed, "the session was not closed").toBeDefined();
  const last = JSON.parse(peer.frames.at(-1) ?? "[]") as unknown[];
  expect(last[0]).toBe("abort");
  const message = (last[1] as unknown[])[2] as string;
  expect(message).toMatch(keyword);
  expect(closed!.code).toBe(3000);
  expect(peer.frames.filter((text) => /^\["(resolve|reject)"/.test(text)), "answers before the abort").toHaveLength(answersBefore);
  bump("aborted");
  return message;
}

/** The raw session still answers a call at push ID `id`. */
async function expectAlive(peer: RawPeer, id: number): Promise<void> {
  peer.send(["push", ["pipeline", 0, ["square"], [11]]]);
  peer.send(["pull", id]);
  expect(await peer.waitFor((m) => (m[0] === "resolve" || m[0] === "reject") && m[1] === id, ANSWER_TIMEOUT_MS)).toEqual(["resolve", id, 121]);
}

async function answerOf(peer: RawPeer, id: number): Promise<unknown[] | undefined> {
  return peer.waitFor((m) => (m[0] === "resolve" || m[0] === "reject") && m[1] === id, ANSWER_TIMEOUT_MS);
}

// -----------------------------------------------------------------------------------------------

describe("floods", () => {
  it(`${FLOOD_PUSHES.toLocaleString("en")} pushes without pulls: the heap growth stays under ${FLOOD_HEAP_BOUND / MB} MB and is freed at the end`, async () => {
    await whileHonestCalls("a push flood", async () => {
      const before = heapAfterGc();
      const peer = await attacker();
      try {
        for (let i = 0; i < FLOOD_PUSHES; i++) peer.send(`["push",["pipeline",0,["square"],[${i}]]]`);
        // One pull at the end: once it is answered, the server has taken in every push.
        peer.send(["pull", FLOOD_PUSHES]);
        const last = FLOOD_PUSHES - 1;
        expect(await answerOf(peer, FLOOD_PUSHES)).toEqual(["resolve", FLOOD_PUSHES, last * last]);
        // Every push is held: the table grows with the flood (the pulled one is still held too:
        // the peer has not released it).
        const stats = server.handlers.stats();
        expect(stats.exports).toBeGreaterThanOrEqual(FLOOD_PUSHES + 1);
        const held = heapAfterGc() - before;
        counts.floodHeapMB = Math.round((held / MB) * 10) / 10;
        counts.floodBytesPerPush = Math.round(held / FLOOD_PUSHES);
        expect(held).toBeLessThan(FLOOD_HEAP_BOUND);
        // The flooding session is still a working session (a flood is not a violation).
        await expectAlive(peer, FLOOD_PUSHES + 1);
      } finally {
        peer.terminate();
      }
      await vi.waitFor(() => expect(server.handlers.stats().exports).toBeLessThan(10), { timeout: 10_000, interval: 10 });
      const residue = heapAfterGc() - before;
      counts.floodResidueMB = Math.round((residue / MB) * 10) / 10;
      expect(residue).toBeLessThan(RESIDUE_BOUND);
      bump("floodPushes", FLOOD_PUSHES);
    });
  }, 60_000);

  it("20,000 pushes of 1 KB arguments never pulled: held in proportion, freed at the end", async () => {
    const n = 20_000;
    const blob = "x".repeat(1_024);
    await whileHonestCalls("a payload flood", async () => {
      const before = heapAfterGc();
      const peer = await attacker();
      try {
        const frame = (i: number) => `["push",["pipeline",0,["echo"],[{"i":${i},"blob":"${blob}"}]]]`;
        for (let i = 0; i < n; i++) peer.send(frame(i));
        peer.send(["pull", n]);
        const answer = await answerOf(peer, n);
        expect(answer).toEqual(["resolve", n, { i: n - 1, blob }]);
        const held = heapAfterGc() - before;
        counts.payloadFloodHeapMB = Math.round((held / MB) * 10) / 10;
        // 20 MB of strings, and their entries: well under the stated bound.
        expect(held).toBeLessThan(FLOOD_HEAP_BOUND);
      } finally {
        peer.terminate();
      }
      await vi.waitFor(() => expect(server.handlers.stats().exports).toBeLessThan(10), { timeout: 10_000, interval: 10 });
      expect(heapAfterGc() - before).toBeLessThan(RESIDUE_BOUND);
      bump("floodPushes", n);
    });
  }, 60_000);

  it("a flood of 20,000 pulls of one push is answered once, and the session survives", async () => {
    await whileHonestCalls("a pull flood", async () => {
      const peer = await attacker();
      try {
        peer.send(["push", ["pipeline", 0, ["square"], [3]]]);
        for (let i = 0; i < 20_000; i++) peer.send('["pull",1]');
        await expectAlive(peer, 2);
        expect(peer.frames.filter((text) => text.startsWith('["resolve",1,'))).toEqual(['["resolve",1,9]']);
      } finally {
        peer.terminate();
      }
      bump("floodPulls", 20_000);
    });
  }, 60_000);
});

// -----------------------------------------------------------------------------------------------

describe("IDs never given", () => {
  const cases: Array<{ name: string; frames: unknown[][]; keyword: RegExp }> = [
    { name: "a call on a huge import ID", frames: [["push", ["pipeline", 2 ** 53 - 1, ["square"], [1]]]], keyword: /No such entry on the export table: 9007199254740991/ },
    { name: "a call on a fractional ID", frames: [["push", ["pipeline", 1.5, ["square"], [1]]]], keyword: /No such entry on the export table: 1\.5/ },
    { name: "a call on an ID beyond 2^53", frames: [["push", ["pipeline", 1e300, ["square"], [1]]]], keyword: /No such entry on the export table/ },
    { name: "a call on a negative ID the server never exported", frames: [["push", ["pipeline", -1, ["increment"], [1]]]], keyword: /No such entry on the export table: -1/ },
    { name: "an ID given as a string", frames: [["push", ["pipeline", "0", ["square"], [1]]]], keyword: /Unknown or malformed expression/ },
    { name: "an import of a never-given ID inside call arguments", frames: [["push", ["pipeline", 0, ["echo"], [{ a: [[1, ["import", 3]]] }]]]], keyword: /No such entry on the export table: 3/ },
    { name: "a pipeline inside arguments on a future push ID", frames: [["push", ["pipeline", 0, ["square"], [["pipeline", 2]]]]], keyword: /No such entry on the export table: 2/ },
    { name: "a pull of a fractional ID", frames: [["pull", 0.5]], keyword: /Malformed pull message/ },
    { name: "a pull of a negative ID never exported", frames: [["pull", -7]], keyword: /Pull of unknown export -7/ },
    { name: "a pull beyond 2^53", frames: [["pull", 2 ** 60]], keyword: /Malformed pull message/ },
    { name: "a remap on a never-given ID", frames: [["push", ["remap", 12, [], [], [["pipeline", 0]]]]], keyword: /No such entry on the export table: 12/ },
    { name: "a remap capture exporting a non-negative ID", frames: [["push", ["remap", 0, [], [["export", 4]], [["pipeline", 0]]]]], keyword: /non-negative ID 4/ },
    { name: "an export of a positive ID in arguments", frames: [["push", ["pipeline", 0, ["echo"], [["export", 5]]]]], keyword: /non-negative ID 5/ },
    { name: "an export of ID 0 in arguments", frames: [["push", ["pipeline", 0, ["echo"], [["export", 0]]]]], keyword: /non-negative ID 0/ },
  ];

  it.each(cases)("$name aborts that session only", async ({ frames, keyword }) => {
    await whileHonestCalls("IDs never given", async () => {
      const peer = await attacker();
      try {
        for (const frame of frames) peer.send(frame);
        await expectAborted(peer, keyword);
        expect(executedFor(peer)).toEqual([]);
        bump("idsNeverGiven");
      } finally {
        peer.terminate();
      }
    });
  });

  it("an ID another session was given means nothing in this one", async () => {
    await whileHonestCalls("IDs of another session", async () => {
      // The victim holds a counter: push ID 1 on its session, export -1 once pulled.
      const victim = await attacker();
      victim.send(["push", ["pipeline", 0, ["makeCounter"], [100]]]);
      victim.send(["pull", 1]);
      expect(await answerOf(victim, 1)).toEqual(["resolve", 1, ["export", -1]]);

      // The attacker names the same IDs on its own session.
      const attacker1 = await attacker();
      attacker1.send(["push", ["pipeline", -1, ["increment"], [1_000]]]);
      await expectAborted(attacker1, /No such entry on the export table: -1/);
      const attacker2 = await attacker();
      attacker2.send(["release", -1, 1]);
      await expectAborted(attacker2, /Release of unknown export -1/);
      const attacker3 = await attacker();
      attacker3.send(["push", ["pipeline", 1, ["increment"], [1_000]]]);
      await expectAborted(attacker3, /No such entry on the export table: 1/);

      // The victim's counter is untouched.
      victim.send(["push", ["pipeline", -1, ["increment"], [1]]]);
      victim.send(["pull", 2]);
      expect(await answerOf(victim, 2)).toEqual(["resolve", 2, 101]);
      victim.terminate();
      bump("idsNeverGiven", 3);
    });
  });
});

// -----------------------------------------------------------------------------------------------

describe("releases of foreign IDs", () => {
  it.each([
    { name: "a release of a pushed ID twice", frames: [["push", ["pipeline", 0, ["square"], [2]]], ["release", 1, 1], ["release", 1, 1]], keyword: /Release of unknown export 1/ },
    { name: "a release of an export by more than it was introduced", frames: [["push", ["pipeline", 0, ["makeCounter"], [1]]], ["pull", 1], ["release", -1, 2]], keyword: /Release of export -1 by 2 exceeds its refcount 1|Release of unknown export -1/ },
    { name: "a release by 2^53 - 1", frames: [["push", ["pipeline", 0, ["square"], [2]]], ["release", 1, 2 ** 53 - 1]], keyword: /exceeds its refcount 1/ },
    { name: "a release by 2^53 (not a safe integer)", frames: [["release", 0, 2 ** 53]], keyword: /Malformed release message/ },
    { name: "a release by a fraction", frames: [["release", 0, 0.5]], keyword: /Malformed release message/ },
    { name: "a release by a negative count", frames: [["release", 0, -1]], keyword: /Malformed release message/ },
    { name: "a release of an ID given as a string", frames: [["release", "1", 1]], keyword: /Malformed release message/ },
    { name: "a release of a positive ID never pushed", frames: [["release", 3, 1]], keyword: /Release of unknown export 3/ },
  ])("$name aborts that session only", async ({ frames, keyword }) => {
    await whileHonestCalls("foreign releases", async () => {
      const peer = await attacker();
      for (const frame of frames) peer.send(frame);
      const { code } = await peer.closed;
      expect(code).toBe(3000);
      const last = JSON.parse(peer.frames.at(-1)!) as unknown[];
      expect(last[0]).toBe("abort");
      expect((last[1] as unknown[])[2]).toMatch(keyword);
      bump("foreignReleases");
    });
  });

  it("a release of a call while it is being pulled drops the answer; the session stays up", async () => {
    await whileHonestCalls("release during a pull", async () => {
      const peer = await attacker();
      // A call that waits on a promise the attacker never resolves, pulled, then released.
      peer.send(["push", ["pipeline", 0, ["square"], [["promise", -1]]]]);
      peer.send(["pull", 1]);
      peer.send(["release", 1, 1]);
      await expectAlive(peer, 2);
      // Then resolving the promise reaches a call nobody wants: no answer, no crash.
      peer.send(["resolve", -1, 4]);
      await expectAlive(peer, 3);
      expect(peer.frames.filter((text) => /^\["(resolve|reject)",1,/.test(text))).toEqual([]);
      peer.terminate();
      bump("foreignReleases");
    });
  });
});

// -----------------------------------------------------------------------------------------------

describe("messages at the size limit", () => {
  const limit = CapnWeb.DEFAULT_LIMITS.maxMessageSize;
  /** A push of `square(3)` with a padding argument, exactly `size` characters long. */
  function paddedPush(size: number, char = "x"): string {
    const head = '["push",["pipeline",0,["square"],[3,"';
    const tail = '"]]]';
    return head + char.repeat(size - head.length - tail.length) + tail;
  }

  it("a message of exactly the limit (32 Mi characters) is answered; one character more aborts", async () => {
    await whileHonestCalls("messages at the limit", async () => {
      const peer = await attacker();
      const atLimit = paddedPush(limit);
      expect(atLimit.length).toBe(limit);
      peer.send(atLimit);
      peer.send(["pull", 1]);
      expect(await answerOf(peer, 1)).toEqual(["resolve", 1, 9]);
      bump("hugeMessages");

      const over = paddedPush(limit + 1);
      peer.send(over);
      // (One answer, to the message at the limit, precedes the abort.)
      await expectAborted(peer, /Message of 33554433 characters exceeds the limit of 33554432/, 1);
      bump("hugeMessages");
    });
  }, 60_000);

  it("a message over the WebSocket payload limit (DEFAULT_MAX_PAYLOAD) ends only that session", async () => {
    await whileHonestCalls("a message over the payload limit", async () => {
      const peer = await attacker();
      // Bytes, not a string: nothing to build but the buffer. ws refuses the frame before our
      // session sees it: close 1009 (message too big), no abort frame.
      peer.socket.send(Buffer.alloc(CapnWeb.transports.DEFAULT_MAX_PAYLOAD + 1, 0x20));
      const { code } = await peer.closed;
      expect(code).toBe(1009);
      bump("hugeMessages");
    });
  }, 60_000);

  it("a message within the documented 32 Mi-character limit whose UTF-8 form exceeds 64 MiB is answered or aborted", async () => {
    // README: "messages up to 32 Mi characters"; "oversized messages abort that one session with
    // a clear error". 23 Mi characters of '中' (3 bytes each in UTF-8, 69 MiB on the wire) are
    // within the character limit, and capnweb 0.12 sends them (it checks sizes on receipt only).
    // Found by this suite: the server's WebSocket maxPayload was 64 MiB (2 bytes per character),
    // so ws closed with 1009 before the session saw the frame: no answer, no abort frame. Fixed
    // in e82b0b3 (DEFAULT_MAX_PAYLOAD is now 100 MiB: 3 bytes per code unit, plus framing).
    await whileHonestCalls("a multi-byte message within the character limit", async () => {
      const peer = await attacker();
      const frame = paddedPush(23 * MB, "中");
      expect(frame.length).toBeLessThan(limit);
      expect(Buffer.byteLength(frame)).toBeGreaterThan(64 * MB);
      peer.send(frame);
      peer.send(["pull", 1]);
      const answer = await answerOf(peer, 1);
      const closed = peer.isClosed ? await peer.closed : undefined;
      peer.terminate();
      bump("hugeMessages");
      const aborted = closed?.code === 3000 && (peer.frames.at(-1) ?? "").startsWith('["abort"');
      expect({ answer, closeCode: closed?.code, aborted }).toEqual(
        aborted ? { answer: undefined, closeCode: 3000, aborted: true } : { answer: ["resolve", 1, 9], closeCode: undefined, aborted: false },
      );
    });
  }, 60_000);
});

// -----------------------------------------------------------------------------------------------

describe("deep nesting wherever a message nests", () => {
  const deepArray = (n: number, inner = "1") => "[".repeat(n) + inner + "]".repeat(n);
  const deepObject = (n: number, inner = "1") => '{"a":'.repeat(n) + inner + "}".repeat(n);
  const N = 100_000;

  it.each([
    { name: "a 100,000-deep object in call arguments", frame: `["push",["pipeline",0,["echo"],[${deepObject(N)}]]]` },
    { name: "a 100,000-deep escaped array in call arguments", frame: `["push",["pipeline",0,["echo"],[[${deepArray(N)}]]]]` },
    { name: "a 100,000-deep value in an error's properties", frame: `["push",["pipeline",0,["echo"],[["error","Error","x",null,{"p":${deepObject(N)}}]]]]` },
    { name: "a 100,000-deep value as a remap capture list", frame: `["push",["remap",0,[],${deepArray(N)},[["pipeline",0]]]]` },
    { name: "a 100,000-deep value inside remap instructions", frame: `["push",["remap",0,[],[],[${deepObject(N)}]]]` },
    { name: "a 100,000-deep value as a property path", frame: `["push",["pipeline",0,${deepArray(N, '"square"')},[2]]]` },
  ])("$name aborts (or is refused) without a stack overflow", async ({ frame }) => {
    await whileHonestCalls("deep nesting", async () => {
      const peer = await attacker();
      peer.send(frame);
      peer.send(["pull", 1]);
      const answer = await peer.waitFor((m) => m[0] === "abort" || m[1] === 1, ANSWER_TIMEOUT_MS);
      expect(answer, "an abort or an answer").toBeDefined();
      // Refused by a limit or as malformed, never by exhausting the stack.
      expect(JSON.stringify(answer)).not.toMatch(/call stack|RangeError/);
      expect(JSON.stringify(answer)).toMatch(/nests deeper than the limit of 256|Malformed|malformed|Invalid headers|not a function/);
      peer.terminate();
      bump("deepNesting");
    });
  });

  it("a 100,000-deep value in a headers expression is refused by the depth limit, not by a stack overflow", async () => {
    // Like every other place a message nests (the cases above): an abort naming the depth limit.
    // Found by this suite: the abort said "Invalid headers expression." with the cause
    // ["error","RangeError","Maximum call stack size exceeded"] (decodeTyped's "headers" case in
    // src/protocol/codec.ts handed value[1] to `new Headers(...)` unchecked, and the native
    // conversion overflowed the stack inside its try/catch). Contained, but the stack-overflow
    // class that hostile.test.ts's regressions close elsewhere. Fixed in e82b0b3.
    await whileHonestCalls("deep headers", async () => {
      const peer = await attacker();
      peer.send(`["push",["pipeline",0,["echo"],[["headers",${deepArray(N)}]]]]`);
      const message = await expectAborted(peer, /./);
      bump("deepNesting");
      expect(peer.frames.at(-1)).not.toMatch(/call stack|RangeError/);
      expect(message).toMatch(/nests deeper than the limit of 256/);
    });
  });

  it("a 100,000-deep resolve of the server's own call into the attacker is refused", async () => {
    await whileHonestCalls("deep resolve", async () => {
      const peer = await attacker();
      // The attacker passes a callback; the server calls it (push 1 on the attacker's side) and
      // pulls; the attacker answers with a 100,000-deep value.
      peer.send(["push", ["pipeline", 0, ["callBack"], [["export", -1], 5]]]);
      peer.send(["pull", 1]);
      const pull = await peer.waitFor((m) => m[0] === "pull", ANSWER_TIMEOUT_MS);
      expect(pull).toBeDefined();
      peer.send(`["resolve",${pull![1] as number},${deepObject(N)}]`);
      await expectAborted(peer, /nests deeper than the limit of 256/).catch(async () => {
        // Or the session survived and the call was refused: either is containment.
        expect(peer.frames.join("\n")).toMatch(/nests deeper than the limit of 256/);
      });
      peer.terminate();
      bump("deepNesting");
    });
  });

  it("a 100,000-deep abort reason ends the session normally", async () => {
    await whileHonestCalls("deep abort", async () => {
      const peer = await attacker();
      peer.send(`["abort",${deepArray(N)}]`);
      const { code } = await peer.closed;
      expect(code).toBe(1000);
      bump("deepNesting");
    });
  });
});

// -----------------------------------------------------------------------------------------------

describe("prototype paths on every kind of export", () => {
  const PROTO_NAMES = [...Object.getOwnPropertyNames(Object.prototype), "toJSON"];
  const FUNCTION_NAMES = ["call", "apply", "bind", "caller", "arguments", "constructor", "toString", "__proto__"];

  it("every Object.prototype name, got or called, on main, a returned Target, a function and a value: refused, nothing runs", async () => {
    await whileHonestCalls("prototype paths", async () => {
      const peer = await attacker();
      // Push 1: a Target (exported once pulled); push 2: a plain function; push 3: a plain value.
      peer.send(["push", ["pipeline", 0, ["makeCounter"], [1]]]);
      peer.send(["push", ["pipeline", 0, ["getFunction"], []]]);
      peer.send(["push", ["pipeline", 0, ["echo"], [{ a: { b: [[1, 2]] } }]]]);
      let nextId = 4;
      const probes: Array<{ id: number; what: string }> = [];
      const subjects: Array<{ id: number; prefix: string[]; names: string[] }> = [
        { id: 0, prefix: [], names: PROTO_NAMES },
        { id: 0, prefix: ["square"], names: FUNCTION_NAMES },
        { id: 1, prefix: [], names: PROTO_NAMES },
        { id: 1, prefix: ["increment"], names: FUNCTION_NAMES },
        { id: 2, prefix: [], names: [...FUNCTION_NAMES, "prototype", "name", "length"] },
        { id: 3, prefix: ["a"], names: PROTO_NAMES },
        { id: 3, prefix: ["a", "b"], names: [...PROTO_NAMES, "push", "map", "length"] },
      ];
      for (const { id, prefix, names } of subjects) {
        for (const name of names) {
          for (const call of [false, true]) {
            for (const tail of [[], ["constructor"], ["call"]]) {
              const path = [...prefix, name, ...tail];
              peer.send(["push", call ? ["pipeline", id, path, ["return process"]] : ["pipeline", id, path]]);
              peer.send(["pull", nextId]);
              probes.push({ id: nextId++, what: `${call ? "call" : "get"} ${id}.${path.join(".")}` });
            }
          }
        }
      }
      await expectAlive(peer, nextId);
      for (const { id, what } of probes) {
        const answer = await answerOf(peer, id);
        expect(answer, what).toBeDefined();
        const text = JSON.stringify(answer);
        // Nothing reachable leaks: no process object, no source code, no prototype machinery.
        expect(text, what).not.toMatch(/"pid"|"versions"|"env"|native code|function |=>/);
        if (answer![0] === "resolve") {
          // A get of a blocked name yields undefined. Only three own properties of a plain
          // function are plain values: its name, its length, its own (empty) `prototype` object.
          const allowed: Record<string, unknown> = { "get 2.prototype": {}, "get 2.name": "addOne", "get 2.length": 1 };
          expect(answer![2], what).toEqual(what in allowed ? allowed[what] : ["undefined"]);
          bump("prototypePaths.resolvedHarmless");
        } else {
          const error = answer![2] as unknown[];
          expect(error[2], what).toMatch(/is not a function|Cannot read property|instance property/);
          bump("prototypePaths.rejected");
        }
      }
      // Only the three set-up calls and the liveness probe ran: no call above reached a method.
      expect(executedFor(peer)).toEqual(["makeCounter", "echo", "square"]);
      expect(Object.prototype).not.toHaveProperty("polluted");
      peer.terminate();
    });
  });

  it("__proto__ and constructor keys in error properties, nested values and remap results pollute nothing", async () => {
    await whileHonestCalls("prototype pollution", async () => {
      const peer = await attacker();
      const pollute = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1}';
      const frames = [
        `["push",["pipeline",0,["echo"],[["error","Error","x",null,{"__proto__":{"polluted":true},"p":${pollute}}]]]]`,
        `["push",["pipeline",0,["echo"],[{"a":[[${pollute},${pollute}]]}]]]`,
        `["push",["remap",0,["echo"],[],[${pollute}]]]`,
        `["push",["pipeline",0,["echo"],[["headers",[["__proto__","x"],["constructor","y"]]]]]]`,
      ];
      frames.forEach((frame, i) => {
        peer.send(frame);
        peer.send(["pull", i + 1]);
      });
      for (let id = 1; id <= frames.length; id++) {
        const answer = await answerOf(peer, id);
        expect(answer).toBeDefined();
        expect(JSON.stringify(answer)).not.toContain("polluted");
        bump("prototypePollution");
      }
      await expectAlive(peer, frames.length + 1);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty("polluted");
      expect(Error.prototype).not.toHaveProperty("polluted");
      peer.terminate();
    });
  });
});
