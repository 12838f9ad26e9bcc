// The server end of capnweb's HTTP batch, as pieces a request handler puts together: read the
// body, split it into frames, run a session over HttpBatchServerTransport, answer responseBody().

import type { IncomingMessage } from "node:http";
import { CapnWebError } from "../protocol/errors.js";
import { DEFAULT_LIMITS, type Limits, limitExceeded } from "../protocol/limits.js";
import { Inbox, localCloseError } from "./inbox.js";
import type { Transport, TransportHandler } from "./transport.js";

export type BatchBodyLimits = Pick<Limits, "maxBatchBytes" | "maxBatchLines" | "bodyTimeout">;

/**
 * Reads a whole request body as UTF-8, counting bytes and lines as they arrive. Past a limit it
 * rejects with a "limit" error naming the limit and lets the rest drain unread, so the caller can
 * still answer (413) on the same connection; a body not over by `bodyTimeout` (one that never
 * ends) rejects then, or is cut off then if it is still draining. A number is `maxBatchBytes`.
 */
export function readRequestBody(req: IncomingMessage, limitsOrMaxBytes: BatchBodyLimits | number): Promise<string> {
  const limits: BatchBodyLimits =
    typeof limitsOrMaxBytes === "number" ? { ...DEFAULT_LIMITS, maxBatchBytes: limitsOrMaxBytes } : limitsOrMaxBytes;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let lines = 1;

    let settled = false;
    const settle = (error: CapnWebError | undefined): void => {
      settled = true;
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      if (error === undefined) resolve(Buffer.concat(chunks, size).toString());
      else reject(error);
    };
    const refuse = (error: CapnWebError): void => {
      chunks.length = 0;
      settle(error);
      // Without a 'data' listener a paused request would stall; resume() discards what is left.
      req.resume();
    };
    const tooLarge = (): void =>
      refuse(limitExceeded("maxBatchBytes", `Request body too large: over the limit of ${limits.maxBatchBytes} bytes.`));
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > limits.maxBatchBytes) return tooLarge();
      for (let at = buffer.indexOf(NEWLINE); at !== -1; at = buffer.indexOf(NEWLINE, at + 1)) lines++;
      if (lines > limits.maxBatchLines) {
        return refuse(limitExceeded("maxBatchLines", `The batch has more than ${limits.maxBatchLines} lines.`));
      }
      chunks.push(buffer);
    };
    const onEnd = (): void => settle(undefined);
    const onError = (err: Error): void =>
      settle(new CapnWebError("disconnected", `Request body aborted: ${err.message}`, { cause: err }));
    const onClose = (): void => settle(new CapnWebError("disconnected", "Request body aborted"));

    const timer = setTimeout(() => {
      if (!settled) refuse(limitExceeded("bodyTimeout", `The batch body did not arrive whole within ${limits.bodyTimeout} ms.`));
      else if (!req.complete) req.destroy();
    }, limits.bodyTimeout);
    const disarm = (): void => clearTimeout(timer);
    req.once("end", disarm);
    req.once("close", disarm);
    if (Number(req.headers["content-length"]) > limits.maxBatchBytes) {
      tooLarge();
      return;
    }
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

const NEWLINE = 0x0a;

/** The frames of a batch body: one per line, none for an empty body. */
export function splitBatch(body: string): string[] {
  return body === "" ? [] : body.split("\n");
}

export class HttpBatchServerTransport implements Transport {
  readonly kind = "http-batch";
  readonly #inbox = new Inbox();
  readonly #outgoing: string[] = [];

  constructor(frames: readonly string[]) {
    for (const frame of frames) this.#inbox.frame(frame);
  }

  /** Delivers the request frames in order: at once, or over several turns when they are costly. */
  start(handler: TransportHandler): void {
    this.#inbox.start(handler);
  }

  /** Resolves once every request frame has been handled. */
  delivered(): Promise<void> {
    return this.#inbox.idle();
  }

  send(frame: string): void {
    if (!this.#inbox.ended) this.#outgoing.push(frame);
  }

  responseBody(): string {
    return this.#outgoing.join("\n");
  }

  close(reason?: Error): void {
    this.#inbox.stop(localCloseError(reason));
  }
}
