// A transport moves whole protocol frames (one JSON message each) between two peers. It knows
// nothing of the protocol: the session hands it strings and receives strings. Framing is the
// transport's business (WebSocket and MessagePort frame natively; HTTP batch uses newlines).

import type { CapnWebError } from "../protocol/errors.js";

/** What a transport reports to the session that drives it. */
export interface TransportHandler {
  /** One complete incoming frame. */
  frame(text: string): void;
  /** The transport is closed for good; `error` is undefined for a clean close we asked for. */
  closed(error: CapnWebError | undefined): void;
  /**
   * The peer broke the transport's rules (a binary frame on a text protocol): the session aborts,
   * telling the peer why. Without it, `closed` is called with the error.
   */
  abort?(error: CapnWebError): void;
}

export interface Transport {
  /** "websocket", "http-batch", "message-port", or a custom name; shown by inspection. */
  readonly kind: string;
  /** Starts delivering frames to `handler`. Called once. Frames that arrived earlier are queued. */
  start(handler: TransportHandler): void;
  /** Queues one frame. Never throws: a failure is reported through `closed`. */
  send(frame: string): void;
  /** Closes the transport (idempotent); `reason` is told to the peer where the medium allows. */
  close(reason?: Error): void;
}
