// Byte streams for the stream tests and the bench: a source that counts what it has produced (so
// that "produced − consumed" measures what the pipe between them holds), readers that count and
// hash what they take, optionally slowly, and a sink that does the same. No RPC here: both ends
// of a test or a bench case use these around whichever implementation carries the bytes.

import { createHash, randomFillSync, type Hash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

export const MiB = 1024 * 1024;
export const CHUNK_BYTES = 64 * 1024;

export const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

export interface CountingSource {
  stream: ReadableStream<Uint8Array>;
  /** Bytes the stream has handed to whoever reads it so far. */
  produced(): number;
  /** sha256 (hex) of everything produced; complete once the stream has closed. */
  digest(): string;
  /** Resolves with the reason when the consumer cancels the stream (a pipe that broke does). */
  cancelled: Promise<unknown>;
}

export interface SourceOptions {
  chunkBytes?: number;
  /**
   * "random": every chunk fresh random bytes, hashed (for checksums). "fixed": one zero-filled
   * chunk handed out again and again, not hashed (for throughput: the cost is the transfer).
   */
  content?: "random" | "fixed";
  /** Error the stream after this many bytes instead of closing it at the end. */
  failAfter?: number;
}

/**
 * A pull source with highWaterMark 0: a chunk is made only when the consumer asks, so
 * `produced()` is exactly what has left the source, never a read-ahead of the stream itself.
 */
export function countingSource(totalBytes: number, options: SourceOptions = {}): CountingSource {
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const hash: Hash | undefined = options.content === "fixed" ? undefined : createHash("sha256");
  const fixed = options.content === "fixed" ? new Uint8Array(chunkBytes) : undefined;
  let produced = 0;
  let digest: string | undefined;
  let onCancel!: (reason: unknown) => void;
  const cancelled = new Promise<unknown>((resolve) => (onCancel = resolve));
  const stream = new ReadableStream<Uint8Array>(
    {
      cancel: (reason) => onCancel(reason),
      pull(controller) {
        if (options.failAfter !== undefined && produced >= options.failAfter) {
          controller.error(new Error(`source failed on purpose after ${produced} bytes`));
          return;
        }
        if (produced >= totalBytes) {
          digest = hash?.digest("hex");
          controller.close();
          return;
        }
        const size = Math.min(chunkBytes, totalBytes - produced);
        const chunk = fixed ? (size === chunkBytes ? fixed : fixed.subarray(0, size)) : randomFillSync(new Uint8Array(size));
        hash?.update(chunk);
        produced += size;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return {
    stream,
    produced: () => produced,
    cancelled,
    digest() {
      if (digest === undefined) throw new Error("the source has not finished (or is fixed content, which is not hashed)");
      return digest;
    },
  };
}

export interface Drained {
  bytes: number;
  chunks: number;
  /** sha256 (hex) of everything read. */
  sha256: string;
}

export interface DrainOptions {
  /** Wait this long after each chunk (a slow reader). */
  delayMs?: number;
  /** Stop (and cancel the stream) after this many chunks. */
  maxChunks?: number;
  /** Called after each chunk with the running totals. */
  onChunk?(bytes: number, chunks: number): void | Promise<void>;
  /** Skip hashing (throughput). */
  hash?: boolean;
}

/** Reads `stream` to its end (or `maxChunks`), counting and hashing. Rejects with the stream's error. */
export async function drain(stream: ReadableStream<Uint8Array>, options: DrainOptions = {}): Promise<Drained> {
  const hash = options.hash === false ? undefined : createHash("sha256");
  const reader = stream.getReader();
  let bytes = 0;
  let chunks = 0;
  try {
    for (;;) {
      if (options.maxChunks !== undefined && chunks >= options.maxChunks) {
        await reader.cancel("the reader has read enough");
        break;
      }
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      chunks++;
      hash?.update(value);
      await options.onChunk?.(bytes, chunks);
      if (options.delayMs) await sleep(options.delayMs);
    }
  } finally {
    reader.releaseLock();
  }
  return { bytes, chunks, sha256: hash?.digest("hex") ?? "" };
}

export interface CountingSink {
  stream: WritableStream<Uint8Array>;
  /** Resolves when the writer closed the stream; rejects when it aborted it. */
  closed: Promise<Drained>;
  received(): number;
}

/** A WritableStream that counts and (unless told not to) hashes what is written into it. */
export function countingSink(options: { hash?: boolean; delayMs?: number } = {}): CountingSink {
  const hash = options.hash === false ? undefined : createHash("sha256");
  let bytes = 0;
  let chunks = 0;
  let settle!: { resolve(d: Drained): void; reject(e: unknown): void };
  const closed = new Promise<Drained>((resolve, reject) => (settle = { resolve, reject }));
  closed.catch(() => {});
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      bytes += chunk.byteLength;
      chunks++;
      hash?.update(chunk);
      if (options.delayMs) await sleep(options.delayMs);
    },
    close() {
      settle.resolve({ bytes, chunks, sha256: hash?.digest("hex") ?? "" });
    },
    abort(reason) {
      settle.reject(reason);
    },
  });
  return { stream, closed, received: () => bytes };
}

/** Writes `totalBytes` into `stream` in chunks and closes it; the sha256 of what was written. */
export async function writeAll(stream: WritableStream<Uint8Array>, totalBytes: number, options: SourceOptions = {}): Promise<string> {
  const source = countingSource(totalBytes, options);
  await source.stream.pipeTo(stream);
  return options.content === "fixed" ? "" : source.digest();
}
