// Cap'n Web over a MessagePort (node:worker_threads or web MessageChannel): one string per frame.
// Like capnweb's messageport transport, a posted `null` means "this side is closing", because a
// web MessagePort does not reliably tell its peer that it was closed.

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

export class MessagePortTransport implements Transport {
  readonly kind = "message-port";
  readonly #port: MessagePortLike;
  readonly #inbox = new Inbox();
  #closing = false;

  constructor(port: MessagePortLike) {
    this.#port = port;
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
    if (!this.#closing) this.#port.postMessage(frame);
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
    else this.close(new CapnWebError("protocol", `MessagePort received a non-string message (${typeof data})`));
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
