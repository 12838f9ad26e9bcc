// One Cap'n Web session: the import and export tables and the six messages that move between
// them. It does no I/O: frames come in through `receive`, go out through the FrameSink, and the
// end of the connection is reported through `transportClosed`.
//
// Table invariants (protocol.md, "Imports and exports"):
// - Positive IDs are chosen by the importer (our pushes; the peer's pushes on our export side),
//   negative IDs by the exporter, 0 is the main interface. IDs are never reused.
// - An import's remote refcount counts how often the peer introduced it; a release sends that
//   count, so that a re-export crossing our release in flight is never lost.
// - An export is removed when the releases received add up to the times it was introduced.

import { CapnWebError } from "./errors.js";
import { Decoder, Encoder, soleBytesArgsJson, type Exporter, type Importer, type Pipe, type PipeEnd } from "./codec.js";
import type { Stub } from "./types.js";
import { ErrorHook, Hook, PayloadHook, TargetHook, type PropertyPath, type StreamCall } from "./hooks.js";
import { type LimitName, type LimitPeer, type Limits, limitExceeded, reportLimit, resolveLimits } from "./limits.js";
import { type ReleaseReason, currentReleaseReason, reportRelease, servedEnded, servedStarted } from "./ownership.js";
import { type CapabilityTables, type EntryOrigin, type TargetDescriber, describeOrigin, describeTables, pushOrigin } from "./tables.js";
import { Payload } from "./payload.js";
import { newStub, stubViewOf, withCapnwebStubs } from "./stub.js";
import { type LiveStream, type StreamRegistry, WritableStreamHook, writableFromHook } from "./streams.js";
import { isTarget } from "./target.js";
// remap support registers itself with the hooks and stubs it extends.
import "./map.js";

export interface FrameSink {
  /** Sends one frame; may return its encoded size (what flow control counts; else its length). */
  send(frame: string): void | number;
  close(reason?: Error): void;
}

export interface SessionOptions {
  /** Overrides of the limits on what the peer may send or make us hold (see `Limits`). */
  limits?: Partial<Limits>;
  /**
   * Sees every error before it is sent. Return a replacement to rewrite it (a replacement's
   * `stack` is sent; stacks are redacted otherwise), or nothing to send it as is, stackless.
   */
  onSendError?: (error: Error) => Error | void;
  /** Told once, when the session ends for any reason. */
  onEnd?: (reason: CapnWebError) => void;
  /** Default timeout of awaited calls on this session, ms (overrides the application default). */
  callTimeout?: number;
  /** @internal Stubs it decodes are capnweb-compatible ones (the `capnweb-otp/capnweb` entry). */
  capnwebStubs?: boolean;
  /**
   * Whether the session owns its main object, so that the main's `Symbol.dispose` runs when the
   * session ends (capnweb's behaviour, and the default). A server sharing one main object among
   * all its sessions says false.
   */
  ownsMain?: boolean;
  /** Who the peer is, for the report of a broken limit. */
  peer?: LimitPeer;
  /** Names the session in telemetry: its `release:sent` events carry it as `name`. */
  name?: string;
  /** @internal The peer's calls are left out of the serve:* telemetry (an observer's own page). */
  untraced?: boolean;
}

export interface SessionStats {
  imports: number;
  exports: number;
}

interface ExportEntry {
  hook: Hook;
  refcount: number;
  /** The resolution is being computed and will be sent. */
  pulling: boolean;
  /** Released implicitly once resolved (`stream` semantics). */
  autoRelease: boolean;
  createdAt: number;
  origin: EntryOrigin;
  /** A pipe's readable end, until `["readable", id]` takes it (`pipe` semantics). */
  pipeReadable?: ReadableStream;
  /** The telemetry of a pulled call of the peer's, while it is being answered. */
  served?: object;
}

class Deferred {
  resolve!: () => void;
  reject!: (error: unknown) => void;
  readonly promise = new Promise<void>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });
}

/** One row of the import table: something the peer exported to us, or the answer to our push. */
class ImportEntry {
  localRefs = 0;
  resolution: Hook | undefined;
  private waiting: Deferred | undefined;
  /** Whether `waiting` counts against maxAwaitedAnswers (a stream's write is paced by its window). */
  private counted = false;
  /** Where this entry's onBroken callbacks sit in the session's list (the order they came in). */
  private brokenSlots: number[] | undefined;
  readonly createdAt = Date.now();
  /** Set by an owner adopting a stub of this entry (inspection only). */
  ownerLabel: string | undefined;

  constructor(
    readonly session: RpcSession,
    readonly id: number,
    /** Introductions by the peer not yet matched by a release we sent. */
    public remoteRefcount: number,
    /** "stream": a `stream` call's answer, awaited without a pull and without counting. */
    pulling: boolean | "stream",
    readonly origin: EntryOrigin,
  ) {
    if (pulling === "stream") this.waiting = new Deferred();
    else if (pulling) this.startWaiting();
  }

  private startWaiting(): Deferred {
    if (this.session.awaitedCalls >= this.session.limits.maxAwaitedAnswers) {
      throw this.session.limitBroken("maxAwaitedAnswers", `More than ${this.session.limits.maxAwaitedAnswers} calls await the peer's answer.`);
    }
    this.session.awaitedCalls++;
    this.counted = true;
    return (this.waiting = new Deferred());
  }

  private stopWaiting(): Deferred | undefined {
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      if (this.counted) this.session.awaitedCalls--;
      this.counted = false;
    }
    return waiting;
  }

  resolve(resolution: Hook): void {
    if (this.resolution) {
      resolution.dispose();
      return;
    }
    this.resolution = resolution;
    // The answer now lives here; the peer can drop its copy.
    this.session.releaseImport(this, "resolved");
    const slots = this.brokenSlots;
    this.brokenSlots = undefined;
    if (slots) this.session.moveBrokenCallbacks(slots, resolution);
    this.stopWaiting()?.resolve();
  }

  async awaitResolution(): Promise<Payload> {
    if (!this.resolution && !this.waiting) {
      this.startWaiting();
      this.session.sendPull(this.id);
    }
    if (this.waiting) await this.waiting.promise;
    return this.resolution!.pull();
  }

  /** The session ended (or the call was cancelled) before an answer came. */
  fail(error: unknown): void {
    if (this.resolution) return;
    this.resolution = new ErrorHook(error);
    const waiting = this.stopWaiting();
    if (waiting) {
      waiting.promise.catch(noop);
      waiting.reject(error);
    }
    const slots = this.brokenSlots;
    this.brokenSlots = undefined;
    if (slots) this.session.fireBrokenCallbacks(slots, error);
  }

  /** The last local reference is gone. */
  drop(): void {
    if (this.resolution) {
      this.resolution.dispose();
    } else {
      this.fail(new CapnWebError("released", "The call was cancelled because its promise was released."));
      this.session.releaseImport(this, currentReleaseReason());
    }
  }

  onBroken(callback: (error: unknown) => void): void {
    if (this.resolution) this.resolution.onBroken(callback);
    else (this.brokenSlots ??= []).push(this.session.addBrokenCallback(callback));
  }
}

/** A reference to an import; each stub holds one. */
export class ImportHook extends Hook {
  protected entry: ImportEntry | undefined;

  constructor(
    entry: ImportEntry,
    readonly isPromise: boolean,
  ) {
    super();
    entry.localRefs++;
    this.entry = entry;
  }

  private live(): ImportEntry {
    if (!this.entry) throw new CapnWebError("released", "This capability was already released.");
    return this.entry;
  }

  sessionOf(): RpcSession | undefined {
    return this.entry?.session;
  }

  /** @internal An owner took this stub: inspection names it beside the entry. */
  labelOwner(label: string): void {
    if (this.entry) this.entry.ownerLabel = label;
  }

  /** The entry while it is still the peer's to answer for (unresolved, in the table). */
  pendingEntryOf(session: RpcSession): ImportEntry | undefined {
    const entry = this.entry;
    return entry && entry.session === session && !entry.resolution ? entry : undefined;
  }

  call(path: PropertyPath, args: Payload): Hook {
    let entry: ImportEntry;
    try {
      entry = this.live();
    } catch (error) {
      args.dispose();
      return new ErrorHook(error);
    }
    if (entry.resolution) return entry.resolution.call(path, args);
    return entry.session.sendCall(entry.id, path, args);
  }

  override stream(path: PropertyPath, args: Payload): StreamCall {
    let entry: ImportEntry;
    try {
      entry = this.live();
    } catch (error) {
      args.dispose();
      throw error;
    }
    if (entry.resolution) return entry.resolution.stream(path, args);
    return entry.session.sendStream(entry.id, path, args);
  }

  get(path: PropertyPath): Hook {
    try {
      const entry = this.live();
      if (entry.resolution) return entry.resolution.get(path);
      return entry.session.sendCall(entry.id, path, undefined);
    } catch (error) {
      return new ErrorHook(error);
    }
  }

  map(path: PropertyPath, captures: Hook[], instructions: unknown[]): Hook {
    let entry: ImportEntry;
    try {
      entry = this.live();
    } catch (error) {
      for (const cap of captures) cap.dispose();
      return new ErrorHook(error);
    }
    if (entry.resolution) return entry.resolution.map(path, captures, instructions);
    return entry.session.sendMap(entry.id, path, captures, instructions);
  }

  pull(): Payload | Promise<Payload> {
    const entry = this.live();
    if (entry.resolution) return entry.resolution.pull();
    if (!this.isPromise) {
      return Promise.reject(new CapnWebError("invalid_argument", "A capability is not a promise; only its properties and calls can be awaited."));
    }
    return entry.awaitResolution();
  }

  dup(): Hook {
    return new ImportHook(this.live(), this.isPromise);
  }

  dispose(): void {
    const entry = this.entry;
    this.entry = undefined;
    if (entry && --entry.localRefs === 0) entry.drop();
  }

  override onBroken(callback: (error: unknown) => void): void {
    this.entry?.onBroken(callback);
  }
}

/** The peer's main interface: it lasts as long as the session, whoever releases stubs of it. */
class MainImportHook extends ImportHook {
  constructor(
    entry: ImportEntry,
    isPromise: boolean,
    private onRelease?: () => void,
  ) {
    super(entry, isPromise);
  }
  override dup(): Hook {
    return new MainImportHook(this.entry!, false);
  }
  override dispose(): void {
    const onRelease = this.onRelease;
    this.onRelease = undefined;
    onRelease?.();
  }
}

/** @internal Names `label` as the owner of the import behind a stub's root, for inspection. */
export function labelImportOwner(root: object, label: string): void {
  const hook = (root as { hook?: Hook }).hook;
  const actual = hook && (hook.standsFor() ?? hook);
  if (actual instanceof ImportHook) actual.labelOwner(label);
}

/** The session a stub reaches through, when it is a stub of a remote capability. */
export function sessionOfStub(stub: unknown): RpcSession | undefined {
  const view = stubViewOf(stub);
  if (!view || view.isReleased) return undefined;
  const hook = view.liveHook();
  // A reconnecting or batch root stands for the main import of its current session.
  const actual = hook.standsFor() ?? hook;
  return actual instanceof ImportHook ? actual.sessionOf() : undefined;
}

// The session is the codec's Exporter and Importer. Those roles are engine internals (and left out
// of the published declarations), so they are checked here rather than named in the class's
// `implements`, which users would see.
const codecRoles = (session: RpcSession): [Exporter, Importer] => [session, session];
void codecRoles;

export class RpcSession {
  readonly limits: Limits;
  private readonly imports = new Map<number, ImportEntry>();
  private readonly exports = new Map<number, ExportEntry>();
  /** One TargetHook per live local target, shared by all its exports (its refcount). */
  private readonly targetHooks = new Map<object, TargetHook>();
  private nextImportId = 1;
  private nextExportId = -1;
  /** The ID the peer's next push, stream or pipe takes on our export table. */
  private nextPeerPushId = 1;
  private pullsInFlight = 0;
  private drained: Deferred | undefined;
  private endReason: CapnWebError | undefined;
  private readonly mainImport: ImportEntry;
  private endListeners: ((reason: CapnWebError) => void)[] | undefined;
  /**
   * onBroken callbacks of unresolved imports, in the order they were registered: when the
   * session ends they are told in that order, as capnweb tells them. Told or moved ones are holes.
   */
  private brokenCallbacks: (((error: unknown) => void) | undefined)[] = [];
  /** Streams of this session in progress, both ends: they fail with the session's end. */
  private readonly liveStreams = new Set<LiveStream>();

  constructor(
    private readonly sink: FrameSink,
    main: unknown,
    private readonly options: SessionOptions = {},
  ) {
    this.limits = resolveLimits(options.limits);
    const now = Date.now();
    this.exports.set(0, { hook: hookForMain(main, options.ownsMain ?? true), refcount: 1, pulling: false, autoRelease: false, createdAt: now, origin: "main" });
    this.mainImport = new ImportEntry(this, 0, 1, false, "main");
    this.imports.set(0, this.mainImport);
  }

  /**
   * A stub for the peer's main interface. `onRelease` runs when this particular stub is released
   * (a connection closes itself then); copies of the stub never trigger it.
   */
  remoteMain<Api = unknown>(onRelease?: () => void): Stub<Api> {
    const hook = new MainImportHook(this.mainImport, false, onRelease);
    return this.options.capnwebStubs ? withCapnwebStubs(true, () => newStub(hook)) : newStub(hook);
  }

  /** @internal A hook on the peer's main interface that lives as long as the session. */
  remoteMainHook(): Hook {
    return new MainImportHook(this.mainImport, false);
  }

  /** Runs `listener` once when the session ends (at once if it has). */
  onEnded(listener: (reason: CapnWebError) => void): void {
    if (this.endReason) safeCall(listener, this.endReason);
    else (this.endListeners ??= []).push(listener);
  }

  /** @internal */
  addBrokenCallback(callback: (error: unknown) => void): number {
    return this.brokenCallbacks.push(callback) - 1;
  }

  /**
   * @internal An import resolved: its callbacks now follow the resolution. One that lands in this
   * session's list again keeps its original place.
   */
  moveBrokenCallbacks(slots: number[], resolution: Hook): void {
    const list = this.brokenCallbacks;
    for (const slot of slots) {
      const callback = list[slot];
      if (!callback) continue;
      const end = list.length;
      resolution.onBroken(callback);
      if (list[end] === callback) list[end] = undefined;
      else list[slot] = undefined;
    }
  }

  /** @internal One import failed on its own (cancelled, or the session is ending). */
  fireBrokenCallbacks(slots: number[], error: unknown): void {
    const list = this.brokenCallbacks;
    for (const slot of slots) {
      const callback = list[slot];
      list[slot] = undefined;
      if (callback) safeCall(callback, error);
    }
  }

  get callTimeout(): number | undefined {
    return this.options.callTimeout;
  }

  get isEnded(): boolean {
    return this.endReason !== undefined;
  }

  get endedWith(): CapnWebError | undefined {
    return this.endReason;
  }

  stats(): SessionStats {
    return { imports: this.imports.size, exports: this.exports.size };
  }

  /** Every entry of both tables, described (computed now: the entries keep only when and what). */
  capabilityTables(describeTarget?: TargetDescriber): CapabilityTables {
    return describeTables(this.imports.values(), this.exports, describeTarget);
  }

  /** @internal Answers awaited from the peer: pulled calls and promises it sent, not yet resolved. */
  awaitedCalls = 0;

  get callsInFlight(): number {
    return this.awaitedCalls;
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming frames

  /** Handles one frame from the peer. A frame that breaks the protocol aborts the session. */
  receive(frame: string): void {
    if (this.endReason) return;
    try {
      if (frame.length > this.limits.maxMessageSize) {
        throw new CapnWebError("protocol", `Message of ${frame.length} characters exceeds the limit of ${this.limits.maxMessageSize}.`);
      }
      let message: unknown;
      try {
        message = JSON.parse(frame);
      } catch {
        throw new CapnWebError("protocol", "Message is not valid JSON.");
      }
      if (this.options.capnwebStubs) withCapnwebStubs(true, () => this.dispatch(message));
      else this.dispatch(message);
    } catch (error) {
      this.abort(error instanceof CapnWebError ? error : new CapnWebError("protocol", errorMessage(error), { cause: error }));
    }
  }

  /** The transport is gone; everything in flight fails with `disconnected` (or `reason`). */
  transportClosed(reason?: CapnWebError): void {
    this.end(reason ?? (connectionClosed ??= new CapnWebError("disconnected", "The connection was closed.")), false);
  }

  private dispatch(message: unknown): void {
    if (!Array.isArray(message) || typeof message[0] !== "string") {
      throw new CapnWebError("protocol", "Message is not a tagged array.");
    }
    switch (message[0]) {
      case "push":
        if (message.length !== 2) break;
        this.receivePush(message[1]);
        return;
      case "pull":
        if (message.length !== 2 || !isId(message[1])) break;
        this.receivePull(message[1]);
        return;
      case "resolve":
      case "reject":
        if (message.length !== 3 || !isId(message[1])) break;
        this.receiveResolution(message[1], message[0] === "reject", message[2]);
        return;
      case "release":
        if (message.length !== 3 || !isId(message[1]) || !Number.isSafeInteger(message[2]) || message[2] < 1) break;
        this.releaseExport(message[1], message[2]);
        return;
      case "abort":
        this.receiveAbort(message[1]);
        return;
      case "stream":
        if (message.length !== 2) break;
        this.receiveStream(message[1]);
        return;
      case "pipe":
        if (message.length !== 1) break;
        this.receivePipe();
        return;
      default:
        throw new CapnWebError("protocol", `Unknown message type: ${String(message[0]).slice(0, 32)}`);
    }
    throw new CapnWebError("protocol", `Malformed ${message[0]} message.`);
  }

  private receivePush(expression: unknown): void {
    const id = this.nextPeerPushId++;
    this.introducedBy = id;
    const hook = soleHookOrPayload(Decoder.decode(expression, this));
    this.addExport(id, { hook, refcount: 1, pulling: false, autoRelease: false, createdAt: Date.now(), origin: pushOrigin(expression) });
  }

  /**
   * `["stream", expression]`: a push that is pulled at once and released by us once answered;
   * the peer never pulls or releases it (what a stream's write costs: one message each way).
   */
  private receiveStream(expression: unknown): void {
    if (this.pullsInFlight >= this.limits.maxPendingCalls) {
      throw this.limitBroken("maxPendingCalls", `More than ${this.limits.maxPendingCalls} of the peer's calls are waiting to be answered.`);
    }
    const id = this.nextPeerPushId++;
    this.introducedBy = id;
    const hook = soleHookOrPayload(Decoder.decode(expression, this));
    this.addExport(id, { hook, refcount: 1, pulling: false, autoRelease: true, createdAt: Date.now(), origin: "stream" });
    this.resolveExport(id);
  }

  /**
   * `["pipe"]`: the peer is about to send a ReadableStream. It takes the next push ID: the
   * writable end of a new TransformStream is exported under it (the peer writes into it), and
   * its readable end waits for the `["readable", id]` that hands it to the application.
   */
  private receivePipe(): void {
    const id = this.nextPeerPushId++;
    const { readable, writable } = new TransformStream();
    this.addExport(id, {
      hook: WritableStreamHook.of(writable, this),
      refcount: 1,
      pulling: false,
      autoRelease: false,
      createdAt: Date.now(),
      origin: "pipe",
      pipeReadable: readable,
    });
  }

  private receivePull(id: number): void {
    if (!this.exports.has(id)) throw new CapnWebError("protocol", `Pull of unknown export ${id}.`);
    if (this.pullsInFlight >= this.limits.maxPendingCalls) {
      throw this.limitBroken("maxPendingCalls", `More than ${this.limits.maxPendingCalls} of the peer's calls are waiting to be answered.`);
    }
    this.resolveExport(id);
  }

  private receiveResolution(id: number, isReject: boolean, expression: unknown): void {
    const entry = this.imports.get(id);
    this.introducedBy = entry;
    const payload = Decoder.decode(expression, this);
    if (!entry) {
      // Already released on our side: nobody wants the answer, but its stubs must be released.
      payload.dispose();
      return;
    }
    if (isReject) {
      payload.dispose();
      entry.resolve(new ErrorHook(payload.value));
    } else {
      entry.resolve(new PayloadHook(payload));
    }
  }

  private receiveAbort(expression: unknown): void {
    let reason: unknown;
    try {
      const payload = Decoder.decode(expression, this);
      payload.dispose();
      reason = payload.value;
    } catch (error) {
      reason = error;
    }
    const peer = reason instanceof Error ? reason.message : String(reason);
    this.end(new CapnWebError("aborted", `The peer aborted the session: ${peer}`, { cause: reason }), false);
  }

  // ---------------------------------------------------------------------------------------------
  // Exports

  /** Computes an export's resolution once and sends it (a pull, or our own exported promise). */
  private resolveExport(id: number): void {
    const entry = this.exports.get(id)!;
    if (entry.pulling) return;
    entry.pulling = true;
    this.pullsInFlight++;
    // Only the peer's calls and reads carry a path; our exported promises and stream writes do not.
    if (typeof entry.origin !== "string" && !this.options.untraced) entry.served = servedStarted(entry.origin);
    let pulled: Payload | Promise<Payload>;
    try {
      pulled = entry.hook.pull();
    } catch (error) {
      this.finishResolve(id, entry, undefined, error);
      return;
    }
    if (pulled instanceof Promise) {
      pulled.then(
        (payload) => this.finishResolve(id, entry, payload, undefined),
        (error) => this.finishResolve(id, entry, undefined, error ?? new Error("rejected")),
      );
    } else {
      this.finishResolve(id, entry, pulled, undefined);
    }
  }

  private finishResolve(id: number, entry: ExportEntry, payload: Payload | undefined, error: unknown): void {
    try {
      // Released meanwhile, or the session is gone: the peer no longer wants the answer.
      if (this.endReason || this.exports.get(id) !== entry) return;
      if (payload) {
        let value: unknown;
        try {
          value = Encoder.encode(payload.value, this);
        } catch (encodeError) {
          error = toError(encodeError);
          this.send(["reject", id, Encoder.encodeRejection(error, this)]);
          return;
        }
        this.send(["resolve", id, value]);
      } else {
        this.send(["reject", id, Encoder.encodeRejection(error, this)]);
      }
      if (entry.autoRelease) this.releaseExport(id, 1);
    } catch (fatal) {
      this.abort(fatal);
    } finally {
      if (entry.served) {
        servedEnded(entry.served, payload && error === undefined ? undefined : CapnWebError.from(error));
        entry.served = undefined;
      }
      if (--this.pullsInFlight === 0 && this.drained) {
        this.drained.resolve();
        this.drained = undefined;
      }
    }
  }

  /** Implements `release` from the peer, and rollback of our own failed encodings. */
  private releaseExport(id: number, count: number): void {
    const entry = this.exports.get(id);
    if (!entry) throw new CapnWebError("protocol", `Release of unknown export ${id}.`);
    if (entry.refcount < count) {
      throw new CapnWebError("protocol", `Release of export ${id} by ${count} exceeds its refcount ${entry.refcount}.`);
    }
    entry.refcount -= count;
    if (entry.refcount === 0) {
      this.exports.delete(id);
      entry.hook.dispose();
    }
  }

  // Exporter ------------------------------------------------------------------------------------

  /** @internal */
  importIdOf(hook: Hook): number | undefined {
    const actual = hook.standsFor() ?? hook;
    if (actual instanceof ImportHook) return actual.pendingEntryOf(this)?.id;
    return undefined;
  }

  /** @internal */
  exportHook(hook: Hook): number {
    this.assertOpen();
    if (hook instanceof TargetHook) {
      const id = this.exportTarget(hook.target);
      hook.dispose();
      return id;
    }
    const id = this.nextExportId--;
    this.addExport(id, { hook, refcount: 1, pulling: false, autoRelease: false, createdAt: Date.now(), origin: "stub" });
    return id;
  }

  /** @internal */
  exportTarget(target: object): number {
    this.assertOpen();
    // Every send gets a fresh ID: capnweb's importer releases an ID by one however often it was
    // introduced, so reusing IDs would leak them on our side. The target itself is shared and
    // disposed when its last export is released.
    this.checkExportRoom();
    const existing = this.targetHooks.get(target);
    let hook: Hook;
    if (existing && existing.isLive) {
      hook = existing.dup();
    } else {
      const created = TargetHook.wrap(target, () => {
        if (this.targetHooks.get(target) === created) this.targetHooks.delete(target);
      });
      this.targetHooks.set(target, created);
      hook = created;
    }
    const id = this.nextExportId--;
    this.exports.set(id, { hook, refcount: 1, pulling: false, autoRelease: false, createdAt: Date.now(), origin: "target" });
    return id;
  }

  /** @internal */
  exportPromise(hook: Hook): number {
    this.assertOpen();
    const id = this.nextExportId--;
    this.addExport(id, { hook, refcount: 1, pulling: false, autoRelease: false, createdAt: Date.now(), origin: "promise" });
    // Never before the message that introduces the promise has gone out (we are inside its
    // encoding now): a resolve for an ID the peer has not seen yet would be dropped.
    queueMicrotask(() => {
      if (this.exports.has(id) && !this.endReason) this.resolveExport(id);
    });
    return id;
  }

  /** @internal */
  unexport(ids: number[]): void {
    for (const id of ids) this.releaseExport(id, 1);
  }

  /** @internal */
  rewriteError(error: Error): Error | void {
    return this.options.onSendError?.(error);
  }

  // Importer ------------------------------------------------------------------------------------

  /** @internal */
  importStub(id: number): Hook {
    this.assertOpen();
    if (id >= 0) throw new CapnWebError("protocol", `The peer exported a non-negative ID ${id}.`);
    let entry = this.imports.get(id);
    if (entry) entry.remoteRefcount++;
    else {
      this.checkImportRoom();
      this.imports.set(id, (entry = new ImportEntry(this, id, 1, false, this.introductionOrigin())));
    }
    return new ImportHook(entry, false);
  }

  /** @internal */
  importPromise(id: number): Hook {
    this.assertOpen();
    if (id >= 0 || this.imports.has(id)) {
      throw new CapnWebError("protocol", `The peer exported promise ${id} under an ID that is taken or not negative.`);
    }
    this.checkImportRoom();
    const entry = new ImportEntry(this, id, 1, true, this.introductionOrigin());
    this.imports.set(id, entry);
    return new ImportHook(entry, true);
  }

  /**
   * What the frame being decoded is: the answer to one of our calls (its import entry), or the
   * peer's push of this ID. Kept as the plain reference, so that decoding pays one field write.
   */
  private introducedBy: ImportEntry | number | undefined;

  private introductionOrigin(): string {
    const by = this.introducedBy;
    if (typeof by === "number") return `argument of the peer's push ${by}`;
    return by ? `answer to call ${describeOrigin(by.origin)}` : "introduced by the peer";
  }

  /** @internal */
  exportedHook(id: number): Hook | undefined {
    return this.exports.get(id)?.hook;
  }

  /** @internal A pipe's readable end is handed out once; anything else is the peer's error. */
  takePipeReadable(id: number): PipeEnd {
    const entry = this.exports.get(id);
    const readable = entry?.pipeReadable;
    if (!entry || !readable) throw new CapnWebError("protocol", `Export ${id} is not a pipe, or its readable end was already taken.`);
    entry.pipeReadable = undefined;
    const writer = entry.hook as WritableStreamHook;
    return { readable, break: (reason) => writer.fail(reason) };
  }

  // Streams --------------------------------------------------------------------------------------

  /** @internal */
  trackStream(stream: LiveStream): () => void {
    if (this.endReason) {
      const reason = this.endReason;
      queueMicrotask(() => stream.fail(reason));
      return noop;
    }
    this.liveStreams.add(stream);
    return () => this.liveStreams.delete(stream);
  }

  /**
   * @internal Announces a pipe (`["pipe"]`, which the peer files under the ID our next push
   * would take) and pipes `readable` into it. The pipe's entry leaves the import table when the
   * stream ends: the writable in front of it releases it once closed, aborted or failed.
   */
  createPipe(readable: ReadableStream): Pipe {
    this.assertOpen();
    this.checkImportRoom();
    this.send(["pipe"]);
    const entry = new ImportEntry(this, this.nextImportId++, 1, false, "pipe");
    this.imports.set(entry.id, entry);
    const writable = writableFromHook(new ImportHook(entry, false), this as StreamRegistry);
    const abandon = new AbortController();
    readable.pipeTo(writable, { signal: abandon.signal }).catch(noop);
    return { id: entry.id, abandon: (reason) => abandon.abort(reason) };
  }

  // ---------------------------------------------------------------------------------------------
  // Outgoing

  /** @internal */
  sendCall(id: number, path: PropertyPath, args: Payload | undefined): Hook {
    if (this.endReason) {
      args?.dispose();
      return new ErrorHook(this.endReason);
    }
    try {
      this.checkImportRoom();
    } catch (error) {
      args?.dispose();
      return new ErrorHook(error);
    }
    const expression: unknown[] = ["pipeline", id, path];
    if (args) {
      try {
        expression.push(Encoder.encodeArgs(args.value as unknown[], this));
      } catch (error) {
        return new ErrorHook(CapnWebError.from(error, "invalid_argument"));
      } finally {
        args.dispose();
      }
    }
    this.send(["push", expression]);
    return this.newPushImport(path);
  }

  /** @internal */
  sendMap(id: number, path: PropertyPath, captures: Hook[], instructions: unknown[]): Hook {
    if (this.endReason) {
      for (const cap of captures) cap.dispose();
      return new ErrorHook(this.endReason);
    }
    try {
      this.checkImportRoom();
    } catch (error) {
      for (const cap of captures) cap.dispose();
      return new ErrorHook(error);
    }
    const wireCaptures = captures.map((cap) => {
      const importId = this.importIdOf(cap);
      if (importId === undefined) return ["export", this.exportHook(cap)];
      // Referring to an import needs no reference of ours once the frame is queued.
      queueMicrotask(() => cap.dispose());
      return ["import", importId];
    });
    this.send(["push", ["remap", id, path, wireCaptures, instructions]]);
    return this.newPushImport(path);
  }

  /**
   * @internal `["stream", ["pipeline", id, path, args]]`: a call answered without a pull, whose
   * answer the peer releases itself. Its entry leaves the import table once answered. Throws
   * when the arguments cannot be encoded (the writer fails at once, as capnweb's does).
   */
  sendStream(id: number, path: PropertyPath, args: Payload): StreamCall {
    if (this.endReason) {
      args.dispose();
      throw this.endReason;
    }
    let size: number;
    const bytesArgs = soleBytesArgsJson(args.value as unknown[]);
    if (bytesArgs !== undefined) {
      args.dispose();
      size = this.sendText(`["stream",["pipeline",${JSON.stringify(id)},${JSON.stringify(path)},${bytesArgs}]]`);
    } else {
      let expression: unknown[];
      try {
        expression = ["pipeline", id, path, Encoder.encodeArgs(args.value as unknown[], this)];
      } catch (error) {
        throw CapnWebError.from(error, "invalid_argument");
      } finally {
        args.dispose();
      }
      size = this.send(["stream", expression]);
    }
    const entry = new ImportEntry(this, this.nextImportId++, 0, "stream", path);
    this.imports.set(entry.id, entry);
    const promise = entry.awaitResolution().then(
      () => this.forgetStreamCall(entry),
      (error) => {
        this.forgetStreamCall(entry);
        throw error;
      },
    );
    return { promise, size };
  }

  private forgetStreamCall(entry: ImportEntry): void {
    if (this.imports.get(entry.id) === entry) this.imports.delete(entry.id);
    entry.resolution?.dispose();
  }

  private newPushImport(path: PropertyPath): Hook {
    const entry = new ImportEntry(this, this.nextImportId++, 1, false, path);
    this.imports.set(entry.id, entry);
    return new ImportHook(entry, true);
  }

  /** @internal */
  sendPull(id: number): void {
    if (this.endReason) throw this.endReason;
    this.send(["pull", id]);
  }

  /** @internal Gives an import back to the peer with everything it introduced; never after the end. */
  releaseImport(entry: ImportEntry, reason: ReleaseReason): void {
    if (entry.remoteRefcount === 0 || entry === this.mainImport) return;
    const count = entry.remoteRefcount;
    entry.remoteRefcount = 0;
    if (this.imports.get(entry.id) === entry) this.imports.delete(entry.id);
    if (this.endReason) return;
    this.send(["release", entry.id, count]);
    const name = this.options.name;
    reportRelease(name === undefined ? { importId: entry.id, refcount: count, reason } : { importId: entry.id, refcount: count, reason, name });
  }

  /** Sends one message; returns its size as the sink counts it (for flow control). */
  private send(message: unknown[]): number {
    if (this.endReason) return 0;
    return this.sendText(JSON.stringify(message));
  }

  /** Sends one frame already in JSON text; returns its size as the sink counts it. */
  private sendText(frame: string): number {
    if (this.endReason) return 0;
    const size = this.sink.send(frame);
    return typeof size === "number" ? size : frame.length;
  }

  private assertOpen(): void {
    if (this.endReason) throw this.endReason;
  }

  // ---------------------------------------------------------------------------------------------
  // Limits

  private addExport(id: number, entry: ExportEntry): void {
    this.checkExportRoom();
    this.exports.set(id, entry);
  }

  private checkExportRoom(): void {
    // The main interface (ID 0) is not the peer's doing.
    if (this.exports.size > this.limits.maxExports) {
      throw this.limitBroken("maxExports", `The export table is over its limit of ${this.limits.maxExports} entries.`);
    }
  }

  private checkImportRoom(): void {
    if (this.imports.size > this.limits.maxImports) {
      throw this.limitBroken("maxImports", `The import table is over its limit of ${this.limits.maxImports} entries.`);
    }
  }

  /**
   * The error for a broken limit, to throw; the session is aborted with it as well, at the latest
   * once the current job is done, even where the throw is caught and sent as one call's failure.
   */
  limitBroken(limit: LimitName, message: string): CapnWebError {
    const error = limitExceeded(limit, message);
    queueMicrotask(() => this.abort(error));
    return error;
  }

  // ---------------------------------------------------------------------------------------------
  // Ending

  /** Resolves once every pulled export has been answered (what an HTTP batch waits for). */
  drain(): Promise<void> {
    if (this.endReason) return Promise.reject(this.endReason);
    if (this.pullsInFlight === 0) return Promise.resolve();
    this.drained ??= new Deferred();
    return this.drained.promise;
  }

  /** Ends the session because of `error`, telling the peer with `["abort", ...]`. */
  abort(error: unknown): void {
    this.end(error instanceof CapnWebError ? error : CapnWebError.from(error, "protocol"), true);
  }

  /** Ends the session on our own initiative, without blaming the peer. */
  close(reason?: CapnWebError): void {
    this.end(reason ?? (sessionClosed ??= new CapnWebError("disconnected", "The session was closed.")), false);
  }

  private end(reason: CapnWebError, tellPeer: boolean): void {
    if (this.endReason) return;
    if (tellPeer) {
      try {
        this.sink.send(JSON.stringify(["abort", Encoder.encodeRejection(reason)]));
      } catch {
        // The transport may be the reason we are aborting.
      }
    }
    this.endReason = reason;
    try {
      this.sink.close(tellPeer ? reason : undefined);
    } catch {
      // Closing a broken transport may throw; the session is over regardless.
    }
    const imports = [...this.imports.values()];
    const exports = [...this.exports.values()];
    this.imports.clear();
    this.exports.clear();
    this.targetHooks.clear();
    // Both ends of every stream fail with the reason, whether or not a write is in flight.
    const streams = [...this.liveStreams];
    this.liveStreams.clear();
    for (const stream of streams) safeCall((reason) => stream.fail(reason), reason);
    const broken = this.brokenCallbacks;
    this.brokenCallbacks = [];
    for (const callback of broken) if (callback) safeCall(callback, reason);
    // What the peer exported to us is gone for good, and says so; our calls in flight fail with
    // the reason the session ended.
    let stale: CapnWebError | undefined;
    for (const entry of imports) {
      if (entry.id < 0) entry.fail((stale ??= staleCapability(reason)));
      else entry.fail(reason);
    }
    // Listeners first: what stops because the session ended (target actors) learns it from them,
    // before the disposal of the exports below would stop it as merely "released".
    const listeners = this.endListeners;
    this.endListeners = undefined;
    if (listeners) for (const listener of listeners) safeCall(listener, reason);
    for (const entry of exports) entry.hook.dispose();
    if (this.drained) {
      this.drained.promise.catch(noop);
      this.drained.reject(reason);
      this.drained = undefined;
    }
    if (reason.type === "limit") reportLimit(reason, this.options.peer);
    if (this.options.onEnd) safeCall(this.options.onEnd, reason);
  }
}

// The ordinary reasons a session ends, and the missing main of a pure client, are made once:
// an HTTP batch session is born and ends for every request, and an error's stack costs.
let connectionClosed: CapnWebError | undefined;
let sessionClosed: CapnWebError | undefined;
let noMain: ErrorHook | undefined;

function staleCapability(reason: CapnWebError): CapnWebError {
  return CapnWebError.ofLifecycle(
    "stale",
    `This capability belonged to a connection that has ended (${reason.message}); the peer has forgotten it. ` +
      "Obtain it again on the new connection, or make it restorable with CapnWeb.restorable(session, (root) => ...), " +
      "which derives it again after every reconnect.",
    { cause: reason },
  );
}

function hookForMain(main: unknown, owned: boolean): Hook {
  if (main === undefined || main === null) {
    return (noMain ??= new ErrorHook(new CapnWebError("not_found", "This connection has no main object.")));
  }
  if (isTarget(main) || typeof main === "function") return TargetHook.wrap(main as object, undefined, owned);
  return new PayloadHook(Payload.fromApp(main));
}

/** A push that is exactly one call or reference needs no payload around it. */
function soleHookOrPayload(payload: Payload): Hook {
  return payload.soleHook() ?? new PayloadHook(payload);
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(errorMessage(value));
}

function errorMessage(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return String(value);
  } catch {
    return "(unprintable error)";
  }
}

function safeCall(callback: (error: any) => void, error: unknown): void {
  try {
    callback(error);
  } catch {
    // A broken observer must not break the session's shutdown.
  }
}

function noop(): void {}
