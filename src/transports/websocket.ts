// Cap'n Web over a `ws` WebSocket: one text message per frame.

import WebSocket from "ws";
import type { Duplex } from "node:stream";
import { CapnWebError } from "../protocol/errors.js";
import { DEFAULT_LIMITS, type Limits, limitExceeded } from "../protocol/limits.js";
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
  readonly bufferedAmount: number;
  send(data: string | Buffer, options?: { binary?: boolean }): void;
  pause(): void;
  resume(): void;
  close(code?: number, reason?: string): void;
  ping(): void;
  terminate(): void;
}

/**
 * Frames from this many code units up go to the socket as UTF-8 bytes. A string handed to a
 * socket stays referenced until it is written while Node copies it into a native buffer of its
 * own: twice the memory for as long as a peer does not read. Bytes are written as they are.
 */
const LARGE_FRAME = 64 * 1024;
const AS_TEXT = { binary: false } as const;

export type WebSocketLimits = Pick<Limits, "maxSendBuffer" | "pauseReadingAbove">;

export interface WebSocketTransportOptions {
  /** Bounds on what waits to be sent (default: DEFAULT_LIMITS). */
  limits?: WebSocketLimits;
  /**
   * Stop reading the peer while more than `pauseReadingAbove` waits to be sent to it (a server
   * does: what a peer that does not read asks for next would only add to it). Only one side of
   * a connection may do this, or two peers that both send faster than the other reads would
   * each wait for the other forever; a client always reads.
   */
  pauseReadingWhenBehind?: boolean;
}

export class WebSocketTransport implements Transport {
  readonly kind = "websocket";
  readonly #socket: WebSocket;
  readonly #inbox = new Inbox(this);
  readonly #limits: WebSocketLimits;
  #closing = false;
  #corked: Duplex | undefined;
  #pausedToYield = false;
  #pausedForBackpressure = false;
  #messages = 0;
  readonly #pausesWhenBehind: boolean;

  /** `socket` must be open already (a server socket, or a client socket after 'open'). */
  constructor(ws: NodeWebSocket, options: WebSocketTransportOptions = {}) {
    const socket = ws as WebSocket;
    this.#socket = socket;
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    this.#pausesWhenBehind = options.pauseReadingWhenBehind ?? false;
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
    const buffered = socket.bufferedAmount;
    if (buffered > this.#limits.pauseReadingAbove) {
      if (buffered + frame.length > this.#limits.maxSendBuffer) {
        this.#overflow(buffered);
        return;
      }
      // What the peer asks for next would only add to what it does not read.
      if (this.#pausesWhenBehind && !this.#pausedForBackpressure) this.#pauseReading("backpressure", true);
    }
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
    if (frame.length < LARGE_FRAME) socket.send(frame);
    else socket.send(Buffer.from(frame), AS_TEXT);
  }

  /** Flow control of the inbox: it holds frames back for a later turn and stops reading meanwhile. */
  pause(): void {
    this.#pauseReading("yield", true);
  }

  resume(): void {
    this.#pauseReading("yield", false);
  }

  #pauseReading(why: "yield" | "backpressure", paused: boolean): void {
    if (why === "yield") this.#pausedToYield = paused;
    else {
      this.#pausedForBackpressure = paused;
      if (paused) this.#whenDrained();
    }
    const socket = this.#socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (this.#pausedToYield || this.#pausedForBackpressure) socket.pause();
    else socket.resume();
  }

  #whenDrained(): void {
    (this.#socket as unknown as { _socket?: Duplex })._socket?.once("drain", () => {
      if (this.#socket.bufferedAmount > this.#limits.pauseReadingAbove) this.#whenDrained();
      else this.#pauseReading("backpressure", false);
    });
  }

  /** The peer left more unread than the limit allows: drop the connection and what it holds. */
  #overflow(buffered: number): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#stopHeartbeat();
    const error = limitExceeded(
      "maxSendBuffer",
      `The peer does not read: ${buffered} bytes wait to be sent, over the limit of ${this.#limits.maxSendBuffer}.`,
    );
    this.#socket.terminate();
    // Not from inside the session's own send: it learns of the end once its current job is done.
    queueMicrotask(() => this.#inbox.end(error));
  }

  close(reason?: Error): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#stopHeartbeat();
    // Paused to yield or for backpressure: the peer's answer to our close frame must be read.
    this.#pausedToYield = this.#pausedForBackpressure = false;
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.resume();
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

  #onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    this.#messages++;
    if (isBinary) {
      // Cap'n Web is a text protocol, and ws checks UTF-8 only in text frames: capnweb aborts here.
      this.#inbox.violation(new CapnWebError("protocol", "Received a binary WebSocket frame; Cap'n Web messages are text."));
      return;
    }
    // Answers may leave later than the requests that asked for them arrive: stop taking more
    // requests while the answers to earlier ones are still unsent.
    if (this.#pausesWhenBehind && !this.#pausedForBackpressure && this.#socket.bufferedAmount > this.#limits.pauseReadingAbove) {
      this.#pauseReading("backpressure", true);
    }
    // Text arrives as a Buffer (binaryType "nodebuffer"), already checked to be valid UTF-8.
    if (Buffer.isBuffer(data)) this.#inbox.frame(data.toString());
    else if (Array.isArray(data)) this.#inbox.frame(Buffer.concat(data).toString());
    else this.#inbox.frame(Buffer.from(data).toString());
  };

  #onClose = (code: number, reason: Buffer): void => {
    this.#stopHeartbeat();
    this.#inbox.end(CapnWebError.ofLifecycle("disconnected", `Peer closed WebSocket: ${code} ${reason.toString()}`));
  };

  #heartbeat: Heartbeat | undefined;
  /** Bytes read from the peer when the last ping went out; -1 before the first ping. */
  #readAtPing = -1;
  #unfinishedSince = -1;
  /** Bytes the kernel had taken at the last beat while paused for backpressure; -1 when not paused then. */
  #flushedAtBeat = -1;

  /**
   * Pings the peer every `intervalMs` (or on the beat of a shared Heartbeat, as a server does for
   * all its peers with one timer); a peer that has not answered the previous ping by then is
   * taken as gone (a dead network closes nothing by itself) and the transport ends "disconnected".
   */
  startHeartbeat(intervalOrGroup: number | Heartbeat): void {
    if (this.#heartbeat || this.#closing) return;
    const group = typeof intervalOrGroup === "number" ? (intervalOrGroup > 0 ? new Heartbeat(intervalOrGroup) : undefined) : intervalOrGroup;
    if (!group) return;
    this.#heartbeat = group;
    // Where `ws` has no socket whose bytes can be counted (Bun's built-in `ws`), pongs are counted.
    if ((this.#socket as unknown as { _socket?: unknown })._socket === undefined) this.#socket.on("pong", this.#onPong);
    group.add(this);
  }

  #pongs = 0;
  #onPong = (): void => {
    this.#pongs++;
  };

  /** One beat of the heartbeat: the end of a silent or stuck peer, or the next ping. */
  beat(intervalMs: number): void {
    if (this.#pausedForBackpressure || this.#pausedToYield) {
      // We are not reading, so its pong cannot arrive; what counts is whether it reads from us:
      // whether the kernel took any of our bytes since the last beat.
      this.#readAtPing = -1;
      const raw = (this.#socket as unknown as { _socket?: { bytesWritten: number; writableLength: number } })._socket;
      const flushed = raw ? raw.bytesWritten - raw.writableLength : 0;
      if (this.#pausedForBackpressure && this.#flushedAtBeat === flushed) {
        this.#end(limitExceeded("heartbeatInterval", `The peer read nothing of ${this.#socket.bufferedAmount} waiting bytes for ${intervalMs} ms.`));
        return;
      }
      this.#flushedAtBeat = this.#pausedForBackpressure ? flushed : -1;
      return;
    }
    this.#flushedAtBeat = -1;
    // Anything read since the ping (its pong, or any other frame) shows the peer is there: the
    // byte count says so without a listener per socket.
    const raw = (this.#socket as unknown as { _socket?: { bytesRead: number } })._socket;
    const read = raw ? raw.bytesRead : this.#pongs + this.#messages;
    if (this.#readAtPing === read) {
      this.#end(new CapnWebError("disconnected", `No answer to a WebSocket ping within ${intervalMs} ms: the connection is gone.`));
      return;
    }
    // A peer can start a fragmented message, answer every ping and never finish it: what it
    // sent so far is held. One whole interval with the same message unfinished ends it.
    if (this.#isMidMessage()) {
      if (this.#unfinishedSince === this.#messages) {
        this.#end(limitExceeded("heartbeatInterval", `A WebSocket message stayed unfinished for over ${intervalMs} ms.`));
        return;
      }
      this.#unfinishedSince = this.#messages;
    } else {
      this.#unfinishedSince = -1;
    }
    this.#readAtPing = read;
    try {
      this.#socket.ping();
    } catch {
      // A socket that cannot ping is closing; its close event ends the transport.
    }
  }

  /** Drops the connection (and what it buffers) and ends the transport with `error`. */
  #end(error: CapnWebError): void {
    this.#closing = true;
    this.#stopHeartbeat();
    this.#socket.terminate();
    this.#inbox.end(error);
  }

  #isMidMessage(): boolean {
    // ws keeps no public record of a message being received; its receiver's does.
    const receiver = (this.#socket as unknown as { _receiver?: { _fragments?: unknown[]; _totalPayloadLength?: number } })._receiver;
    // (Bun's built-in `ws` has no receiver: there the check is skipped.)
    return receiver != null && ((receiver._fragments?.length ?? 0) > 0 || (receiver._totalPayloadLength ?? 0) > 0);
  }

  #stopHeartbeat(): void {
    this.#heartbeat?.delete(this);
    this.#heartbeat = undefined;
  }

  #onError = (err: Error): void => {
    this.#inbox.end(CapnWebError.ofLifecycle("disconnected", `WebSocket failed: ${err.message}`, { cause: err }));
  };
}

/** One timer beating for many transports (a server's peers): no timer per connection. */
export class Heartbeat {
  readonly #members = new Set<WebSocketTransport>();
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly intervalMs: number) {}

  add(transport: WebSocketTransport): void {
    this.#members.add(transport);
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      for (const member of [...this.#members]) member.beat(this.intervalMs);
    }, this.intervalMs);
    this.#timer.unref();
  }

  delete(transport: WebSocketTransport): void {
    this.#members.delete(transport);
    if (this.#members.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
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
