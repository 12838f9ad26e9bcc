// The lifecycle of one client connection, kept in one place: connecting → open → closed, or
// broken when the peer or the network ended it. The supervised session actor (src/actors) drives
// the same states; this plain object is what `connect()` returns without supervision.

import { CapnWebError } from "../protocol/errors.js";
import { RpcSession, type SessionOptions, type SessionStats } from "../protocol/session.js";
import type { Transport } from "../transports/transport.js";
import { logger } from "../logging.js";

export type ConnectionState = "connecting" | "open" | "closed" | "broken";

export interface ConnectionEvents {
  /** Every state change, in order. */
  onStateChange?: (state: ConnectionState, reason?: CapnWebError) => void;
}

export class Connection {
  private currentState: ConnectionState = "connecting";
  private endReason: CapnWebError | undefined;
  private closeRequested = false;
  readonly session: RpcSession;
  private readonly ended: Promise<CapnWebError>;
  private markEnded!: (reason: CapnWebError) => void;

  /** Binds a session to an open transport. `main` is what this side offers the peer. */
  constructor(
    readonly url: string,
    readonly transport: Transport,
    main: unknown,
    options: SessionOptions & ConnectionEvents = {},
  ) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
    const { onStateChange, onEnd, ...sessionOptions } = options;
    this.onStateChange = onStateChange;
    this.session = new RpcSession(transport, main, {
      ...sessionOptions,
      onEnd: (reason) => {
        this.finish(reason);
        onEnd?.(reason);
      },
    });
    transport.start({
      frame: (text) => this.session.receive(text),
      closed: (error) => this.session.transportClosed(error),
      abort: (error) => this.session.abort(error),
    });
    this.setState("open");
  }

  private readonly onStateChange: ConnectionEvents["onStateChange"];

  get state(): ConnectionState {
    return this.currentState;
  }

  /** Why the connection ended; undefined while it is open. */
  get reason(): CapnWebError | undefined {
    return this.endReason;
  }

  /** Resolves when the connection ends, for any reason, with that reason. */
  whenEnded(): Promise<CapnWebError> {
    return this.ended;
  }

  stats(): SessionStats {
    return this.session.stats();
  }

  /** Closes the connection; calls in flight fail with `disconnected`. Idempotent. */
  close(): void {
    this.closeRequested = true;
    this.session.close(CapnWebError.ofLifecycle("disconnected", `The connection to ${this.url} was closed.`));
  }

  private finish(reason: CapnWebError): void {
    if (this.endReason) return;
    this.endReason = reason;
    if (reason.type === "protocol" || reason.type === "aborted") {
      logger({ connection: this.url }).warn({ type: reason.type, reason: reason.message }, "session aborted");
    }
    this.markEnded(reason);
    // A close we asked for is "closed"; anything the peer or the network did is "broken".
    this.setState(this.closeRequested ? "closed" : "broken", reason);
  }

  private setState(state: ConnectionState, reason?: CapnWebError): void {
    this.currentState = state;
    if (this.onStateChange) {
      try {
        this.onStateChange(state, reason);
      } catch {
        // An observer's failure is not the connection's.
      }
    }
  }
}
