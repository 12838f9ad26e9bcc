// capnweb's RpcSession over capnweb's transport interface (send/receive/abort), driving a session
// of our engine. Frames go out as they are made; the read loop feeds the engine one at a time.

import { CapnWebError } from "../protocol/errors.js";
import type { Limits } from "../protocol/limits.js";
import { RpcSession as EngineSession, type FrameSink } from "../protocol/session.js";
import type { Transport } from "../transports/transport.js";
import { capnwebErrorOf } from "./errors.js";
import type { RpcStub } from "./stubs.js";
// The RpcStub and RpcPromise classes install how compatible stubs behave.
import "./stubs.js";

/** capnweb's string transport. */
export interface RpcTransport {
  readonly encodingLevel?: "string";
  send(message: string): void | Promise<void>;
  receive(): Promise<string>;
  abort?(reason: unknown): void;
}

/**
 * capnweb's transport of JSON-compatible trees. Only the JSON-compatible levels are carried:
 * our engine encodes bytes, bigints and dates as JSON expressions at every level.
 */
export interface RpcTransportWithCustomEncoding {
  readonly encodingLevel: "jsonCompatible" | "jsonCompatibleWithBytes" | "structuredClonable";
  send(message: unknown): number | void;
  receive(): Promise<unknown>;
  abort?(reason: unknown): void;
}

export type AnyRpcTransport = RpcTransport | RpcTransportWithCustomEncoding;

export interface RpcSessionOptions {
  /** Sees every error before it is sent; return a replacement (its stack is sent) or nothing. */
  onSendError?: (error: Error) => Error | void;
  /** Receiver-side limits (defaults: capnweb 0.12's). */
  limits?: Partial<Limits>;
}

export interface RpcSessionStats {
  imports: number;
  exports: number;
}

/** A failure of the transport, carried as a lifecycle error whose cause is what was thrown. */
function transportFailure(error: unknown): CapnWebError {
  return CapnWebError.ofLifecycle("disconnected", error instanceof Error ? error.message : String(error), { cause: error });
}

/** What calls in flight and later calls see once the main stub was disposed (capnweb's words). */
function shutDownByMain(): CapnWebError {
  const message = "RPC session was shut down by disposing the main stub";
  return CapnWebError.ofLifecycle("disconnected", message, { cause: new Error(message) });
}

export class RpcSession<T = unknown> {
  readonly #engine: EngineSession;
  readonly #main: RpcStub<T>;

  constructor(transport: AnyRpcTransport, localMain?: unknown, options: RpcSessionOptions = {}) {
    const structured = transport.encodingLevel !== undefined && transport.encodingLevel !== "string";
    const fail = (error: unknown): void => this.#engine.abort(transportFailure(error));
    const endedWith = (): CapnWebError | undefined => this.#engine?.endedWith;
    const sink: FrameSink = {
      send(frame) {
        try {
          const sent = structured ? (transport as RpcTransportWithCustomEncoding).send(JSON.parse(frame)) : (transport as RpcTransport).send(frame);
          // A custom-encoding transport may say what the message cost it: flow control counts that.
          if (typeof sent === "number") return sent;
          if (sent !== undefined && typeof (sent as Promise<void>).then === "function") (sent as Promise<void>).then(undefined, fail);
        } catch (error) {
          // As capnweb does: the caller finishes its own bookkeeping before the session aborts.
          queueMicrotask(() => fail(error));
        }
        return undefined;
      },
      close(reason) {
        // The transport hears why: our abort's reason, the peer's, or the transport's own failure.
        const why = reason ?? endedWith();
        transport.abort?.(why === undefined ? new Error("RPC session was closed.") : capnwebErrorOf(why));
      },
    };
    this.#engine = new EngineSession(sink, localMain, { ...options, capnwebStubs: true });
    this.#main = this.#engine.remoteMain<T>(() => this.#engine.close(shutDownByMain())) as RpcStub<T>;
    void this.#readLoop(transport, structured);
  }

  async #readLoop(transport: AnyRpcTransport, structured: boolean): Promise<void> {
    const engine = this.#engine;
    while (!engine.isEnded) {
      let message: unknown;
      try {
        message = await transport.receive();
      } catch (error) {
        engine.abort(transportFailure(error));
        return;
      }
      if (engine.isEnded) return;
      engine.receive(structured ? JSON.stringify(message) : (message as string));
    }
  }

  /** A stub of the peer's main object. Disposing it ends the session. */
  getRemoteMain(): RpcStub<T> {
    return this.#main;
  }

  getStats(): RpcSessionStats {
    return this.#engine.stats();
  }

  /** Resolves once every answer the peer pulled has been sent. */
  drain(): Promise<void> {
    return this.#engine.drain();
  }
}

/** @internal A session of this entry over one of our transports (WebSocket, MessagePort, HTTP batch). */
export function stubOverTransport<T>(transport: Transport, localMain: unknown, options: RpcSessionOptions = {}): RpcStub<T> {
  const engine = new EngineSession(transport, localMain, { ...options, capnwebStubs: true });
  transport.start({ frame: (text) => engine.receive(text), closed: (error) => engine.transportClosed(error) });
  return engine.remoteMain<T>(() => engine.close(shutDownByMain())) as RpcStub<T>;
}
