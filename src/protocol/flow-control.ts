// Sender-side flow control of a stream to a remote WritableStream, with capnweb 0.12's rules (its
// FlowController), so that our writer and capnweb's fill a pipe the same way.
//
// Every write is one `["stream", ...]` message whose answer arrives once the remote writer took
// the chunk. The bytes of unanswered writes are "in flight"; while they reach the window, the
// writer is blocked. The window follows the bandwidth-delay product: delivered bytes per ms,
// measured between answers, times the smallest round trip seen, times a growth factor (2 while
// starting up, 1.25 after). A window that was full when a write left decays by at most 10 % per
// answer, so a slow reader shrinks it to the floor; one that was not full never shrinks (an
// application that writes little is not a slow pipe). Bounds: 64 KiB ≤ window ≤ 1 GiB, 256 KiB
// at first. Startup ends after three round trips in which the window grew by less than 1.25×.

export const INITIAL_WINDOW = 256 * 1024;
export const MIN_WINDOW = 64 * 1024;
export const MAX_WINDOW = 1024 * 1024 * 1024;
const STARTUP_GROWTH = 2;
const STEADY_GROWTH = 1.25;
const DECAY = 0.9;
const ROUNDS_TO_LEAVE_STARTUP = 3;

/** What the controller remembers of one write until it is answered (or failed). */
export interface SendToken {
  readonly sentAt: number;
  readonly size: number;
  /** Bytes answered, and when the last answer came, as of this send. */
  readonly deliveredAtSend: number;
  readonly deliveredTimeAtSend: number;
  readonly windowAtSend: number;
  readonly windowFullAtSend: boolean;
}

export class FlowController {
  window = INITIAL_WINDOW;
  bytesInFlight = 0;
  inStartupPhase = true;
  private delivered = 0;
  private deliveredTime = 0;
  private firstAckTime = 0;
  private firstAckDelivered = 0;
  private minRtt = Infinity;
  private roundsWithoutGrowth = 0;
  private lastRoundWindow = 0;
  private roundStart = 0;

  /** `now` is a clock in milliseconds (performance.now in use, a fake one in tests). */
  constructor(private readonly now: () => number) {}

  /** A write of `size` bytes leaves; `shouldBlock` says the writer must wait for an answer. */
  onSend(size: number): { token: SendToken; shouldBlock: boolean } {
    this.bytesInFlight += size;
    const token: SendToken = {
      sentAt: this.now(),
      size,
      deliveredAtSend: this.delivered,
      deliveredTimeAtSend: this.deliveredTime,
      windowAtSend: this.window,
      windowFullAtSend: this.bytesInFlight >= this.window,
    };
    return { token, shouldBlock: token.windowFullAtSend };
  }

  /** A write failed: its bytes are no longer in flight, and it says nothing about the pipe. */
  onError(token: SendToken): void {
    this.bytesInFlight -= token.size;
  }

  /** A write was answered. Returns whether the writer may go on (bytes in flight < window). */
  onAck(token: SendToken): boolean {
    const now = this.now();
    this.delivered += token.size;
    this.deliveredTime = now;
    this.bytesInFlight -= token.size;
    this.minRtt = Math.min(this.minRtt, now - token.sentAt);
    if (this.firstAckTime === 0) {
      // One answer gives a round trip but no rate yet.
      this.firstAckTime = now;
      this.firstAckDelivered = this.delivered;
      return this.bytesInFlight < this.window;
    }
    // The rate over the interval since the last answer before this write left (or since the first
    // answer, for writes that left before any came back).
    const sinceFirst = token.deliveredTimeAtSend === 0;
    const baseTime = sinceFirst ? this.firstAckTime : token.deliveredTimeAtSend;
    const baseDelivered = sinceFirst ? this.firstAckDelivered : token.deliveredAtSend;
    const bandwidth = (this.delivered - baseDelivered) / (now - baseTime);
    const growth = this.inStartupPhase ? STARTUP_GROWTH : STEADY_GROWTH;
    // A clock too coarse to see the interval or the round trip gives Infinity × 0: read it as
    // "no limit seen", so that the collar below decides (capnweb would make the window NaN).
    const estimate = bandwidth * this.minRtt * growth;
    let next = Math.min(Number.isNaN(estimate) ? Infinity : estimate, token.windowAtSend * growth);
    next = token.windowFullAtSend ? Math.max(next, token.windowAtSend * DECAY) : Math.max(next, this.window);
    this.window = Math.max(Math.min(next, MAX_WINDOW), MIN_WINDOW);
    if (this.inStartupPhase && token.sentAt >= this.roundStart) {
      if (this.window > this.lastRoundWindow * STEADY_GROWTH) this.roundsWithoutGrowth = 0;
      else if (++this.roundsWithoutGrowth >= ROUNDS_TO_LEAVE_STARTUP) this.inStartupPhase = false;
      this.roundStart = now;
      this.lastRoundWindow = this.window;
    }
    return this.bytesInFlight < this.window;
  }
}
