// Reconnect schedules: exponential growth up to the cap, constant, jitter bounds (with an injected
// random), maxAttempts, strategy false, and validation of the options.

import { describe, expect, it } from "vitest";
import { Backoff, type BackoffOptions } from "../../src/supervisor/backoff.js";

const exact = (options: BackoffOptions) => new Backoff({ jitter: 0, ...options });

describe("Backoff", () => {
  it("has the documented defaults", () => {
    const b = new Backoff();
    expect(b).toMatchObject({ strategy: "exponential", baseDelay: 100, maxDelay: 30_000, factor: 2, jitter: 0.5, maxAttempts: Infinity, resetAfter: 5_000 });
  });

  describe("exponential", () => {
    it("grows by factor from baseDelay, 1-based", () => {
      const b = exact({ baseDelay: 100, maxDelay: 1e9 });
      expect([1, 2, 3, 4, 5].map((n) => b.delay(n))).toEqual([100, 200, 400, 800, 1600]);
      expect([1, 2, 3].map((n) => b.nominalDelay(n))).toEqual([100, 200, 400]);
    });

    it("uses a custom factor", () => {
      const b = exact({ baseDelay: 10, factor: 3, maxDelay: 1e9 });
      expect([1, 2, 3, 4].map((n) => b.delay(n))).toEqual([10, 30, 90, 270]);
      const flat = exact({ baseDelay: 10, factor: 1 });
      expect([1, 5, 50].map((n) => flat.delay(n))).toEqual([10, 10, 10]);
    });

    it("is capped at maxDelay, even for huge attempt numbers", () => {
      const b = exact({ baseDelay: 100, maxDelay: 1_000 });
      expect([1, 2, 3, 4, 5, 6].map((n) => b.delay(n))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
      expect(b.delay(10_000)).toBe(1_000);
      expect(b.nominalDelay(Number.MAX_SAFE_INTEGER)).toBe(1_000);
    });

    it("never goes below baseDelay for attempt 0 or less", () => {
      const b = exact({ baseDelay: 100 });
      expect(b.nominalDelay(0)).toBe(100);
      expect(b.nominalDelay(-3)).toBe(100);
    });

    it("is non-decreasing", () => {
      const b = exact({ baseDelay: 7, factor: 1.5, maxDelay: 5_000 });
      const delays = Array.from({ length: 40 }, (_, i) => b.delay(i + 1));
      for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
      expect(delays.at(-1)).toBe(5_000);
    });
  });

  it("constant waits baseDelay every time", () => {
    const b = exact({ strategy: "constant", baseDelay: 250 });
    expect([1, 2, 10, 1_000].map((n) => b.delay(n))).toEqual([250, 250, 250, 250]);
    expect(b.allows(1_000)).toBe(true);
  });

  describe("jitter", () => {
    it("random() = 0 gives the nominal delay", () => {
      const b = new Backoff({ baseDelay: 100, jitter: 0.5 }, () => 0);
      expect([1, 2, 3].map((n) => b.delay(n))).toEqual([100, 200, 400]);
    });

    it("random() close to 1 gives the bottom of [d·(1-jitter), d]", () => {
      const b = new Backoff({ baseDelay: 1_000, jitter: 0.5, maxDelay: 1e9 }, () => 0.999);
      expect(b.delay(1)).toBe(Math.round(1_000 * (1 - 0.5 * 0.999)));
      expect(b.delay(1)).toBeGreaterThanOrEqual(500);
      expect(b.delay(1)).toBeLessThan(1_000);
      expect(b.delay(3)).toBe(Math.round(4_000 * (1 - 0.5 * 0.999)));
    });

    it("full jitter (1) can go down to 0; no jitter is exact whatever random() says", () => {
      const full = new Backoff({ baseDelay: 1_000, jitter: 1 }, () => 0.999);
      expect(full.delay(1)).toBe(1);
      const none = new Backoff({ baseDelay: 1_000, jitter: 0 }, () => 0.999);
      expect(none.delay(1)).toBe(1_000);
    });

    it("stays within [d·(1-jitter), d] for any random() in [0, 1)", () => {
      const samples = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999];
      for (const jitter of [0, 0.2, 0.5, 1]) {
        for (const r of samples) {
          const b = new Backoff({ baseDelay: 100, maxDelay: 10_000, jitter }, () => r);
          for (let attempt = 1; attempt <= 10; attempt++) {
            const d = b.nominalDelay(attempt);
            const delay = b.delay(attempt);
            expect(delay).toBeGreaterThanOrEqual(Math.floor(d * (1 - jitter)));
            expect(delay).toBeLessThanOrEqual(d);
            expect(Number.isInteger(delay)).toBe(true);
          }
        }
      }
    });

    it("applies to the cap and to constant too", () => {
      expect(new Backoff({ baseDelay: 100, maxDelay: 400, jitter: 0.5 }, () => 0.999).delay(10)).toBe(Math.round(400 * 0.5005));
      expect(new Backoff({ strategy: "constant", baseDelay: 100, jitter: 0.5 }, () => 0.999).delay(3)).toBe(50);
    });

    it("uses Math.random by default, within bounds", () => {
      const b = new Backoff({ baseDelay: 1_000, jitter: 0.5 });
      for (let i = 0; i < 100; i++) {
        const delay = b.delay(1);
        expect(delay).toBeGreaterThanOrEqual(500);
        expect(delay).toBeLessThanOrEqual(1_000);
      }
    });
  });

  describe("allows", () => {
    it("maxAttempts bounds the attempts (1-based)", () => {
      const b = new Backoff({ maxAttempts: 3 });
      expect([1, 2, 3, 4, 100].map((n) => b.allows(n))).toEqual([true, true, true, false, false]);
    });

    it("maxAttempts 0 allows no retry; the default allows any", () => {
      expect(new Backoff({ maxAttempts: 0 }).allows(1)).toBe(false);
      expect(new Backoff().allows(1e9)).toBe(true);
    });

    it("strategy false never retries", () => {
      const b = new Backoff({ strategy: false });
      expect(b.strategy).toBe(false);
      expect([0, 1, 2, 100].map((n) => b.allows(n))).toEqual([false, false, false, false]);
    });
  });

  describe("validation", () => {
    it.each<[string, BackoffOptions]>([
      ["negative baseDelay", { baseDelay: -1 }],
      ["NaN baseDelay", { baseDelay: Number.NaN }],
      ["infinite baseDelay", { baseDelay: Infinity }],
      ["negative maxDelay", { maxDelay: -5 }],
      ["infinite maxDelay", { maxDelay: Infinity }],
      ["negative resetAfter", { resetAfter: -1 }],
      ["factor below 1", { factor: 0.5 }],
      ["NaN factor", { factor: Number.NaN }],
      ["negative jitter", { jitter: -0.1 }],
      ["jitter above 1", { jitter: 1.5 }],
      ["NaN jitter", { jitter: Number.NaN }],
      ["negative maxAttempts", { maxAttempts: -1 }],
      ["NaN maxAttempts", { maxAttempts: Number.NaN }],
      ["baseDelay above maxDelay", { baseDelay: 2_000, maxDelay: 1_000 }],
    ])("rejects %s with a RangeError", (_, options) => {
      expect(() => new Backoff(options)).toThrow(RangeError);
    });

    it("accepts the edges: zero delays, factor 1, jitter 0 and 1, baseDelay = maxDelay", () => {
      expect(() => new Backoff({ baseDelay: 0, maxDelay: 0, factor: 1, jitter: 0, maxAttempts: 0, resetAfter: 0 })).not.toThrow();
      expect(() => new Backoff({ jitter: 1 })).not.toThrow();
      expect(() => new Backoff({ baseDelay: 500, maxDelay: 500 })).not.toThrow();
      expect(new Backoff({ baseDelay: 0, maxDelay: 0, jitter: 0 }).delay(5)).toBe(0);
    });

    it("rejects an unknown strategy (as Supervisor rejects an unknown strategy)", () => {
      expect(() => new Backoff({ strategy: "linear" as never })).toThrow(RangeError);
    });
  });
});
