// connect(url): a root stub for the peer's main interface. ws:// and wss:// speak WebSocket;
// http:// and https:// speak HTTP batch, unless `transport` says otherwise.

import { CapnWebError } from "../protocol/errors.js";
import { type Limits, resolveLimits } from "../protocol/limits.js";
import { sessionOfStub, type SessionStats } from "../protocol/session.js";
import { newStub } from "../protocol/stub.js";
import type { Stub } from "../protocol/types.js";
import { MessagePortTransport, type MessagePortEncoding, type MessagePortLike } from "../transports/message-port.js";
import { openClientWebSocket } from "../transports/open-websocket.js";
import { Connection, type ConnectionState } from "./connection.js";
import { HttpBatchClient, HttpBatchRootHook } from "./http-batch-client.js";

export interface ConnectOptions {
  /**
   * Milliseconds to wait for the connection (WebSocket) or for each batch (HTTP), and the
   * default timeout of every awaited call on this connection.
   */
  timeout?: number;
  /** Sent with the WebSocket upgrade or with every HTTP batch (authentication, mostly). */
  headers?: Record<string, string>;
  /** Overrides what the URL scheme implies. */
  transport?: "websocket" | "http";
  /** What this side offers the peer as its main interface (bidirectional RPC). */
  main?: unknown;
  /** Receiver-side limits on what the peer may send. */
  limits?: Partial<Limits>;
  /** Sees (and may rewrite) every error before it is sent; stacks are redacted otherwise. */
  onSendError?: (error: Error) => Error | void;
  /** Every change of the connection's state (WebSocket only: HTTP batch has no connection). */
  onStateChange?: (state: ConnectionState, reason?: CapnWebError) => void;
}

/** What stats() and close() reach through a root stub. */
export interface Endpoint {
  stats(): SessionStats;
  close(): void;
}
const endpoints = new WeakMap<object, Endpoint>();

/** Makes `stats(root)` and `close(root)` work for a root stub made elsewhere (a session actor). */
export function registerEndpoint(root: object, endpoint: Endpoint): void {
  endpoints.set(root, endpoint);
}

export async function connect<Api = unknown>(url: string | URL, options: ConnectOptions = {}): Promise<Stub<Api>> {
  const { href, kind } = resolveEndpoint(url, options.transport);
  // Resolved once: every session of the connection (each HTTP batch is one) shares the object.
  const sessionOptions = { limits: Object.freeze(resolveLimits(options.limits)), onSendError: options.onSendError, callTimeout: options.timeout };
  if (kind === "http") {
    const client = new HttpBatchClient(href, { ...sessionOptions, headers: options.headers, timeout: options.timeout }, options.main);
    const root = newStub(new HttpBatchRootHook(client));
    endpoints.set(root, client);
    return root;
  }
  options.onStateChange?.("connecting");
  let transport;
  try {
    transport = await openClientWebSocket(href, { headers: options.headers, timeout: options.timeout });
  } catch (error) {
    const reason = CapnWebError.from(error, "disconnected");
    options.onStateChange?.("broken", reason);
    throw reason;
  }
  const connection = new Connection(href, transport, options.main, { ...sessionOptions, onStateChange: options.onStateChange });
  const root = connection.session.remoteMain<Api>(() => connection.close());
  endpoints.set(root, connection);
  return root;
}

/**
 * A session over a MessagePort (a `worker_threads` port, or one end of a `MessageChannel`): the
 * other end runs `connectMessagePort` too, each side offering its `main`.
 */
export function connectMessagePort<Api = unknown>(
  port: MessagePortLike,
  options: Pick<ConnectOptions, "main" | "limits" | "onSendError" | "onStateChange"> & {
    /** "structured" to talk to capnweb's own `newMessagePortRpcSession` on the other end. */
    encoding?: MessagePortEncoding;
  } = {},
): Stub<Api> {
  const connection = new Connection("message-port:", new MessagePortTransport(port, options.encoding), options.main, {
    limits: options.limits,
    onSendError: options.onSendError,
    onStateChange: options.onStateChange,
  });
  const root = connection.session.remoteMain<Api>(() => connection.close());
  endpoints.set(root, connection);
  return root;
}

function resolveEndpoint(url: string | URL, transport: ConnectOptions["transport"]): { href: string; kind: "websocket" | "http" } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new CapnWebError("invalid_argument", `Not a URL: ${String(url)}`, { cause });
  }
  const secure = parsed.protocol === "wss:" || parsed.protocol === "https:";
  if (!["ws:", "wss:", "http:", "https:"].includes(parsed.protocol)) {
    throw new CapnWebError("invalid_argument", `Unsupported URL scheme ${parsed.protocol} (use ws:, wss:, http: or https:).`);
  }
  const kind = transport ?? (parsed.protocol.startsWith("ws") ? "websocket" : "http");
  if (kind !== "websocket" && kind !== "http") {
    throw new CapnWebError("invalid_argument", `Unknown transport ${String(kind)} (use "websocket" or "http").`);
  }
  parsed.protocol = kind === "websocket" ? (secure ? "wss:" : "ws:") : secure ? "https:" : "http:";
  return { href: parsed.href, kind };
}

/** The import and export table sizes of the session a stub belongs to. */
export function stats(stub: unknown): SessionStats {
  const endpoint = typeof stub === "function" ? endpoints.get(stub) : undefined;
  if (endpoint) return endpoint.stats();
  const session = sessionOfStub(stub);
  if (!session) throw new CapnWebError("invalid_argument", "stats() needs a stub of a live remote session.");
  return session.stats();
}

/** Closes the connection behind a root stub returned by connect(). */
export function close(root: unknown): void {
  const endpoint = typeof root === "function" ? endpoints.get(root) : undefined;
  if (!endpoint) throw new CapnWebError("invalid_argument", "close() needs the root stub that connect() returned.");
  endpoint.close();
}

/** The lifecycle of the connection behind a root stub (WebSocket connections only). */
export function connectionOf(root: unknown): Connection | undefined {
  const endpoint = typeof root === "function" ? endpoints.get(root) : undefined;
  return endpoint instanceof Connection ? endpoint : undefined;
}
