// capnweb 0.12's __tests__/limits.test.ts, ported against `capnweb-otp/capnweb`: the receiver-side
// limits on bigint length, nesting depth and message size, for standalone deserialize and for a
// session fed one hostile frame. Each `it` keeps the name of the capnweb case it comes from.
//
// Documented difference: an abort's message is in our words. capnweb says "bigint exceeds maximum
// length", "maximum allowed message depth" and "exceeds maximum size"; ours says "bigint exceeds
// the limit of N digits", "Message nests deeper than the limit of N" and "Message of N characters
// exceeds the limit of M". The cases below match ours, and say which limit broke.

import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, DEFAULT_MAX_DEPTH, RpcSession, RpcTarget, deserialize, serialize, type RpcLimits, type RpcTransport } from "../../src/capnweb.js";

const BIGINT_TOO_LONG = /bigint exceeds the limit of \d+ digits/;
const TOO_DEEP = /nests deeper than the limit of \d+/;
const TOO_LARGE = /exceeds the limit of \d+/;

/** `depth` escaped-array layers around the number 1: each adds one level of decoding. */
const nestedEscapedArrays = (depth: number) => `${"[[".repeat(depth)}1${"]]".repeat(depth)}`;

/** A call whose only argument is another call, `depth` times over. */
const nestedCallArgs = (depth: number) => `["pipeline",0,["echo"],[`.repeat(depth) + "1" + "]]".repeat(depth);

/** Feeds a session the frames given, then nothing; records what it sends back. */
class ScriptedTransport implements RpcTransport {
  readonly sent: string[] = [];
  aborted = false;
  private readonly toReceive: string[];

  constructor(frames: string[]) {
    this.toReceive = [...frames];
  }

  async send(message: string): Promise<void> {
    this.sent.push(message);
  }

  receive(): Promise<string> {
    const next = this.toReceive.shift();
    return next === undefined ? new Promise<string>(() => {}) : Promise.resolve(next);
  }

  abort(): void {
    this.aborted = true;
  }

  async waitForAbort(): Promise<string> {
    for (let i = 0; i < 200; i++) {
      const frame = this.sent.find((message) => message.startsWith('["abort"'));
      if (frame !== undefined) return frame;
      await Promise.resolve();
    }
    throw new Error(`session did not abort; sent: ${JSON.stringify(this.sent)}`);
  }

  async expectNoAbort(): Promise<void> {
    for (let i = 0; i < 50; i++) await Promise.resolve();
    expect(this.sent.find((message) => message.startsWith('["abort"')), "session unexpectedly aborted").toBeUndefined();
    expect(this.aborted, "transport unexpectedly aborted").toBe(false);
  }
}

class EchoTarget extends RpcTarget {
  echo(value: unknown) {
    return value;
  }
}

function pushFrame(expression: string, limits?: Partial<RpcLimits>): ScriptedTransport {
  const transport = new ScriptedTransport([`["push",${expression}]`]);
  new RpcSession(transport, new EchoTarget(), limits ? { limits } : undefined);
  return transport;
}

describe("bigint deserialization limits", () => {
  it("accepts a decimal bigint at the default digit limit", () => {
    const digits = "9".repeat(DEFAULT_LIMITS.maxBigIntDigits);
    expect(deserialize(`["bigint","${digits}"]`)).toBe(BigInt(digits));
  });

  it("rejects a bigint over the default digit limit", () => {
    const digits = "9".repeat(DEFAULT_LIMITS.maxBigIntDigits + 1);
    expect(() => deserialize(`["bigint","${digits}"]`)).toThrowError(BIGINT_TOO_LONG);
  });

  it("round-trips bigints through the decimal wire format", () => {
    for (const value of [0n, 255n, -255n, (1n << 4096n) + 123456789n, -((1n << 4096n) + 123456789n)]) {
      const wire = serialize(value);
      expect(wire).toMatch(/^\["bigint","-?[0-9]+"\]$/);
      expect(deserialize(wire)).toBe(value);
    }
  });

  it("accepts decimal bigint strings", () => {
    expect(deserialize('["bigint","123"]')).toBe(123n);
    expect(deserialize('["bigint","-123"]')).toBe(-123n);
  });

  it("honors a per-session override of maxBigIntDigits", async () => {
    await pushFrame('["bigint","1234"]', { maxBigIntDigits: 4 }).expectNoAbort();
    expect(await pushFrame('["bigint","12345"]', { maxBigIntDigits: 4 }).waitForAbort()).toMatch(BIGINT_TOO_LONG);
    // The sign counts towards the length, as in capnweb.
    await pushFrame('["bigint","-123"]', { maxBigIntDigits: 4 }).expectNoAbort();
    expect(await pushFrame('["bigint","-1234"]', { maxBigIntDigits: 4 }).waitForAbort()).toMatch(BIGINT_TOO_LONG);
    await pushFrame('["bigint","12345"]').expectNoAbort();
  });
});

describe("message depth limits", () => {
  it("accepts nesting just under the default depth limit", () => {
    expect(deserialize(nestedEscapedArrays(DEFAULT_LIMITS.maxDepth - 1))).toBeInstanceOf(Array);
  });

  it("rejects nesting over the default depth limit", () => {
    expect(() => deserialize(nestedEscapedArrays(DEFAULT_LIMITS.maxDepth + 5))).toThrowError(TOO_DEEP);
  });

  it("honors a per-session override of maxDepth", async () => {
    const deep = nestedEscapedArrays(10);
    expect(await pushFrame(deep, { maxDepth: 4 }).waitForAbort()).toMatch(TOO_DEEP);
    await pushFrame(deep).expectNoAbort();
  });

  it("does not reset depth across nested call arguments", async () => {
    expect(await pushFrame(nestedCallArgs(8), { maxDepth: 8 }).waitForAbort()).toMatch(TOO_DEEP);
  });

  it("accepts nested call arguments within the default depth limit", async () => {
    await pushFrame(nestedCallArgs(64)).expectNoAbort();
  });

  it("accepts near-limit call arguments that the default sender can serialize", async () => {
    const appArg = deserialize(nestedEscapedArrays(DEFAULT_MAX_DEPTH - 2));
    const wireArgs = JSON.parse(serialize([appArg]))[0];
    await pushFrame(`["pipeline",0,["echo"],${JSON.stringify(wireArgs)}]`).expectNoAbort();
  });
});

describe("message size limits", () => {
  it("aborts the session on a message over the size limit", async () => {
    expect(await pushFrame(`"${"a".repeat(200)}"`, { maxMessageSize: 64 }).waitForAbort()).toMatch(TOO_LARGE);
  });

  it("does not abort on a message under the size limit", async () => {
    await pushFrame('"small"', { maxMessageSize: 1024 }).expectNoAbort();
  });
});

/** Two sessions of the compatible entry joined in memory. */
function sessionPair(target: RpcTarget, options?: { limits?: Partial<RpcLimits> }): any {
  const queues: [string[], string[]] = [[], []];
  const waiters: [(() => void) | undefined, (() => void) | undefined] = [undefined, undefined];
  const end = (me: 0 | 1): RpcTransport => ({
    async send(message) {
      const other = (1 - me) as 0 | 1;
      queues[other].push(message);
      const wake = waiters[other];
      waiters[other] = undefined;
      wake?.();
    },
    async receive() {
      while (queues[me].length === 0) await new Promise<void>((resolve) => (waiters[me] = resolve));
      return queues[me].shift()!;
    },
  });
  const client = new RpcSession(end(0));
  new RpcSession(end(1), target, options);
  return client.getRemoteMain();
}

describe("limits backwards compatibility", () => {
  it("DEFAULT_LIMITS has the documented values", () => {
    expect(DEFAULT_MAX_DEPTH).toBe(256);
    expect({ ...DEFAULT_LIMITS }).toStrictEqual({ maxBigIntDigits: 16384, maxDepth: DEFAULT_MAX_DEPTH, maxMessageSize: 32 * 1024 * 1024 });
  });

  it("standalone deserialize round-trips normal values unchanged with no config", () => {
    expect(deserialize('["bigint","123"]')).toBe(123n);
    expect(deserialize(serialize(12345678901234567890n))).toBe(12345678901234567890n);
    expect(deserialize("[[[[123,456]]]]")).toStrictEqual([[123, 456]]);
    expect(deserialize('{"foo":{"bar":123}}')).toStrictEqual({ foo: { bar: 123 } });
  });

  it("a session constructed with no options behaves exactly as before", async () => {
    const stub = sessionPair(new EchoTarget());
    expect(await stub.echo(123n)).toBe(123n);
    expect(await stub.echo([[1, 2, 3]])).toStrictEqual([[1, 2, 3]]);
    expect(await stub.echo({ a: { b: { c: 1 } } })).toStrictEqual({ a: { b: { c: 1 } } });
  });

  it("a session constructed with an empty options object behaves identically", async () => {
    const stub = sessionPair(new EchoTarget(), {});
    expect(await stub.echo(999n)).toBe(999n);
  });
});
