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
import { openClientWebSocket } from "../transports/open-websocket.js";
import { Backoff, type BackoffOptions } from "../supervisor/backoff.js";
import { type Child, type ExitReason, type StartContext, exitSignal } from "../supervisor/child.js";
import type { Inspection } from "../supervisor/inspection.js";
import { config } from "../config.js";
import { logger } from "../logging.js";
import { publish } from "../telemetry/channels.js";
import { type RestorableInspection, RestorableSet, type RestoreHost, restoreHostOf } from "./restorables.js";
import type { TargetActor, TargetInspection } from "./target-actor.js";
import { sessionOfStub, type RpcSession } from "../protocol/session.js";
import type { CapabilityTables, TargetDescriber } from "../protocol/tables.js";
import { stubViewOf } from "../protocol/stub.js";
import { sessionMachine } from "./session-machine.js";
import { sessionParent, stopSessionActor } from "./session-system.js";

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
  /** The target actors exported through this session: they live as long as the session. */
  targets: TargetInspection[];
  /** Capabilities derived again on every connection (`CapnWeb.restorable`). */
  restorables: RestorableInspection[];
}

/** What a session's watchers hear: restored after a (re)connection, dropped, or ended for good. */
export type SessionEvent = "ready" | "dropped" | "ended";

interface Waiter {
  resolve: () => void;
  reject: (error: CapnWebError) => void;
  timer: NodeJS.Timeout | undefined;
}

/** Which supervised session a connection belongs to. */
const sessionActorOfConnection = new WeakMap<RpcSession, SessionActor>();

export class SessionActor implements Child, RestoreHost {
  readonly exited: Promise<ExitReason>;
  private readonly exit: (reason: ExitReason) => void;
  readonly actor: Actor<typeof sessionMachine>;
  /** Where the tree is inspected: this session's place in it, under which its XState targets go. */
  private readonly inspectionPath: readonly string[] | undefined;
  private targetsExported = 0;
  private connection: Connection | undefined;
  /** Calls waiting for a connection (with the `queue` option), released once it is restored. */
  private readonly queue: Waiter[] = [];
  /** `CapnWeb.ready()` callers, told once the session is connected and restored. */
  private readyWaiters: Waiter[] | undefined;
  /** Set from a connection's start until its restorables have answered. */
  private restoring = false;
  // Made on first use, like the sets below: most sessions never hold any (heap per session).
  private restorableSet: RestorableSet | undefined;
  private targets: Set<TargetActor> | undefined;
  private watchers: Set<(event: SessionEvent) => void> | undefined;

  /** This session's restorables. */
  get restorables(): RestorableSet {
    return (this.restorableSet ??= new RestorableSet(this));
  }
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
    this.root = newBorrowedStub(new SessionRootHook({ currentMain: () => this.currentMain(), sessionActor: () => this }));
    const runtime = {
      openConnection: () => this.openConnection(url),
      announceConnected: () => this.announceConnected(),
      announceDisconnected: (reason: string) => this.announceDisconnected(reason),
      closeConnection: () => this.closeConnection(),
    };
    const label = options.label ?? url;
    const parent = sessionParent(context);
    // In an inspected tree the session is named by its place in it (its supervisor's path).
    const place = context.inspectionParent ? { id: label, systemId: [...context.path, label].join("/") } : {};
    this.actor = createActor(sessionMachine, { input: { name: label, url, backoff, runtime }, parent, ...place });
    this.inspectionPath = context.inspectionParent ? [...context.path, label] : undefined;
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

  /** Connected, and its restorables restored. */
  get isReady(): boolean {
    return this.isConnected && !this.restoring;
  }

  /** Calls in flight on the current connection. */
  get callsInFlight(): number {
    return this.connection?.session.callsInFlight ?? 0;
  }

  stats(): SessionStats {
    return this.connection?.stats() ?? { imports: 0, exports: 0 };
  }

  /** Every import and export of the current connection, described (empty while disconnected). */
  capabilityTables(describeTarget?: TargetDescriber): CapabilityTables {
    return this.connection?.session.capabilityTables(describeTarget) ?? { imports: [], exports: [] };
  }

  /**
   * Closes the current connection as if the network had dropped it: the session reconnects by
   * its policy (an operator's "drop connection"). False when there is none to drop.
   */
  dropConnection(): boolean {
    const connection = this.connection;
    if (!connection || this.ended) return false;
    connection.close();
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Connection

  private async openConnection(url: string): Promise<void> {
    const transport = await openClientWebSocket(url, { headers: this.options.headers, timeout: this.options.timeout });
    transport.startHeartbeat(this.options.heartbeat ?? 15_000);
    if (this.stopping || this.ended) {
      transport.close();
      throw new CapnWebError("disconnected", "The session stopped while connecting.");
    }
    const connection = new Connection(url, transport, this.options.main, {
      limits: this.options.limits,
      onSendError: this.options.onSendError,
      callTimeout: this.options.timeout,
      name: this.label,
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
    const connection = this.connection!;
    sessionActorOfConnection.set(connection.session, this);
    logger({ session: this.label }).info({ url: this.options.url }, "connected");
    publish("connection:up", { name: this.label, url: this.options.url });
    const restorables = this.restorableSet;
    if (restorables === undefined || restorables.size === 0) {
      this.finishConnecting(true);
      return;
    }
    // Every restorable is derived again before anything waiting for the connection goes. The
    // calls queued during the outage leave right behind the derivations, pipelined on them (one
    // round trip for both); ready() and onConnect wait for the answers, and so see the session
    // as the application built it.
    this.restoring = true;
    const startedAt = performance.now();
    const restored = restorables.restoreAll(this.root);
    this.flushQueue();
    restored.then(({ restored, failed }) => {
      if (this.connection !== connection || this.ended) return;
      this.restoring = false;
      for (const restorable of failed) {
        const error = restorable.error ?? new CapnWebError("restore_failed", `The restorable ${restorable.label} could not be restored.`);
        logger({ session: this.label }).warn({ restorable: restorable.label, err: error }, "restore failed");
        publish("restore:failed", { name: this.label, url: this.options.url, restorable: restorable.label, error });
      }
      const duration = performance.now() - startedAt;
      logger({ session: this.label }).info({ restored, failed: failed.length, durationMs: duration }, "restored");
      publish("connection:restored", { name: this.label, url: this.options.url, restored, failed: failed.length, duration });
      this.finishConnecting(false);
    });
  }

  /** Releases the queue (if not yet), then ready() callers and watchers, then runs onConnect. */
  private finishConnecting(inMachineAction: boolean): void {
    this.flushQueue();
    for (const waiter of this.readyWaiters?.splice(0) ?? []) settleWaiter(waiter);
    this.notify("ready");
    const hook = this.options.onConnect;
    if (!hook) return;
    if (inMachineAction) {
      // A throw here propagates: XState puts the machine in its error state, and `error` above
      // restarts the session through its supervisor, as a crashing on_connect would in OTP.
      this.runOnConnect(hook);
      return;
    }
    try {
      this.runOnConnect(hook);
    } catch (error) {
      this.end({ error });
    }
  }

  private runOnConnect(hook: (api: Stub<unknown>) => void | Promise<void>): void {
    const result = hook(this.root);
    if (result && typeof (result as Promise<void>).then === "function") {
      (result as Promise<void>).then(undefined, (error) => this.end({ error }));
    }
  }

  /** A restorable marked fatal could not be restored: the session crashes, its supervisor decides. */
  restoreFailedFatally(error: CapnWebError): void {
    queueMicrotask(() => this.end({ error }));
  }

  /** Resolves once the session is connected and its restorables have answered. */
  whenReady(timeout?: number): Promise<void> {
    if (this.isReady) return this.restorableSet?.settled() ?? Promise.resolve();
    if (this.ended) return Promise.reject(new CapnWebError("disconnected", `Session ${this.options.url} has stopped.`));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (timeout !== undefined) {
        waiter.timer = setTimeout(() => {
          removeWaiter(this.readyWaiters!, waiter);
          reject(new CapnWebError("timeout", `Session ${this.options.url} was not ready within ${timeout} ms.`));
        }, timeout);
      }
      (this.readyWaiters ??= []).push(waiter);
    });
  }

  /** Tells `watcher` of every ready, drop and end from now on; returns the way to stop. */
  watch(watcher: (event: SessionEvent) => void): () => void {
    const watchers = (this.watchers ??= new Set());
    watchers.add(watcher);
    return () => watchers.delete(watcher);
  }

  private notify(event: SessionEvent): void {
    if (!this.watchers) return;
    for (const watcher of [...this.watchers]) {
      try {
        watcher(event);
      } catch (error) {
        logger({ session: this.label }).error({ err: error, event }, "a session watcher failed");
      }
    }
  }

  /** Where an XState target exported through this session goes in an inspected tree. */
  targetPlace(label: string): { parent: AnyActorRef; path: readonly string[]; id: string } | undefined {
    return this.inspectionPath ? { parent: this.actor, path: this.inspectionPath, id: `${label}#${++this.targetsExported}` } : undefined;
  }

  /** A target actor exported through this session: it lives until the session ends. */
  adoptTarget(target: TargetActor): void {
    if (this.ended) {
      target.stop("session-ended");
      return;
    }
    const targets = (this.targets ??= new Set());
    targets.add(target);
    target.onStop(() => targets.delete(target));
  }

  /**
   * The supervised session a stub belongs to: its root (by name or not), a restorable of it, or
   * a capability obtained on one of its connections.
   */
  static of(stub: unknown): SessionActor | undefined {
    const hook = stubViewOf(stub)?.root.hook;
    if (hook instanceof SessionRootHook) return hook.sessionActor();
    const host = hook && restoreHostOf(hook);
    if (host instanceof SessionActor) return host;
    const session = sessionOfStub(stub);
    return session && sessionActorOfConnection.get(session);
  }

  private announceDisconnected(reason: string): void {
    const error = this.lastDropReason ?? new CapnWebError("disconnected", reason);
    this.restoring = false;
    this.restorableSet?.connectionEnded();
    this.notify("dropped");
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
    const refusal = this.refusal();
    if (refusal) return new ErrorHook(refusal);
    return new PromiseHook(this.enqueue().then(() => this.currentMain()));
  }

  /** For a restorable between connections: the session's queue policy, as a promise. */
  waitForRestore(): Promise<void> {
    const refusal = this.refusal();
    return refusal ? Promise.reject(refusal) : this.enqueue();
  }

  /** Why a call made while disconnected cannot wait for the connection, if it cannot. */
  private refusal(): CapnWebError | undefined {
    if (this.ended) return new CapnWebError("disconnected", `Session ${this.options.url} has stopped.`);
    const queue = this.options.queue;
    if (!queue) {
      const next = this.actor.getSnapshot().context.nextAttemptAt;
      const when = next ? ` (next attempt in ${Math.max(0, next - Date.now())} ms)` : "";
      return new CapnWebError("disconnected", `Session ${this.options.url} is not connected${when}.`);
    }
    if (this.queue.length >= queue.max) {
      return new CapnWebError("disconnected", `Session ${this.options.url} is not connected and its queue is full (${queue.max}).`);
    }
    return undefined;
  }

  private enqueue(): Promise<void> {
    const timeout = (this.options.queue as { timeout: number }).timeout;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          removeWaiter(this.queue, waiter);
          reject(new CapnWebError("timeout", `No connection to ${this.options.url} within ${timeout} ms.`));
        }, timeout),
      };
      this.queue.push(waiter);
    });
  }

  private flushQueue(): void {
    for (const waiter of this.queue.splice(0)) settleWaiter(waiter);
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
    this.end("killed");
  }

  private end(reason: ExitReason): void {
    if (this.ended) return;
    this.ended = true;
    const failure = typeof reason === "object" && "error" in reason ? reason.error : undefined;
    if (failure !== undefined) logger({ session: this.label }).error({ err: failure }, "session ended abnormally");
    this.closeConnection();
    // Made only for someone to tell, and without a stack: a stop of many sessions at once
    // must not pay a stack capture for each.
    const waiting = this.readyWaiters ? [...this.queue.splice(0), ...this.readyWaiters.splice(0)] : this.queue.splice(0);
    if (waiting.length > 0 || this.restorableSet) {
      const stopped = CapnWebError.ofLifecycle("disconnected", `Session ${this.options.url} has stopped.`);
      for (const waiter of waiting) {
        clearTimeout(waiter.timer);
        waiter.reject(stopped);
      }
      this.restorableSet?.sessionEnded(stopped);
    }
    if (this.targets) for (const target of [...this.targets]) target.stop("session-ended");
    this.notify("ended");
    this.watchers?.clear();
    stopSessionActor(this.actor);
    this.settleFirstOutcome(failure);
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
      targets: [...(this.targets ?? [])].map((target) => target.inspect()),
      restorables: this.restorableSet?.inspect() ?? [],
    };
  }
}

function settleWaiter(waiter: Waiter): void {
  clearTimeout(waiter.timer);
  waiter.resolve();
}

function removeWaiter(waiters: Waiter[], waiter: Waiter): void {
  const index = waiters.indexOf(waiter);
  if (index >= 0) waiters.splice(index, 1);
}

/** What a root stub reaches: the session's current main, and the session actor behind it. */
export interface RootSource {
  currentMain(): Hook;
  /** The session actor now behind the root (a named root finds it by name). */
  sessionActor(): SessionActor | undefined;
}

/** The root stub's hook: every operation goes to the session's current connection. */
export class SessionRootHook extends ForwardingHook {
  constructor(private readonly source: RootSource) {
    super(() => source.currentMain());
  }

  sessionActor(): SessionActor | undefined {
    return this.source.sessionActor();
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
