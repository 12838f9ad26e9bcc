// The receiving half every transport shares: frames that arrive before start() wait here, the end
// of the transport is reported exactly once, after the frames that preceded it, and long work
// yields: once the frames of one event-loop turn have kept the handler busy for a slice, the rest
// wait for a later turn (and the transport stops reading meanwhile), so that one session's
// expensive frames cannot stall every other session on the process.

import { CapnWebError } from "../protocol/errors.js";
import { nextMacrotask } from "../platform/macrotask.js";
import type { TransportHandler } from "./transport.js";

/** Handler time after which the frames still to come wait for a later event-loop turn. */
export const WORK_SLICE_MS = 20;

export interface InboxFlow {
  /** Stop reading from the medium: frames are being held back for a later turn. */
  pause(): void;
  /** The held-back frames are all delivered; reading may go on. */
  resume(): void;
}

const nextTurn = nextMacrotask;
const now = (): number => performance.now();

// Handler time spent in the current turn, by all inboxes together: it is the process's turn that
// must end, whichever sessions filled it.
let spent = 0;
let lastFrameEnd = 0;

export class Inbox {
  #handler: TransportHandler | undefined;
  // Defined while frames wait: before start(), and while yielding to other work.
  #backlog: string[] | undefined = [];
  #ended = false;
  #error: CapnWebError | undefined;
  /** The end is the peer's fault: the session aborts (and tells the peer) rather than closes. */
  #violation = false;
  #endDelivered = false;
  #yielding = false;
  #paused = false;
  #idle: (() => void)[] | undefined;

  constructor(private readonly flow?: InboxFlow) {}

  /** True once no further frames will be accepted. */
  get ended(): boolean {
    return this.#ended;
  }

  start(handler: TransportHandler): void {
    if (this.#backlog === undefined || this.#handler !== undefined) return;
    this.#handler = handler;
    this.#drain();
  }

  frame(text: string): void {
    if (this.#ended) return;
    if (this.#backlog === undefined) this.#deliver(text);
    else this.#backlog.push(text);
  }

  /** The medium ended; frames already received are still delivered before the end is. */
  end(error: CapnWebError | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (this.#backlog === undefined) this.#deliverEnd();
  }

  /** The peer broke the transport's rules: after the frames before it, the session aborts. */
  violation(error: CapnWebError): void {
    if (this.#ended) return;
    this.#violation = true;
    this.end(error);
  }

  /** We closed it ourselves: frames not yet delivered are dropped. */
  stop(error: CapnWebError | undefined): void {
    if (this.#backlog !== undefined) this.#backlog.length = 0;
    this.end(error);
  }

  /** Resolves once every frame received so far has been handed to the handler. */
  idle(): Promise<void> {
    if (this.#backlog === undefined || (this.#backlog.length === 0 && this.#handler !== undefined && !this.#yielding)) return Promise.resolve();
    return new Promise((resolve) => (this.#idle ??= []).push(resolve));
  }

  #deliver(text: string): void {
    const startedAt = now();
    // A pause between frames is another turn: the slice starts again.
    if (startedAt - lastFrameEnd > 1) spent = 0;
    this.#handler!.frame(text);
    lastFrameEnd = now();
    spent += lastFrameEnd - startedAt;
    if (spent > WORK_SLICE_MS) this.#yield();
  }

  #yield(): void {
    spent = 0;
    this.#backlog ??= [];
    if (this.#yielding) return;
    this.#yielding = true;
    if (this.flow && !this.#paused) {
      this.#paused = true;
      this.flow.pause();
    }
    // A closure only when yielding: an inbox is made for every connection, and most never yield.
    nextTurn(() => {
      this.#yielding = false;
      this.#drain();
    });
  }

  #drain(): void {
    const backlog = this.#backlog!;
    let delivered = 0;
    // The handler may close the transport from inside frame(); stop() then empties the backlog.
    while (delivered < backlog.length) {
      this.#deliver(backlog[delivered++]!);
      if (this.#yielding) {
        backlog.splice(0, delivered);
        return;
      }
    }
    this.#backlog = undefined;
    // Reading goes on even after the end: a closing handshake needs the peer's answer read.
    if (this.#paused) {
      this.#paused = false;
      this.flow!.resume();
    }
    if (this.#ended) this.#deliverEnd();
    const idle = this.#idle;
    this.#idle = undefined;
    if (idle) for (const resolve of idle) resolve();
  }

  #deliverEnd(): void {
    if (this.#endDelivered) return;
    this.#endDelivered = true;
    const handler = this.#handler!;
    if (this.#violation && handler.abort) handler.abort(this.#error!);
    else handler.closed(this.#error);
  }
}

/**
 * What `closed` reports when a transport is closed from this side: nothing for a clean close, the
 * reason itself when it is already a CapnWebError, else a "disconnected" error caused by it.
 */
export function localCloseError(reason: Error | undefined): CapnWebError | undefined {
  if (reason === undefined || reason instanceof CapnWebError) return reason;
  return CapnWebError.ofLifecycle("disconnected", reason.message, { cause: reason });
}
