// ReadableStream and WritableStream over Cap'n Web, as capnweb 0.12 puts them on the wire.
//
// - A WritableStream travels as `["writable", exportId]`: a capability with three methods,
//   `write(chunk)`, `close()` and `abort(reason)`. The receiver gets a local WritableStream whose
//   writes are `["stream", ["pipeline", id, ["write"], [chunk]]]` messages: calls whose answer the
//   peer releases by itself (no pull, no release), paced by the sender's FlowController.
// - A ReadableStream travels as `["readable", importId]` after a `["pipe"]` message: the pipe
//   makes the receiver export the writable end of a new TransformStream (under the ID the next
//   push would take); the sender pipes its stream into that export, and `["readable", id]` hands
//   the receiver the readable end, once.
// - A write is answered once the receiving writer accepted the chunk (`writer.write()` settled).
//   Into a pipe that happens when the reader takes it, so a slow reader holds back the answers,
//   the sender's window fills, and the sender's writes block: what is queued for one stream is
//   bounded by the window (64 KiB .. 1 GiB, decaying towards 64 KiB while the reader is slow).
// - When the session ends, every stream it carries fails with the session's end reason on both
//   sides (the registry below), rather than waiting for a write that would tell it.

import { CapnWebError } from "./errors.js";
import { FlowController } from "./flow-control.js";
import { ErrorHook, Hook, PayloadHook, PromiseHook, type PropertyPath, type StreamCall } from "./hooks.js";
import { currentReleaseReason, withReleaseReason } from "./ownership.js";
import { Payload } from "./payload.js";
import { disposableValue, releaseStub } from "./stub.js";

/** A stream that must fail when its session ends. */
export interface LiveStream {
  fail(reason: CapnWebError): void;
}

/** Where a session keeps its live streams; `trackStream` returns the function that forgets one. */
export interface StreamRegistry {
  trackStream(stream: LiveStream): () => void;
}

function noop(): void {}

// -----------------------------------------------------------------------------------------------
// What both stream ends share: one state counted across dups; nothing to read, map or await.

abstract class StreamEndHook<State extends { refs: number }> extends Hook {
  protected state: State | undefined;

  protected constructor(
    state: State,
    private readonly kind: "ReadableStream" | "WritableStream",
  ) {
    super();
    state.refs++;
    this.state = state;
  }

  /** Another reference to the same state. */
  protected abstract again(state: State): Hook;

  get(): Hook {
    return new ErrorHook(new CapnWebError("invalid_argument", `Cannot access properties on a ${this.kind} stub.`));
  }

  map(_path: PropertyPath, captures: Hook[]): Hook {
    for (const cap of captures) cap.dispose();
    return new ErrorHook(new CapnWebError("invalid_argument", `Cannot use map() on a ${this.kind}.`));
  }

  pull(): Promise<Payload> {
    return Promise.reject(new CapnWebError("invalid_argument", `A ${this.kind} stub cannot be awaited.`));
  }

  dup(): Hook {
    if (!this.state) throw new CapnWebError("released", `Attempted to dup a ${this.kind} stub after it was disposed.`);
    return this.again(this.state);
  }

  /** Gives this reference up; returns the state when it was the last one. */
  protected releaseState(): State | undefined {
    const state = this.state;
    this.state = undefined;
    return state && --state.refs === 0 ? state : undefined;
  }
}

// -----------------------------------------------------------------------------------------------
// A local WritableStream, exported: the peer calls write/close/abort on it.

interface WriterState {
  refs: number;
  readonly writer: WritableStreamDefaultWriter<unknown>;
  /** close() or abort() was called, or the stream failed: no abort on the last release. */
  closed: boolean;
  untrack: () => void;
}

// One writer per stream, however often it is sent: a stream has a single lock to give.
const writers = new WeakMap<WritableStream, WriterState>();

export class WritableStreamHook extends StreamEndHook<WriterState> {
  private constructor(state: WriterState) {
    super(state, "WritableStream");
  }

  protected again(state: WriterState): Hook {
    return new WritableStreamHook(state);
  }

  /** A hook on `stream`; takes its writer (a locked stream is refused with a TypeError). */
  static of(stream: WritableStream, registry?: StreamRegistry): WritableStreamHook {
    let state = writers.get(stream);
    if (!state || state.refs === 0) {
      const created: WriterState = { refs: 0, writer: stream.getWriter(), closed: false, untrack: noop };
      created.untrack = registry?.trackStream({ fail: (reason) => abortWriter(created, reason) }) ?? noop;
      writers.set(stream, created);
      state = created;
    }
    return new WritableStreamHook(state);
  }

  call(path: PropertyPath, args: Payload): Hook {
    const state = this.state;
    if (!state) {
      args.dispose();
      return new ErrorHook(new CapnWebError("released", "Attempted to use a WritableStream stub after it was disposed."));
    }
    const method = path.length === 1 ? path[0] : undefined;
    if (method !== "write" && method !== "close" && method !== "abort") {
      args.dispose();
      const what = path.length === 1 ? `Unknown WritableStream method: ${String(method)}` : "WritableStream stub only supports direct method calls";
      return new ErrorHook(new CapnWebError("not_found", what));
    }
    if (method !== "write") {
      state.closed = true;
      state.untrack();
    }
    // Without promises in the arguments the chunk reaches the writer now, so writes keep the
    // order their messages came in.
    if (!args.hasPending) return deliver(state.writer, method, args);
    return new PromiseHook(
      args.resolvePending().then(
        () => deliver(state.writer, method, args),
        (error) => {
          args.dispose();
          throw error;
        },
      ),
    );
  }

  /** Errors the local stream with `reason` (its reader, for a pipe's writable end), unless it ended. */
  fail(reason: unknown): void {
    if (this.state) abortWriter(this.state, reason);
  }

  dispose(): void {
    const state = this.releaseState();
    if (!state) return;
    state.untrack();
    // The peer let go without closing: the local writer learns it was abandoned.
    if (!state.closed) abortWriter(state, new CapnWebError("released", "WritableStream RPC stub was disposed without calling close()"));
    state.writer.releaseLock();
  }
}

function abortWriter(state: WriterState, reason: unknown): void {
  if (state.closed) return;
  state.closed = true;
  state.writer.abort(reason).catch(noop);
}

const DONE = (): Hook => new PayloadHook(Payload.fromApp(undefined));

/**
 * Hands one call to the local writer. A write is answered when the writer accepted the chunk
 * (capnweb's rule, which is the backpressure: into a pipe, that is when the reader took it). The
 * chunk's stubs belong to whoever reads it from then on.
 */
function deliver(writer: WritableStreamDefaultWriter<unknown>, method: "write" | "close" | "abort", args: Payload): Hook {
  let settled: Promise<void>;
  if (method === "write") {
    const list = args.takeForApp() as unknown[];
    const chunk = disposableValue(list[0]);
    settled = writer.write(chunk).catch((error) => {
      releaseAllStubs(chunk);
      throw error;
    });
  } else {
    const list = args.deliverForCall() as unknown[];
    settled = method === "close" ? writer.close() : writer.abort(list[0]);
    settled = settled.finally(() => args.dispose());
  }
  return new PromiseHook(settled.then(DONE));
}

function releaseAllStubs(value: unknown): void {
  const dispose = value !== null && typeof value === "object" ? (value as { [Symbol.dispose]?: () => void })[Symbol.dispose] : undefined;
  if (typeof dispose === "function") dispose.call(value);
  else releaseStub(value);
}

// -----------------------------------------------------------------------------------------------
// A local ReadableStream held by a decoded value: released unread, it is cancelled.

interface ReaderState {
  refs: number;
  readonly stream: ReadableStream;
  done: boolean;
  /** For a pipe's readable end: errors it even while it is being read. */
  readonly breakPipe: ((reason: unknown) => void) | undefined;
}

export class ReadableStreamHook extends StreamEndHook<ReaderState> {
  private constructor(state: ReaderState) {
    super(state, "ReadableStream");
  }

  protected again(state: ReaderState): Hook {
    return new ReadableStreamHook(state);
  }

  static of(stream: ReadableStream, breakPipe?: (reason: unknown) => void): ReadableStreamHook {
    return new ReadableStreamHook({ refs: 0, stream, done: false, breakPipe });
  }

  call(_path: PropertyPath, args: Payload): Hook {
    args.dispose();
    return new ErrorHook(new CapnWebError("invalid_argument", "Cannot call methods on a ReadableStream stub."));
  }

  dispose(): void {
    const state = this.releaseState();
    if (!state || state.done) return;
    state.done = true;
    // A stream someone is reading (or piping) is theirs to finish; an untouched one is cancelled,
    // which reaches the sender as a failed write and cancels its source. When the owner that
    // held it ended, the pipe is broken even while it is read: nobody is left to finish it.
    if (!state.stream.locked) {
      state.stream.cancel(new CapnWebError("released", "ReadableStream RPC stub was disposed without being consumed")).catch(noop);
    } else if (state.breakPipe && currentReleaseReason() === "owner-ended") {
      state.breakPipe(new CapnWebError("released", "The owner of this ReadableStream ended."));
    }
  }
}

// -----------------------------------------------------------------------------------------------
// A local WritableStream in front of a remote one.

/**
 * A WritableStream whose writes go to the remote writable stream behind `hook` (a capability with
 * write/close/abort), as `stream` calls paced by a FlowController. Owns `hook`: it is released
 * once the stream is closed, aborted or failed.
 */
export function writableFromHook(hook: Hook, registry?: StreamRegistry, now: () => number = () => performance.now()): WritableStream {
  const flow = new FlowController(now);
  let failure: unknown;
  let released = false;
  let blocked: { resolve(): void; reject(error: unknown): void } | undefined;
  let controller: WritableStreamDefaultController | undefined;
  let untrack: () => void = noop;

  const release = () => {
    if (released) return;
    released = true;
    untrack();
    hook.dispose();
  };
  const unblock = (error?: unknown) => {
    const waiting = blocked;
    blocked = undefined;
    if (!waiting) return;
    if (error === undefined) waiting.resolve();
    else waiting.reject(error);
  };
  // The first failure is the stream's: later writes and close() report it.
  const fail = (error: unknown) => {
    if (failure !== undefined) return;
    failure = error;
    controller?.error(error);
    unblock(error);
    release();
  };

  return new WritableStream({
    start(streamController) {
      controller = streamController;
      untrack = registry?.trackStream({ fail }) ?? noop;
    },
    write(chunk) {
      if (failure !== undefined) throw failure;
      let call: StreamCall;
      try {
        call = hook.stream(["write"], Payload.fromApp([chunk]));
      } catch (error) {
        fail(error);
        throw error;
      }
      const { promise, size } = call;
      // A local writer has no size to measure: each write waits for the one before.
      if (size === undefined) {
        return promise.catch((error) => {
          fail(error);
          throw error;
        });
      }
      const { token, shouldBlock } = flow.onSend(size);
      promise.then(
        () => {
          if (flow.onAck(token)) unblock();
        },
        (error) => {
          flow.onError(token);
          fail(error);
        },
      );
      if (shouldBlock) return new Promise<void>((resolve, reject) => (blocked = { resolve, reject }));
      return undefined;
    },
    async close() {
      if (failure !== undefined) {
        release();
        throw failure;
      }
      try {
        await hook.stream(["close"], Payload.fromApp([])).promise;
      } catch (error) {
        throw failure ?? error;
      } finally {
        release();
      }
    },
    abort(reason) {
      if (failure !== undefined) return;
      failure = reason ?? new CapnWebError("aborted", "WritableStream was aborted");
      unblock(failure);
      let call: StreamCall;
      try {
        call = hook.stream(["abort"], Payload.fromApp([reason]));
      } catch {
        release();
        return;
      }
      call.promise.then(release, release);
    },
  });
}

/**
 * The reference a decoded WritableStream's payload owns: released a microtask late, so that
 * writes the receiving method made before returning (queued until the stream has started) go
 * out before the release that makes the peer abort an unclosed stream.
 */
export class DeferredReleaseHook extends Hook {
  constructor(private readonly inner: Hook) {
    super();
  }
  call(path: PropertyPath, args: Payload): Hook {
    return this.inner.call(path, args);
  }
  get(path: PropertyPath): Hook {
    return this.inner.get(path);
  }
  map(path: PropertyPath, captures: Hook[], instructions: unknown[]): Hook {
    return this.inner.map(path, captures, instructions);
  }
  pull(): Payload | Promise<Payload> {
    return this.inner.pull();
  }
  dup(): Hook {
    return this.inner.dup();
  }
  dispose(): void {
    // The release is reported with the reason it had now (an owner's end, a leak caught).
    const why = currentReleaseReason();
    queueMicrotask(() => withReleaseReason(why, () => this.inner.dispose()));
  }
}
