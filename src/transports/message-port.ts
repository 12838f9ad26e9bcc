// Cap'n Web over a MessagePort (node:worker_threads or web MessageChannel): one string per frame.
// Like capnweb's messageport transport, a posted `null` means "this side is closing", because a
// web MessagePort does not reliably tell its peer that it was closed.

import { toBase64 } from "../platform/bytes.js";
import { CapnWebError } from "../protocol/errors.js";
import { Inbox, localCloseError } from "./inbox.js";
import type { Transport, TransportHandler } from "./transport.js";

/** The part of MessagePort used here; Node's and the web's both fit. */
export interface MessagePortLike {
  postMessage(message: unknown): void;
  close(): void;
  start?(): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

/**
 * How frames are posted: "string" (one JSON string per frame, between capnweb-otp peers), or
 * "structured" (the parsed tree, as capnweb 0.12's own MessagePort transport posts and expects).
 * Both forms are understood on receipt.
 */
export type MessagePortEncoding = "string" | "structured";

export class MessagePortTransport implements Transport {
  readonly kind = "message-port";
  readonly #port: MessagePortLike;
  readonly #inbox = new Inbox();
  readonly #encoding: MessagePortEncoding;
  #closing = false;

  constructor(port: MessagePortLike, encoding: MessagePortEncoding = "string") {
    this.#port = port;
    this.#encoding = encoding;
    port.addEventListener("message", this.#onMessage);
    port.addEventListener("messageerror", this.#onMessageError);
    // Node (and newer browsers) also report a port closed without the `null` goodbye.
    port.addEventListener("close", this.#onClose);
    // addEventListener, unlike onmessage, does not start a web port's message queue.
    port.start?.();
  }

  start(handler: TransportHandler): void {
    this.#inbox.start(handler);
  }

  send(frame: string): void {
    if (!this.#closing) this.#port.postMessage(this.#encoding === "string" ? frame : JSON.parse(frame));
  }

  close(reason?: Error): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#port.postMessage(null);
    this.#port.close();
    this.#inbox.stop(localCloseError(reason));
  }

  #onMessage = (event: Event): void => {
    const data: unknown = (event as MessageEvent).data;
    if (typeof data === "string") this.#inbox.frame(data);
    else if (data === null) this.#peerClosed("Peer closed MessagePort connection.");
    else if (Array.isArray(data)) {
      let frame: string;
      try {
        frame = JSON.stringify(toWireForm(data, 0));
      } catch (error) {
        this.close(error instanceof CapnWebError ? error : new CapnWebError("protocol", "MessagePort message cannot be read as a Cap'n Web frame.", { cause: error }));
        return;
      }
      this.#inbox.frame(frame);
    } else this.close(new CapnWebError("protocol", `MessagePort received a message that is not a frame (${typeof data})`));
  };

  #onMessageError = (): void => {
    this.close(new CapnWebError("protocol", "MessagePort message could not be deserialized"));
  };

  #onClose = (): void => {
    this.#peerClosed("MessagePort closed");
  };

  #peerClosed(message: string): void {
    if (this.#closing || this.#inbox.ended) return;
    this.#closing = true;
    // No goodbye back: the peer is gone. Closing our end releases the port's event-loop handle.
    this.#port.close();
    this.#inbox.end(new CapnWebError("disconnected", message));
  }
}

/**
 * A structured-clone frame (capnweb's "structuredClonable" level keeps Date, bigint, undefined,
 * non-finite numbers and raw bytes as native values) rewritten into the JSON wire form, so that the
 * session reads one form only. Depth is bounded here, before the session's own limit applies.
 */
function toWireForm(value: unknown, depth: number): unknown {
  if (depth > 512) throw new CapnWebError("protocol", "MessagePort message nests too deeply.");
  switch (typeof value) {
    case "undefined":
      return ["undefined"];
    case "number":
      return Number.isFinite(value) ? value : value === Infinity ? ["inf"] : value === -Infinity ? ["-inf"] : ["nan"];
    case "bigint":
      return ["bigint", value.toString()];
    case "object":
      if (value === null) return null;
      if (Array.isArray(value)) return value.map((item) => toWireForm(item, depth + 1));
      if (value instanceof Date) return ["date", Number.isNaN(value.getTime()) ? null : value.getTime()];
      // Only inside a ["bytes", raw, marker?] tuple; the wire form carries base64 without padding.
      if (value instanceof Uint8Array) return toBase64(value).replace(/=+$/, "");
      if (Object.getPrototypeOf(value) === Object.prototype) {
        const out: Record<string, unknown> = {};
        for (const key of Object.keys(value)) out[key] = toWireForm((value as Record<string, unknown>)[key], depth + 1);
        return out;
      }
      throw new CapnWebError("protocol", `MessagePort message holds a ${(value as object).constructor?.name ?? "value"} that no frame can.`);
    default:
      return value;
  }
}
