// The one error class of the library. Every failure an application can observe (a remote throw,
// a dropped connection, a timeout, a hostile frame) arrives as a CapnWebError whose `type` says
// which, so callers can branch on `err.type` the way Elixir code matches `%CapnWeb.Error{type: ...}`.

export type ErrorType =
  /** The peer answered that the thing asked for does not exist (remote `type`/`code` "not_found"). */
  | "not_found"
  /** The connection is gone (or never came up); the call may be retried on a new connection. */
  | "disconnected"
  /** The caller stopped waiting. The call's import is released; a late answer is ignored. */
  | "timeout"
  /** The capability was released (by us, by its owner, or by the peer) before this use. */
  | "released"
  /**
   * The capability belonged to a connection that has ended: the peer has forgotten it, and it
   * will never work again. Obtain it anew, or make it restorable (`CapnWeb.restorable`).
   */
  | "stale"
  /** A restorable capability could not be derived again on a new connection (`cause` says why). */
  | "restore_failed"
  /** The session was aborted, by us or by the peer (`["abort", ...]`). */
  | "aborted"
  /** The peer broke the wire protocol; the session is aborted. */
  | "protocol"
  /**
   * The peer broke one of the `Limits` (its own `limit` property names which); the session is
   * aborted, and the breach is logged and published on the `limit:exceeded` channel.
   */
  | "limit"
  /** The remote application threw; `remoteName`, message and properties are kept. */
  | "remote"
  /** The application passed something that cannot be sent or used this way. */
  | "invalid_argument"
  /** A feature this runtime or build does not offer (no WebSocket, map() support not loaded). */
  | "unsupported"
  /** The operation needs the application's consent, which it did not give (the observer's controls). */
  | "forbidden"
  /** Any other `type` or `code` string a remote error carried. */
  | (string & {});

export interface CapnWebErrorOptions {
  cause?: unknown;
  /** The `name` of the remote error class (`"TypeError"`, `"RangeError"`, ...). */
  remoteName?: string;
  /** Own properties of the remote error, already decoded. */
  props?: Record<string, unknown>;
}

export class CapnWebError extends Error {
  readonly type: ErrorType;
  readonly remoteName?: string;

  constructor(type: ErrorType, message: string, options: CapnWebErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.type = type;
    if (options.remoteName !== undefined) this.remoteName = options.remoteName;
    if (options.props) {
      for (const key of Object.keys(options.props)) {
        if (key === "type" || key === "name" || key === "message" || key === "stack") continue;
        // Defined, not assigned: a property named like one of our getters (`details`) shadows it.
        Object.defineProperty(this, key, { value: options.props[key], writable: true, enumerable: true, configurable: true });
      }
    }
  }

  /**
   * An error that reports the end of a connection or a session, not a failed call: its stack
   * would show only the event handler that noticed the end, and capturing one was the largest
   * CPU cost of closing a session (a third of stopping 10,000 supervised sessions).
   */
  static ofLifecycle(type: ErrorType, message: string, options?: CapnWebErrorOptions): CapnWebError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new CapnWebError(type, message, options);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /** The own properties a remote error carried (`{ id: 999 }` for a not-found user, say). */
  get details(): Readonly<Record<string, unknown>> {
    const details: Record<string, unknown> = {};
    for (const key of Object.keys(this)) if (key !== "type" && key !== "remoteName") details[key] = (this as Record<string, unknown>)[key];
    return details;
  }

  /** Remote errors keep the name the peer gave them; local ones are CapnWebError. */
  override get name(): string {
    return this.remoteName ?? "CapnWebError";
  }

  /**
   * Turns anything thrown into a CapnWebError. A remote error value (an `Error` rebuilt from the
   * wire) becomes type `remote`, or the string in its own `type` or `code` property when it has
   * one, keeping name, message and properties.
   */
  static from(reason: unknown, fallback: ErrorType = "remote"): CapnWebError {
    if (reason instanceof CapnWebError) return reason;
    if (reason instanceof Error) {
      const props: Record<string, unknown> = {};
      for (const key of Object.keys(reason)) props[key] = (reason as unknown as Record<string, unknown>)[key];
      const tagged = typeof props.type === "string" ? props.type : typeof props.code === "string" ? props.code : undefined;
      const err = new CapnWebError(tagged ?? fallback, reason.message, {
        remoteName: reason.name,
        props,
        cause: (reason as { cause?: unknown }).cause,
      });
      if (reason.stack !== undefined) err.stack = reason.stack;
      return err;
    }
    return new CapnWebError(fallback, typeof reason === "string" ? reason : safeString(reason));
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "(unprintable value)";
  }
}

export const isCapnWebError = (value: unknown): value is CapnWebError => value instanceof CapnWebError;
