// The server end of capnweb's HTTP batch, as pieces a request handler puts together: read the
// body, split it into frames, run a session over HttpBatchServerTransport, answer responseBody().

import type { IncomingMessage } from "node:http";
import { CapnWebError } from "../protocol/errors.js";
import { Inbox, localCloseError } from "./inbox.js";
import type { Transport, TransportHandler } from "./transport.js";

/**
 * Reads a whole request body as UTF-8. Past `maxBytes` it rejects with a "protocol" error and lets
 * the rest of the body drain unread, so the caller can still answer (413) on the same connection.
 */
export function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;

    const settle = (error: CapnWebError | undefined): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      if (error === undefined) resolve(Buffer.concat(chunks, size).toString());
      else reject(error);
    };
    const tooLarge = (): void => {
      settle(new CapnWebError("protocol", "Request body too large"));
      // Without a 'data' listener a paused request would stall; resume() discards what is left.
      req.resume();
    };
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > maxBytes) tooLarge();
      else chunks.push(buffer);
    };
    const onEnd = (): void => settle(undefined);
    const onError = (err: Error): void =>
      settle(new CapnWebError("disconnected", `Request body aborted: ${err.message}`, { cause: err }));
    const onClose = (): void => settle(new CapnWebError("disconnected", "Request body aborted"));

    if (Number(req.headers["content-length"]) > maxBytes) {
      tooLarge();
      return;
    }
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

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

  /** Delivers every request frame, in order, before returning. */
  start(handler: TransportHandler): void {
    this.#inbox.start(handler);
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
