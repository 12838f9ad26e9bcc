// Reconnect schedules. "exponential" doubles (by `factor`) from `baseDelay` up to `maxDelay`,
// with full jitter on every attempt so that a thousand clients that lost the same server do not
// come back in lockstep; "constant" waits `baseDelay` (jittered too); `false` never retries.

export type BackoffKind = "exponential" | "constant" | false;

export interface BackoffOptions {
  strategy?: BackoffKind;
  /** First delay, ms (default 100). */
  baseDelay?: number;
  /** Largest delay, ms (default 30,000). */
  maxDelay?: number;
  /** Growth per attempt for "exponential" (default 2). */
  factor?: number;
  /**
   * Share of each delay that is random, 0..1 (default 0.5): the delay is drawn uniformly from
   * [d·(1-jitter), d]. 0 gives exact delays (tests), 1 is "full jitter".
   */
  jitter?: number;
  /** Attempts before giving up (default Infinity). */
  maxAttempts?: number;
  /** A connection that stayed up this long (ms) resets the attempt count (default 5,000). */
  resetAfter?: number;
}

export class Backoff {
  readonly strategy: BackoffKind;
  readonly baseDelay: number;
  readonly maxDelay: number;
  readonly factor: number;
  readonly jitter: number;
  readonly maxAttempts: number;
  readonly resetAfter: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.strategy = options.strategy ?? "exponential";
    if (this.strategy !== "exponential" && this.strategy !== "constant" && this.strategy !== false) {
      throw new RangeError(`Unknown reconnect strategy ${String(this.strategy)} ("exponential", "constant" or false).`);
    }
    this.baseDelay = nonNegative("baseDelay", options.baseDelay ?? 100);
    this.maxDelay = nonNegative("maxDelay", options.maxDelay ?? 30_000);
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.5;
    this.maxAttempts = options.maxAttempts ?? Infinity;
    this.resetAfter = nonNegative("resetAfter", options.resetAfter ?? 5_000);
    if (!(this.factor >= 1)) throw new RangeError(`backoff factor must be >= 1, got ${this.factor}`);
    if (!(this.jitter >= 0 && this.jitter <= 1)) throw new RangeError(`backoff jitter must be within 0..1, got ${this.jitter}`);
    if (!(this.maxAttempts >= 0)) throw new RangeError(`maxAttempts must be >= 0, got ${this.maxAttempts}`);
    if (this.baseDelay > this.maxDelay) throw new RangeError(`baseDelay ${this.baseDelay} exceeds maxDelay ${this.maxDelay}`);
  }

  /** Whether attempt number `attempt` (1 = the first retry) may be made. */
  allows(attempt: number): boolean {
    return this.strategy !== false && attempt <= this.maxAttempts;
  }

  /** The unjittered delay before retry number `attempt` (1-based). */
  nominalDelay(attempt: number): number {
    if (this.strategy === "constant") return this.baseDelay;
    return Math.min(this.maxDelay, this.baseDelay * this.factor ** Math.max(0, attempt - 1));
  }

  /** The delay to wait before retry number `attempt`, jitter applied. */
  delay(attempt: number): number {
    const nominal = this.nominalDelay(attempt);
    return Math.round(nominal * (1 - this.jitter * this.random()));
  }
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  return value;
}
