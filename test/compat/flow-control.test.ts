// capnweb 0.12's __tests__/flow-control.test.ts (the FlowController on a simulated link) and the
// two WritableStream cases of __tests__/index.test.ts that size writes through a custom-encoding
// transport, ported as our own code. The controller is ours (src/protocol/flow-control.ts); the
// transport cases run our writer (the server) against our client and against capnweb's.

import { describe, expect, it } from "vitest";
import * as capnweb from "capnweb";
import * as compat from "../../src/capnweb.js";
import { windowFiller } from "./fixtures.js";
import { COMPAT } from "./harness.js";
import { FlowController, INITIAL_WINDOW, MIN_WINDOW, type SendToken } from "../../src/protocol/flow-control.js";

// Reproducible, uneven chunk sizes, cycled.
const CHUNK_SIZES = [32 * 1024, 4 * 1024, 16000, 12345, 16, 9999, 4321, 8];

/** A link with a fixed round trip and bandwidth, a fake clock, and acks delivered in order. */
class LinkSimulator {
  rtt = 100;
  /** Bytes per ms: 10 MB/s, 1 MB per round trip, above the initial window. */
  bandwidth = 10 * 1024;
  t = 0;
  blocked = false;
  /** The link is busy sending earlier bytes until then. */
  private linkBusyUntil = 0;
  readonly fc = new FlowController(() => this.t);
  readonly inFlight: { token: SendToken; ackTime: number }[] = [];

  get bdp(): number {
    return this.rtt * this.bandwidth;
  }

  send(size: number): void {
    this.linkBusyUntil = Math.max(this.linkBusyUntil, this.t) + size / this.bandwidth;
    const { token, shouldBlock } = this.fc.onSend(size);
    this.inFlight.push({ token, ackTime: this.linkBusyUntil + this.rtt });
    this.blocked = shouldBlock;
  }

  /** Sends `size` chunks until blocked; returns how many were sent. */
  fillWindow(size: number): number {
    let count = 0;
    while (!this.blocked) {
      count++;
      this.send(size);
    }
    return count;
  }

  waitForNextAck(): void {
    const next = this.inFlight.shift();
    if (!next) return;
    this.t = next.ackTime;
    if (this.fc.onAck(next.token)) this.blocked = false;
  }

  /** Writes as fast as the controller allows for `duration` ms, then drains. */
  saturateFor(duration: number): void {
    const end = this.t + duration;
    let i = 0;
    while (this.t < end) {
      if (this.blocked) this.waitForNextAck();
      else this.send(CHUNK_SIZES[i++ % CHUNK_SIZES.length]!);
    }
    while (this.inFlight.length > 0) this.waitForNextAck();
  }
}

describe("FlowController", () => {
  it("blocks when window is full", () => {
    const sim = new LinkSimulator();
    expect(sim.fillWindow(64 * 1024)).toBe(4);
    expect(sim.fc.bytesInFlight).toBe(INITIAL_WINDOW);
  });

  it("unblocks after ack frees space", () => {
    const sim = new LinkSimulator();
    for (let t = 0; t < 3; t++) {
      sim.t = t;
      sim.send(64 * 1024);
    }
    sim.t = 3;
    expect(sim.blocked).toBe(false);
    sim.send(64 * 1024);
    expect(sim.blocked).toBe(true);
    sim.waitForNextAck();
    expect(sim.fc.bytesInFlight).toBe(192 * 1024);
  });

  it("window grows during startup", () => {
    const sim = new LinkSimulator();
    sim.saturateFor(sim.rtt * 5);
    expect(sim.fc.window).toBeGreaterThan(INITIAL_WINDOW);
    expect(sim.fc.window).toBeGreaterThan(sim.bdp);
  });

  it("exits startup after window growth plateaus", () => {
    const sim = new LinkSimulator();
    expect(sim.fc.inStartupPhase).toBe(true);
    sim.saturateFor(sim.rtt * 50);
    expect(sim.fc.inStartupPhase).toBe(false);
  });

  it("steady-state window converges near BDP", () => {
    const sim = new LinkSimulator();
    sim.saturateFor(sim.rtt * 50);
    expect(sim.fc.inStartupPhase).toBe(false);
    // About 25 % above the bandwidth-delay product, and stable there.
    expect(sim.fc.window).toBeGreaterThan(sim.bdp * 1.2);
    expect(sim.fc.window).toBeLessThan(sim.bdp * 1.3);
    sim.saturateFor(sim.rtt * 20);
    expect(sim.fc.window).toBeGreaterThan(sim.bdp * 1.2);
    expect(sim.fc.window).toBeLessThan(sim.bdp * 1.3);
  });

  it("window does not shrink when app-limited", () => {
    const sim = new LinkSimulator();
    sim.saturateFor(sim.rtt * 50);
    const established = sim.fc.window;
    for (let i = 0; i < 50; i++) {
      sim.send(1024);
      sim.waitForNextAck();
    }
    expect(sim.fc.window).toStrictEqual(established);
  });

  it("window shrinks when pipe bandwidth decreases", () => {
    const sim = new LinkSimulator();
    sim.saturateFor(sim.rtt * 50);
    expect(sim.fc.inStartupPhase).toBe(false);
    expect(sim.fc.window).toBeGreaterThan(sim.bdp);
    sim.bandwidth /= 4;
    sim.saturateFor(sim.rtt * 200);
    expect(sim.fc.window).toBeLessThan(sim.bdp * 2);
  });

  it("onError restores bytesInFlight without changing window", () => {
    const sim = new LinkSimulator();
    const { token } = sim.fc.onSend(64 * 1024);
    expect(sim.fc.bytesInFlight).toBe(64 * 1024);
    const before = sim.fc.window;
    sim.fc.onError(token);
    expect(sim.fc.bytesInFlight).toBe(0);
    expect(sim.fc.window).toBe(before);
  });

  it("growth collar limits window increase to growthFactor per RTT", () => {
    const sim = new LinkSimulator();
    sim.fillWindow(64 * 1024);
    sim.waitForNextAck();
    const before = sim.fc.window;
    sim.fillWindow(64 * 1024);
    while (sim.inFlight.length > 0) sim.waitForNextAck();
    // At most doubling per round trip during startup.
    expect(sim.fc.window).toBeLessThanOrEqual(before * 2 + 1);
  });

  it("minimum window is enforced", () => {
    const sim = new LinkSimulator();
    sim.rtt = 1;
    sim.bandwidth = 1;
    sim.saturateFor(10_000_000);
    expect(sim.fc.window).toStrictEqual(MIN_WINDOW);
  });

  // Not in capnweb's suite: a clock that cannot see the round trip (two answers in the same
  // tick, as with a coarse browser clock) must not switch flow control off.
  it("a clock too coarse to measure keeps the window a number within its bounds", () => {
    const fc = new FlowController(() => 5);
    const tokens = [0, 1, 2, 3].map(() => fc.onSend(64 * 1024).token);
    for (const token of tokens) fc.onAck(token);
    expect(Number.isFinite(fc.window)).toBe(true);
    expect(fc.window).toBeGreaterThanOrEqual(MIN_WINDOW);
    expect(fc.onSend(fc.window).shouldBlock).toBe(true);
  });
});

// -----------------------------------------------------------------------------------------------

class ObjectTransport implements compat.RpcTransportWithCustomEncoding {
  readonly encodingLevel = "jsonCompatible" as const;
  partner!: ObjectTransport;
  sends = 0;
  private readonly queue: unknown[] = [];
  private waiter: (() => void) | undefined;
  private fenced = false;

  constructor(private readonly reportedSize?: number) {}

  send(message: unknown): number | void {
    this.sends++;
    this.partner.queue.push(JSON.parse(JSON.stringify(message)));
    if (!this.partner.fenced) this.partner.wake();
    return this.reportedSize;
  }
  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
  async receive(): Promise<unknown> {
    while (this.queue.length === 0 || this.fenced) await new Promise<void>((resolve) => (this.waiter = resolve));
    return this.queue.shift();
  }
  fence(): void {
    this.fenced = true;
  }
  releaseFence(): void {
    this.fenced = false;
    if (this.queue.length > 0) this.wake();
  }
}

/** Our writer on the server side; the client is ours or capnweb's. */
function pairOverObjects(client: "compat" | "capnweb", serverReportedSize?: number) {
  const clientTransport = new ObjectTransport();
  const serverTransport = new ObjectTransport(serverReportedSize);
  clientTransport.partner = serverTransport;
  serverTransport.partner = clientTransport;
  const writer = windowFiller(COMPAT);
  new compat.RpcSession(serverTransport, writer.target);
  const session = client === "compat" ? new compat.RpcSession(clientTransport) : new capnweb.RpcSession(clientTransport as never);
  const stub: any = session.getRemoteMain();
  return { stub, clientTransport, serverTransport, writesSent: writer.writesSent };
}

/** A sink that counts what reaches it. */
function countingSink() {
  let writes = 0;
  let closed = false;
  const stream = new WritableStream<string>({ write: () => void writes++, close: () => void (closed = true) });
  return { stream, seen: () => ({ writes, closed }) };
}

async function untilStill(count: () => number): Promise<void> {
  for (;;) {
    const before = count();
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (count() === before) return;
  }
}

for (const client of ["compat", "capnweb"] as const) {
  describe(`WritableStream over RPC (our writer, ${client} reader, custom-encoding transport)`, () => {
    /**
     * Our server writes 20 chunks of 40 KB while the reader's side holds back what it receives
     * (no answer can come); `whileHeld` looks at how far the writer got. Then everything arrives.
     */
    async function writeWhileHeld(reportedSize: number | undefined, whileHeld: (writesSent: number, transportSends: number) => void) {
      const { stream, seen } = countingSink();
      const pair = pairOverObjects(client, reportedSize);
      pair.clientTransport.fence();
      const call = pair.stub.receiveStream(stream);
      await untilStill(pair.writesSent);
      whileHeld(pair.writesSent(), pair.serverTransport.sends);
      expect(seen()).toEqual({ writes: 0, closed: false });
      pair.clientTransport.releaseFence();
      await call;
      expect(seen()).toEqual({ writes: 20, closed: true });
      pair.stub[Symbol.dispose]();
    }

    it("applies backpressure when custom transport omits stream message size", async () => {
      await writeWhileHeld(undefined, (writesSent) => {
        // Sized by the frame's length when the transport does not say: the window fills.
        expect(writesSent).toBeGreaterThan(1);
        expect(writesSent).toBeLessThan(20);
      });
    });

    it("uses the size reported by a custom transport's send() for flow control", async () => {
      await writeWhileHeld(10, (writesSent, transportSends) => {
        // Ten bytes a write never fills the window: every write left without an answer.
        expect(writesSent).toBe(20);
        expect(transportSends).toBeGreaterThan(0);
      });
    });
  });
}
