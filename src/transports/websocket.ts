// Cap'n Web over a `ws` WebSocket: one text message per frame.

import WebSocket from "ws";
import type { Duplex } from "node:stream";
import { CapnWebError } from "../protocol/errors.js";
import { Inbox, localCloseError } from "./inbox.js";
import type { Transport, TransportHandler } from "./transport.js";
import { type OpenWebSocketOptions, installWebSocketOpener } from "./open-websocket.js";

/**
 * A Cap'n Web message may be 32 Mi UTF-16 code units, and one code unit takes up to 3 bytes of
 * UTF-8: 96 MiB, plus room for framing. Use this as `maxPayload` of a WebSocketServer too.
 */
export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;

// RFC 6455 section 5.5: a control frame payload is at most 125 bytes, 2 of which hold the code.
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * A `ws` WebSocket, as far as this transport uses one. Declared here rather than taken from `ws`'s
 * types, so that an application type-checks against our declarations without `@types/ws`.
 */
export interface NodeWebSocket {
  readonly readyState: number;
  on(event: "message", listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown;
  on(event: "close", listener: (code: number, reason: Buffer) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "pong", listener: () => void): unknown;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  ping(): void;
  terminate(): void;
}

export class WebSocketTransport implements Transport {
  readonly kind = "websocket";
  readonly #socket: WebSocket;
  readonly #inbox = new Inbox();
  #closing = false;
  #corked: Duplex | undefined;

  /** `socket` must be open already (a server socket, or a client socket after 'open'). */
  constructor(ws: NodeWebSocket) {
    const socket = ws as WebSocket;
    this.#socket = socket;
    socket.on("message", this.#onMessage);
    socket.on("close", this.#onClose);
    // Stays attached for the socket's whole life: an 'error' with no listener would throw.
    socket.on("error", this.#onError);
    // Its 'close' event has been and gone; without this the end would never be reported.
    if (socket.readyState === WebSocket.CLOSED) this.#inbox.end(new CapnWebError("disconnected", "WebSocket already closed"));
  }

  start(handler: TransportHandler): void {
    this.#inbox.start(handler);
  }

  send(frame: string): void {
    const socket = this.#socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (this.#corked === undefined) {
      // The frames one callback produces, with all the microtasks it sets off, leave as one TCP
      // write: the release of an answer and the next call that the application makes on reading
      // it share a write, and the peer wakes once. The write goes out when that callback's
      // microtasks have drained (a tick queued from a microtask runs only after the microtask
      // queue is empty), not at setImmediate: on a server with many sockets, setImmediate would
      // hold every answer until all the reads of that event-loop turn were handled.
      // Only where `ws` is the real package: Bun's built-in `ws` has no `_socket` to cork, and
      // each of its sends is a write of its own.
      const raw = (socket as unknown as { _socket?: Partial<Duplex> })._socket;
      if (raw !== undefined && typeof raw.cork === "function") {
        raw.cork();
        this.#corked = raw as Duplex;
        queueMicrotask(this.#uncorkWhenDrained);
      }
    }
    socket.send(frame);
  }

  close(reason?: Error): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#stopHeartbeat();
    if (reason === undefined) this.#socket.close(1000);
    else this.#socket.close(3000, truncateReason(reason.message));
    this.#inbox.stop(localCloseError(reason));
  }

  #uncorkWhenDrained = (): void => {
    process.nextTick(this.#uncork);
  };

  #uncork = (): void => {
    const raw = this.#corked!;
    this.#corked = undefined;
    raw.uncork();
  };

  #onMessage = (data: WebSocket.RawData): void => {
    // Text arrives as a Buffer too (binaryType "nodebuffer"); both decode as UTF-8.
    if (Buffer.isBuffer(data)) this.#inbox.frame(data.toString());
    else if (Array.isArray(data)) this.#inbox.frame(Buffer.concat(data).toString());
    else this.#inbox.frame(Buffer.from(data).toString());
  };

  #onClose = (code: number, reason: Buffer): void => {
    this.#stopHeartbeat();
    this.#inbox.end(CapnWebError.ofLifecycle("disconnected", `Peer closed WebSocket: ${code} ${reason.toString()}`));
  };

  #heartbeat: NodeJS.Timeout | undefined;
  #awaitingPong = false;

  /**
   * Pings the peer every `intervalMs`; a peer that has not answered the previous ping by then is
   * taken as gone (a dead network closes nothing by itself) and the transport ends "disconnected".
   */
  startHeartbeat(intervalMs: number): void {
    if (this.#heartbeat || !(intervalMs > 0)) return;
    this.#socket.on("pong", this.#onPong);
    this.#heartbeat = setInterval(() => {
      if (this.#awaitingPong) {
        this.#stopHeartbeat();
        this.#socket.terminate();
        this.#inbox.end(new CapnWebError("disconnected", `No answer to a WebSocket ping within ${intervalMs} ms: the connection is gone.`));
        return;
      }
      this.#awaitingPong = true;
      try {
        this.#socket.ping();
      } catch {
        // A socket that cannot ping is closing; its close event ends the transport.
      }
    }, intervalMs);
    this.#heartbeat.unref();
  }

  #onPong = (): void => {
    this.#awaitingPong = false;
  };

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #onError = (err: Error): void => {
    this.#inbox.end(CapnWebError.ofLifecycle("disconnected", `WebSocket failed: ${err.message}`, { cause: err }));
  };
}

/** The close reason capnweb 0.12 sends on abort: the message cut to fit a close frame. */
function truncateReason(message: string): string {
  if (Buffer.byteLength(message) <= MAX_CLOSE_REASON_BYTES) return message;
  const bytes = Buffer.from(message).subarray(0, MAX_CLOSE_REASON_BYTES);
  // `stream: true` holds back a cut multi-byte character instead of emitting U+FFFD.
  return new TextDecoder().decode(bytes, { stream: true });
}

export type { OpenWebSocketOptions } from "./open-websocket.js";

/** Connects to a Cap'n Web WebSocket endpoint; resolves once the socket is open. */
export function openWebSocket(url: string, options: OpenWebSocketOptions = {}): Promise<WebSocketTransport> {
  return new Promise((resolve, reject) => {
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, {
        headers: options.headers,
        maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        perMessageDeflate: false,
      });
    } catch (err) {
      reject(new CapnWebError("invalid_argument", `Invalid WebSocket URL ${url}: ${(err as Error).message}`, { cause: err }));
      return;
    }

    const settle = (error: CapnWebError | undefined): void => {
      clearTimeout(timer);
      socket.off("open", onOpen);
      socket.off("error", onError);
      socket.off("unexpected-response", onResponse);
      socket.off("close", onClose);
      if (error === undefined) {
        resolve(new WebSocketTransport(socket));
        return;
      }
      // Aborting a handshake makes ws emit one more 'error' on the next tick.
      socket.on("error", ignore);
      socket.terminate();
      reject(error);
    };
    const fail = (reason: string, cause?: unknown): void =>
      settle(new CapnWebError("disconnected", `Could not connect to ${url}: ${reason}`, { cause }));

    const onOpen = (): void => settle(undefined);
    const onError = (err: Error): void => fail(err.message, err);
    const onResponse = (_req: unknown, res: { statusCode?: number; statusMessage?: string }): void =>
      fail(`HTTP ${res.statusCode} ${res.statusMessage ?? ""}`.trimEnd());
    const onClose = (code: number): void => fail(`closed with code ${code} before opening`);
    const timer =
      options.timeout === undefined
        ? undefined
        : setTimeout(
            () => settle(new CapnWebError("timeout", `Could not connect to ${url}: no answer within ${options.timeout} ms`)),
            options.timeout,
          );

    socket.on("open", onOpen);
    socket.on("error", onError);
    socket.on("unexpected-response", onResponse);
    socket.on("close", onClose);
  });
}

function ignore(): void {}

// Loading this module (the Node entry does) makes clients connect with `ws`.
installWebSocketOpener(openWebSocket);
