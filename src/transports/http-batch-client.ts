// The client end of capnweb's HTTP batch: everything sent before the next macrotask goes out as
// one POST (frames joined by "\n"); the response lines are the peer's frames, and then the
// transport ends, since the batch is over.

import { nextMacrotask } from "../platform/macrotask.js";
import { CapnWebError } from "../protocol/errors.js";
import { Inbox, localCloseError } from "./inbox.js";
import type { Transport, TransportHandler } from "./transport.js";

export interface HttpBatchOptions {
  headers?: Record<string, string>;
  /** Milliseconds for the whole exchange, response body included. */
  timeout?: number;
}

export interface ExchangeBatchOptions extends HttpBatchOptions {
  /** Aborts the request; the promise then rejects with a "disconnected" error. */
  signal?: AbortSignal;
}

/** POSTs one batch and returns the frames of the response. Rejects with a CapnWebError. */
export async function exchangeBatch(url: string, frames: string[], options: ExchangeBatchOptions = {}): Promise<string[]> {
  const signal = combineSignals(options.signal, options.timeout);
  let body: string;
  try {
    const response = await fetch(url, { method: "POST", body: frames.join("\n"), headers: options.headers, signal });
    if (!response.ok) {
      // Not read: cancelling frees the connection without waiting for the body.
      response.body?.cancel().catch(ignore);
      throw new CapnWebError("disconnected", `RPC request failed: ${response.status} ${response.statusText}`);
    }
    body = await response.text();
  } catch (err) {
    throw requestError(url, err, options.timeout);
  }
  return body === "" ? [] : body.split("\n");
}

// The normal end of every batch: made once (an error's stack is the costly part).
let batchEnded: CapnWebError | undefined;

export class HttpBatchClientTransport implements Transport {
  readonly kind = "http-batch";
  readonly #url: string;
  readonly #options: HttpBatchOptions;
  readonly #inbox = new Inbox();
  // Undefined once the batch has gone out: later sends cannot reach the peer any more.
  #outgoing: string[] | undefined = [];
  #abort: AbortController | undefined;
  #ended = false;

  constructor(url: string, options: HttpBatchOptions = {}) {
    this.#url = url;
    this.#options = options;
    // A full macrotask, not a microtask: the application needs its turns of the microtask queue to
    // call .then() on every promise whose result it wants before the batch is cut.
    nextMacrotask(this.#flush);
  }

  /**
   * True once the whole response was delivered. `closed` then reports the "disconnected" error
   * "HTTP batch request ended", which is the normal end of a batch, not a failure.
   */
  get ended(): boolean {
    return this.#ended;
  }

  /** True once the batch has gone out: later frames could not reach the peer. */
  get sent(): boolean {
    return this.#outgoing === undefined;
  }

  start(handler: TransportHandler): void {
    this.#inbox.start(handler);
  }

  send(frame: string): void {
    this.#outgoing?.push(frame);
  }

  close(reason?: Error): void {
    if (this.#inbox.ended) return;
    this.#outgoing = undefined;
    this.#abort?.abort();
    this.#inbox.stop(localCloseError(reason));
  }

  #flush = async (): Promise<void> => {
    const frames = this.#outgoing;
    this.#outgoing = undefined;
    if (frames === undefined) return; // closed before the batch was cut
    const abort = (this.#abort = new AbortController());
    let replies: string[];
    try {
      replies = await exchangeBatch(this.#url, frames, { ...this.#options, signal: abort.signal });
    } catch (err) {
      this.#inbox.end(err as CapnWebError);
      return;
    }
    this.#abort = undefined;
    if (this.#inbox.ended) return;
    for (const frame of replies) this.#inbox.frame(frame);
    if (this.#inbox.ended) return; // the handler closed us while reading the replies
    this.#ended = true;
    this.#inbox.end((batchEnded ??= new CapnWebError("disconnected", "HTTP batch request ended")));
  };
}

function combineSignals(signal: AbortSignal | undefined, timeout: number | undefined): AbortSignal | undefined {
  if (timeout === undefined) return signal;
  const timer = AbortSignal.timeout(timeout);
  return signal === undefined ? timer : AbortSignal.any([signal, timer]);
}

function requestError(url: string, err: unknown, timeout: number | undefined): CapnWebError {
  if (err instanceof CapnWebError) return err;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === "TimeoutError") {
    return new CapnWebError("timeout", `HTTP batch request to ${url} timed out after ${timeout} ms`, { cause: err });
  }
  // fetch says only "fetch failed"; the reason (ECONNREFUSED, ...) is in its cause.
  const inner = (err as { cause?: { message?: unknown } } | null)?.cause?.message;
  const message = err instanceof Error ? err.message : String(err);
  const detail = typeof inner === "string" && inner !== "" ? `${message} (${inner})` : message;
  return new CapnWebError("disconnected", `HTTP batch request to ${url} failed: ${detail}`, { cause: err });
}

function ignore(): void {}
