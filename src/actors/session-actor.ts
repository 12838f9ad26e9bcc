// A supervised session: the XState session machine plus what it must not hold itself, namely
// the live connection, the application's hooks and the queue of calls waiting for a connection.
//
// Resources never depend on XState cleanup (an errored machine orphans its children, and its
// exit actions do not run): this class closes the connection and fails queued calls itself on
// every way out: stop, kill, reconnect policy exhausted, or the machine crashing.

import { type Actor, type AnyActorRef, createActor } from "xstate";
import { Connection } from "../client/connection.js";
import { CapnWebError } from "../protocol/errors.js";
import { ErrorHook, ForwardingHook, type Hook, PromiseHook } from "../protocol/hooks.js";
import type { Limits } from "../protocol/limits.js";
import type { SessionStats } from "../protocol/session.js";
import { newBorrowedStub } from "../protocol/stub.js";
import type { Stub } from "../protocol/types.js";
import { openWebSocket } from "../transports/websocket.js";
import { Backoff, type BackoffOptions } from "../supervisor/backoff.js";
import { type Child, type ExitReason, type StartContext, exitSignal } from "../supervisor/child.js";
import type { Inspection } from "../supervisor/inspection.js";
import { config } from "../config.js";
import { logger } from "../logging.js";
import { publish } from "../telemetry/channels.js";
import { targetsOfSession } from "./export.js";
import type { TargetInspection } from "./target-actor.js";
import { sessionMachine } from "./session-machine.js";
import { sessionSystemRoot, stopSessionActor } from "./session-system.js";

export interface SessionOptions<Api = unknown> {
  /** Where to connect: ws://, wss:// (http:// and https:// are taken as their WebSocket forms). */
  url: string;
  /** Shown in inspection and logs. */
  label?: string;
  /** "exponential" (default), "constant", false (never reconnect), or a full schedule. */
  reconnect?: "exponential" | "constant" | false | BackoffOptions;
  /** Reconnect attempts before the session gives up and exits abnormally (default Infinity). */
  maxAttempts?: number;
  /** Runs on every (re)connection with the root stub; a throw crashes the session (it restarts). */
  onConnect?: (api: Stub<Api>) => void | Promise<void>;
  /** Runs on every loss of the connection, with the reason. */
  onDisconnect?: (reason: CapnWebError) => void;
  /**
   * Calls made while disconnected fail at once with `disconnected` (the default), or wait in a
   * bounded queue for the next connection, failing with `timeout` after `timeout` ms.
   */
  queue?: false | { max: number; timeout: number };
  /**
   * Milliseconds between WebSocket pings (default 15,000; 0 turns them off). A connection whose
   * peer misses a ping is taken as dropped, so a dead network is noticed and healed too.
   */
  heartbeat?: number;
  /** WebSocket handshake timeout, and default timeout of awaited calls, ms. */
  timeout?: number;
  headers?: Record<string, string>;
  /** What this side offers the server. */
  main?: unknown;
  limits?: Partial<Limits>;
  onSendError?: (error: Error) => Error | void;
}

/** A supervised session as inspection sees it. */
export interface SessionInspection extends Inspection {
  kind: "session";
  /** The machine's state ("connecting", "connected", "backoff", ...), prefixed when it has ended. */
  status: string;
  url: string;
  uptimeMs: number;
  /** How long the current connection has been up (0 while disconnected). */
  connectedForMs: number;
  connects: number;
  disconnects: number;
  /** Reconnect attempts since the last connection. */
  attempt: number;
  /** When the next reconnect attempt is due (ISO 8601), while backing off. */
  nextAttemptAt: string | undefined;
  lastError: string | undefined;
  tables: SessionStats;
  callsInFlight: number;
  /** Calls waiting for a connection (with `queue`). */
  queued: number;
  /** The target actors exported on the current connection. */
  targets: TargetInspection[];
}

interface QueuedCall {
  resolve: (hook: Hook) => void;
  reject: (error: CapnWebError) => void;
  timer: NodeJS.Timeout;
}

export class SessionActor implements Child {
  readonly exited: Promise<ExitReason>;
  private readonly exit: (reason: ExitReason) => void;
  readonly actor: Actor<typeof sessionMachine>;
  private readonly systemRoot: AnyActorRef;
  private connection: Connection | undefined;
  private readonly queue: QueuedCall[] = [];
  private ended = false;
  private stopping = false;
  private readonly startedAt = Date.now();
  /** The root stub of this actor: it follows reconnects, and releasing it does nothing. */
  readonly root: Stub<unknown>;
  private firstOutcome: ((failure?: unknown) => void) | undefined;
  private lastReportedAttempt = 0;

  constructor(
    private readonly options: SessionOptions<unknown>,
    context: StartContext,
  ) {
    ({ exited: this.exited, exit: this.exit } = exitSignal());
    const url = toWebSocketUrl(options.url);
    const backoff = makeBackoff(options);
    // The session's, not its holders': a caller that releases it (a `using` block on a pool
    // member's root, say) must not take it from everyone else.
    this.root = newBorrowedStub(new SessionRootHook(this));
    const runtime = {
      openConnection: () => this.openConnection(url),
      announceConnected: () => this.announceConnected(),
      announceDisconnected: (reason: string) => this.announceDisconnected(reason),
      closeConnection: () => this.closeConnection(),
    };
    this.systemRoot = sessionSystemRoot(context.inspect);
    this.actor = createActor(sessionMachine, { input: { name: options.label ?? url, url, backoff, runtime }, parent: this.systemRoot });
    this.actor.subscribe({
      next: (snapshot) => {
        if (snapshot.value !== "connecting") this.settleFirstOutcome();
        if (snapshot.value === "connecting" && snapshot.context.attempt > 0 && this.lastReportedAttempt !== snapshot.context.attempt) {
          this.lastReportedAttempt = snapshot.context.attempt;
          logger({ session: this.label }).info({ attempt: snapshot.context.attempt, afterMs: snapshot.context.delay }, "reconnecting");
          publish("connection:reconnect", { name: this.label, url: this.options.url, attempt: snapshot.context.attempt, delay: snapshot.context.delay });
        }
        if (snapshot.status === "done") {
          const failed = snapshot.value === "failed";
          this.end(failed ? { error: new CapnWebError("disconnected", `Session ${url} gave up: ${snapshot.context.lastError}`) } : "shutdown");
        }
      },
      // The machine crashed (a hook threw): it is dead for good, and cleans up nothing itself.
      error: (error) => this.end({ error }),
    });
  }

  /**
   * Starts the machine; resolves after the first connection attempt has an outcome (connected,
   * or backing off), and rejects if the session ended before that (no reconnect allowed).
   */
  async started(): Promise<void> {
    const outcome = new Promise<unknown>((resolve) => (this.firstOutcome = resolve));
    this.actor.start();
    const failure = await outcome;
    if (failure !== undefined) throw failure;
  }

  private settleFirstOutcome(failure?: unknown): void {
    const settle = this.firstOutcome;
    this.firstOutcome = undefined;
    settle?.(failure);
  }

  get label(): string {
    return this.options.label ?? this.options.url;
  }

  get state(): string {
    return String(this.actor.getSnapshot().value);
  }

  get isConnected(): boolean {
    return this.connection !== undefined && this.state === "connected";
  }

  /** Calls in flight on the current connection. */
  get callsInFlight(): number {
    return this.connection?.session.callsInFlight ?? 0;
  }

  stats(): SessionStats {
    return this.connection?.stats() ?? { imports: 0, exports: 0 };
  }

  // ---------------------------------------------------------------------------------------------
  // Connection

  private async openConnection(url: string): Promise<void> {
    const transport = await openWebSocket(url, { headers: this.options.headers, timeout: this.options.timeout });
    transport.startHeartbeat(this.options.heartbeat ?? 15_000);
    if (this.stopping || this.ended) {
      transport.close();
      throw new CapnWebError("disconnected", "The session stopped while connecting.");
    }
    const connection = new Connection(url, transport, this.options.main, {
      limits: this.options.limits,
      onSendError: this.options.onSendError,
      callTimeout: this.options.timeout,
    });
    this.connection = connection;
    connection.whenEnded().then((reason) => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.lastDropReason = reason;
      this.actor.send({ type: "DROPPED", reason: reason.message });
    });
  }

  private lastDropReason: CapnWebError | undefined;

  private announceConnected(): void {
    this.lastReportedAttempt = 0;
    logger({ session: this.label }).info({ url: this.options.url }, "connected");
    publish("connection:up", { name: this.label, url: this.options.url });
    this.flushQueue();
    const hook = this.options.onConnect;
    if (!hook) return;
    // A throw here propagates: XState puts the machine in its error state, and `error` above
    // restarts the session through its supervisor, as a crashing on_connect would in OTP.
    const result = hook(this.root);
    if (result && typeof (result as Promise<void>).then === "function") {
      (result as Promise<void>).then(undefined, (error) => this.end({ error }));
    }
  }

  private announceDisconnected(reason: string): void {
    const error = this.lastDropReason ?? new CapnWebError("disconnected", reason);
    logger({ session: this.label }).warn({ url: this.options.url, reason: error.message }, "disconnected");
    publish("connection:down", { name: this.label, url: this.options.url, error });
    this.options.onDisconnect?.(error);
  }

  private closeConnection(): void {
    const connection = this.connection;
    this.connection = undefined;
    connection?.close();
  }

  /** The main hook of the live connection, or what a call made now should get instead. */
  currentMain(): Hook {
    const connection = this.connection;
    if (connection && !connection.session.isEnded) return connection.session.remoteMainHook();
    if (this.ended) return new ErrorHook(new CapnWebError("disconnected", `Session ${this.options.url} has stopped.`));
    const queue = this.options.queue;
    if (!queue) {
      const next = this.actor.getSnapshot().context.nextAttemptAt;
      const when = next ? ` (next attempt in ${Math.max(0, next - Date.now())} ms)` : "";
      return new ErrorHook(new CapnWebError("disconnected", `Session ${this.options.url} is not connected${when}.`));
    }
    if (this.queue.length >= queue.max) {
      return new ErrorHook(new CapnWebError("disconnected", `Session ${this.options.url} is not connected and its queue is full (${queue.max}).`));
    }
    return new PromiseHook(
      new Promise<Hook>((resolve, reject) => {
        const entry: QueuedCall = {
          resolve,
          reject,
          timer: setTimeout(() => {
            const index = this.queue.indexOf(entry);
            if (index >= 0) this.queue.splice(index, 1);
            reject(new CapnWebError("timeout", `No connection to ${this.options.url} within ${queue.timeout} ms.`));
          }, queue.timeout),
        };
        this.queue.push(entry);
      }),
    );
  }

  private flushQueue(): void {
    for (const entry of this.queue.splice(0)) {
      clearTimeout(entry.timer);
      entry.resolve(this.currentMain());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Child

  stop(): void {
    if (this.ended) return;
    this.stopping = true;
    this.actor.send({ type: "STOP" });
    // A machine that crashed no longer takes events; finish the stop here.
    if (this.actor.getSnapshot().status !== "active") this.end("shutdown");
  }

  kill(): void {
    this.stopping = true;
    this.end("shutdown");
  }

  private end(reason: ExitReason): void {
    if (this.ended) return;
    this.ended = true;
    if (typeof reason === "object") logger({ session: this.label }).error({ err: reason.error }, "session ended abnormally");
    this.closeConnection();
    if (this.queue.length > 0) {
      const error = new CapnWebError("disconnected", `Session ${this.options.url} has stopped.`);
      for (const entry of this.queue.splice(0)) {
        clearTimeout(entry.timer);
        entry.reject(error);
      }
    }
    stopSessionActor(this.systemRoot, this.actor);
    this.settleFirstOutcome(typeof reason === "object" ? reason.error : undefined);
    this.exit(reason);
  }

  inspect(): SessionInspection {
    const snapshot = this.actor.getSnapshot();
    const context = snapshot.context;
    return {
      kind: "session",
      status: snapshot.status === "active" ? String(snapshot.value) : `${snapshot.status}:${String(snapshot.value)}`,
      url: context.url,
      uptimeMs: Date.now() - this.startedAt,
      connectedForMs: context.connectedAt ? Date.now() - context.connectedAt : 0,
      connects: context.connects,
      disconnects: context.disconnects,
      attempt: context.attempt,
      nextAttemptAt: context.nextAttemptAt ? new Date(context.nextAttemptAt).toISOString() : undefined,
      lastError: context.lastError,
      tables: this.stats(),
      callsInFlight: this.callsInFlight,
      queued: this.queue.length,
      targets: this.connection ? targetsOfSession(this.connection.session).map((target) => target.inspect()) : [],
    };
  }
}

/** The root stub's hook: every operation goes to the session's current connection. */
export class SessionRootHook extends ForwardingHook {
  constructor(session: { currentMain(): Hook }) {
    super(() => session.currentMain());
  }
  override pull(): Promise<never> {
    return Promise.reject(new CapnWebError("invalid_argument", "A session's root is a capability, not a promise."));
  }
}

function makeBackoff(options: SessionOptions): Backoff {
  const defaults = config();
  const reconnect = options.reconnect ?? defaults.reconnectStrategy;
  const schedule: BackoffOptions = {
    baseDelay: defaults.reconnectBaseDelay,
    maxDelay: defaults.reconnectMaxDelay,
    ...(typeof reconnect === "object" ? reconnect : { strategy: reconnect }),
  };
  if (options.maxAttempts !== undefined) schedule.maxAttempts = options.maxAttempts;
  return new Backoff(schedule);
}

function toWebSocketUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new CapnWebError("invalid_argument", `Not a URL: ${url}`, { cause });
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  else if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new CapnWebError("invalid_argument", `A supervised session needs a ws:, wss:, http: or https: URL, not ${parsed.protocol}`);
  }
  return parsed.href;
}
