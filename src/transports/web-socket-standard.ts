// Cap'n Web over the platform's own WebSocket (WHATWG): browsers, Web Workers, and any runtime
// with a global WebSocket. One text message per frame, like the `ws` transport; a binary message
// ends the session, as capnweb does (the protocol is text).
//
// What the platform API cannot do, this transport does not pretend to: it sends no headers on
// the upgrade (a browser cannot; put a token in the URL, or authenticate with a call), and it
// cannot ping, so a dead network is noticed only when the browser notices it.

import { CapnWebError } from "../protocol/errors.js";
import { Inbox, localCloseError } from "./inbox.js";
import type { Transport, TransportHandler } from "./transport.js";
import type { OpenWebSocketOptions } from "./open-websocket.js";

// RFC 6455 section 5.5: a close frame's reason is at most 123 bytes of UTF-8.
const MAX_CLOSE_REASON_BYTES = 123;

/** The part of the WHATWG WebSocket this transport uses. */
export interface StandardWebSocket {
  readonly readyState: number;
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
  addEventListener(type: "open", listener: () => void): void;
  removeEventListener(type: string, listener: (...args: never[]) => void): void;
}

interface StandardWebSocketClass {
  new (url: string): StandardWebSocket;
}

const OPEN = 1;
const CLOSED = 3;

export class StandardWebSocketTransport implements Transport {
  readonly kind = "websocket";
  readonly #socket: StandardWebSocket;
  readonly #inbox = new Inbox();
  #closing = false;

  /** `socket` must be open already. */
  constructor(socket: StandardWebSocket) {
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", this.#onMessage);
    socket.addEventListener("close", this.#onClose);
    socket.addEventListener("error", this.#onError);
    if (socket.readyState === CLOSED) this.#inbox.end(new CapnWebError("disconnected", "WebSocket already closed"));
  }

  start(handler: TransportHandler): void {
    this.#inbox.start(handler);
  }

  send(frame: string): void {
    if (this.#socket.readyState === OPEN) this.#socket.send(frame);
  }

  close(reason?: Error): void {
    if (this.#closing) return;
    this.#closing = true;
    try {
      if (reason === undefined) this.#socket.close(1000);
      else this.#socket.close(3000, truncateUtf8(reason.message, MAX_CLOSE_REASON_BYTES));
    } catch {
      // Closing a socket that never opened throws in some browsers; it is closed either way.
    }
    this.#inbox.stop(localCloseError(reason));
  }

  /** The platform API has no pings: nothing to start. */
  startHeartbeat(_intervalMs: number): void {}

  #onMessage = (event: { data: unknown }): void => {
    if (typeof event.data === "string") {
      this.#inbox.frame(event.data);
      return;
    }
    // The session aborts (telling the peer) after the frames before it, as with the `ws` transport.
    this.#inbox.violation(new CapnWebError("protocol", "Received a binary WebSocket message; Cap'n Web messages are text."));
  };

  #onClose = (event: { code: number; reason: string }): void => {
    this.#inbox.end(CapnWebError.ofLifecycle("disconnected", `Peer closed WebSocket: ${event.code} ${event.reason}`));
  };

  #onError = (): void => {
    this.#inbox.end(CapnWebError.ofLifecycle("disconnected", "WebSocket failed"));
  };
}

/** Connects with the platform's WebSocket; resolves once the socket is open. */
export function openStandardWebSocket(url: string, options: OpenWebSocketOptions = {}): Promise<StandardWebSocketTransport> {
  const WebSocketClass = (globalThis as { WebSocket?: StandardWebSocketClass }).WebSocket;
  if (!WebSocketClass) return Promise.reject(new CapnWebError("unsupported", "This runtime has no WebSocket."));
  if (options.headers && Object.keys(options.headers).length > 0) {
    return Promise.reject(
      new CapnWebError(
        "invalid_argument",
        "The platform's WebSocket cannot send headers on the upgrade: put the credential in the URL, or authenticate with a call.",
      ),
    );
  }
  return new Promise((resolve, reject) => {
    let socket: StandardWebSocket;
    try {
      socket = new WebSocketClass(url);
    } catch (error) {
      reject(new CapnWebError("invalid_argument", `Invalid WebSocket URL ${url}: ${(error as Error).message}`, { cause: error }));
      return;
    }
    const settle = (error: CapnWebError | undefined): void => {
      clearTimeout(timer);
      socket.removeEventListener("open", onOpen);
      socket.removeEventListener("error", onError);
      socket.removeEventListener("close", onClose);
      if (error === undefined) {
        resolve(new StandardWebSocketTransport(socket));
        return;
      }
      try {
        socket.close();
      } catch {
        // not open yet
      }
      reject(error);
    };
    const onOpen = (): void => settle(undefined);
    const onError = (): void => settle(new CapnWebError("disconnected", `Could not connect to ${url}`));
    const onClose = (event: { code: number }): void => settle(new CapnWebError("disconnected", `Could not connect to ${url}: closed with code ${event.code} before opening`));
    const timer =
      options.timeout === undefined
        ? undefined
        : setTimeout(() => settle(new CapnWebError("timeout", `Could not connect to ${url}: no answer within ${options.timeout} ms`)), options.timeout);
    socket.addEventListener("open", onOpen);
    socket.addEventListener("error", onError);
    socket.addEventListener("close", onClose);
  });
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  // `stream: true` holds back a cut multi-byte character instead of emitting U+FFFD.
  return new TextDecoder().decode(bytes.subarray(0, maxBytes), { stream: true });
}
