// The receiving half every transport shares: frames that arrive before start() wait here, and the
// end of the transport is reported exactly once, after the frames that preceded it.

import { CapnWebError } from "../protocol/errors.js";
import type { TransportHandler } from "./transport.js";

export class Inbox {
  #handler: TransportHandler | undefined;
  // Defined until start() has drained it; afterwards frames go straight to the handler.
  #backlog: string[] | undefined = [];
  #ended = false;
  #error: CapnWebError | undefined;

  /** True once no further frames will be accepted. */
  get ended(): boolean {
    return this.#ended;
  }

  start(handler: TransportHandler): void {
    const backlog = this.#backlog;
    if (backlog === undefined || this.#handler !== undefined) return;
    this.#handler = handler;
    // The handler may close the transport from inside frame(); stop() then empties the backlog.
    for (let i = 0; i < backlog.length; i++) handler.frame(backlog[i]!);
    this.#backlog = undefined;
    if (this.#ended) handler.closed(this.#error);
  }

  frame(text: string): void {
    if (this.#ended) return;
    if (this.#backlog === undefined) this.#handler!.frame(text);
    else this.#backlog.push(text);
  }

  /** The medium ended; frames already received are still delivered before the end is. */
  end(error: CapnWebError | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (this.#backlog === undefined) this.#handler!.closed(error);
  }

  /** We closed it ourselves: frames not yet delivered are dropped. */
  stop(error: CapnWebError | undefined): void {
    if (this.#backlog !== undefined) this.#backlog.length = 0;
    this.end(error);
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
