// Shared test doubles: a handler that records what a transport reports, and promise helpers.

import type { CapnWebError } from "../../src/protocol/errors.js";
import type { TransportHandler } from "../../src/transports/transport.js";

export interface Recorder {
  readonly handler: TransportHandler;
  readonly frames: string[];
  /** Every `closed` call, to check it happened exactly once. */
  readonly closedCalls: Array<CapnWebError | undefined>;
  /** Resolves with the error of the first `closed` call. */
  readonly closed: Promise<CapnWebError | undefined>;
  /** Resolves once `count` frames have arrived. */
  waitFrames(count: number): Promise<string[]>;
}

export function recorder(): Recorder {
  const frames: string[] = [];
  const closedCalls: Array<CapnWebError | undefined> = [];
  const waiters: Array<{ count: number; resolve: (frames: string[]) => void }> = [];
  let resolveClosed!: (error: CapnWebError | undefined) => void;
  const closed = new Promise<CapnWebError | undefined>((resolve) => (resolveClosed = resolve));

  const handler: TransportHandler = {
    frame(text) {
      frames.push(text);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (frames.length >= waiters[i]!.count) waiters.splice(i, 1)[0]!.resolve(frames);
      }
    },
    closed(error) {
      closedCalls.push(error);
      resolveClosed(error);
    },
  };

  return {
    handler,
    frames,
    closedCalls,
    closed,
    waitFrames(count) {
      if (frames.length >= count) return Promise.resolve(frames);
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
  };
}

/** One full macrotask, enough for setImmediate work queued before it. */
export const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
