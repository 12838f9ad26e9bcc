// The server side, as two handlers that mount on any `node:http` server: one for WebSocket
// upgrades, one for HTTP batch POSTs. Every accepted connection is its own session with its own
// main object (from the factory) and is tracked until it ends, so the server can report and
// close them.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { CapnWebError } from "../protocol/errors.js";
import { type Limits, limitExceeded, limitOf, reportLimit, resolveLimits } from "../protocol/limits.js";
import { RpcSession, type SessionStats } from "../protocol/session.js";
import { isTarget } from "../protocol/target.js";
import { HttpBatchServerTransport, readRequestBody, splitBatch } from "../transports/http-batch-server.js";
import type { Transport } from "../transports/transport.js";
import { Heartbeat, WebSocketTransport } from "../transports/websocket.js";
import { logger } from "../logging.js";
import type { SupervisorInspection } from "../supervisor/inspection.js";
import type { ServerSessionInspection } from "./server-session.js";
import { DynamicSupervisor } from "../supervisor/dynamic-supervisor.js";
import { ServerSessionChild } from "./server-session.js";

/** What a main factory learns about the connection it serves. */
export interface ConnectionInfo {
  transport: "websocket" | "http-batch";
  request: IncomingMessage;
  /** What `authenticate` returned for this request. */
  auth: unknown;
}

export interface HandlerOptions {
  /**
   * The object every connection talks to: a Target shared by all connections, or a function
   * called once per connection that returns one (then each connection has its own state).
   */
  main: ((info: ConnectionInfo) => unknown) | object;
  /**
   * Runs before a connection is accepted. Return anything but `false`/`undefined`/`null` to
   * accept (the value reaches the main factory as `auth`); return falsy or throw to refuse with 401.
   */
  authenticate?: (request: IncomingMessage) => unknown | Promise<unknown>;
  /** What a peer may send or make the server hold, per session and for the server (see `Limits`). */
  limits?: Partial<Limits>;
  onSendError?: (error: Error) => Error | void;
  /** Largest HTTP batch body accepted, in bytes: the same as `limits.maxBatchBytes`. */
  maxBodyBytes?: number;
  /**
   * Origins (`https://app.example`) whose browser pages may call this server; or a predicate.
   * A request without an `Origin` header (not from a browser) is always let through. Unset, HTTP
   * batches are accepted from the server's own origin only (a cross-site "simple" POST must not
   * run methods), and WebSocket upgrades from anywhere, as capnweb does.
   */
  allowedOrigins?: readonly string[] | ((origin: string) => boolean);
  /** @internal The peers' calls are left out of the serve:* telemetry (the observer's own pages). */
  untraced?: boolean;
}

/** How `close()` treats connections that do not finish by themselves. */
export interface CloseOptions {
  /**
   * Milliseconds to wait for peers to complete the closing handshake; after that their
   * connections are dropped (default 5,000).
   */
  deadline?: number;
}

export const DEFAULT_CLOSE_DEADLINE = 5_000;

export interface LiveSession {
  readonly transport: "websocket" | "http-batch";
  readonly remoteAddress: string | undefined;
  readonly session: RpcSession;
}

export class CapnWebHandlers {
  /** The limits every session of this server runs under (defaults, overridden by `options.limits`). */
  readonly limits: Readonly<Limits>;
  private readonly sockets: WebSocketServer;
  /** Pings every peer of this server on one timer. */
  private readonly heartbeat: Heartbeat;
  private readonly live = new Set<LiveSession>();
  /** Every accepted connection is a (temporary) child of this supervisor. */
  private readonly supervisor: Promise<DynamicSupervisor>;
  private nextSessionId = 1;
  private closing = false;

  constructor(private readonly options: HandlerOptions) {
    this.limits = Object.freeze(
      resolveLimits(options.maxBodyBytes === undefined ? options.limits : { maxBatchBytes: options.maxBodyBytes, ...options.limits }),
    );
    // ws checks a frame's length from its header, fragments summed, before buffering the payload.
    this.heartbeat = new Heartbeat(this.limits.heartbeatInterval);
    this.sockets = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxMessageBytes, perMessageDeflate: false });
    this.supervisor = DynamicSupervisor.create({ name: "server_sessions", maxRestarts: 0 });
    this.supervisor.then((supervisor) => (this.supervisorNow = supervisor));
    if (options.main === undefined) throw new CapnWebError("invalid_argument", "serve() needs a `main` Target or factory.");
  }

  /** Sessions currently open (HTTP batches count while their request is being answered). */
  get sessions(): ReadonlySet<LiveSession> {
    return this.live;
  }

  /** Sums of the table sizes of all open sessions. */
  stats(): SessionStats & { sessions: number } {
    let imports = 0;
    let exports = 0;
    for (const { session } of this.live) {
      const s = session.stats();
      imports += s.imports;
      exports += s.exports;
    }
    return { sessions: this.live.size, imports, exports };
  }

  /** For `server.on("upgrade", ...)`. */
  handleUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (this.closing || this.full(request, "websocket")) {
      refuseUpgrade(socket, 503, "Service Unavailable");
      return;
    }
    if (!this.originAllowed(request, "websocket")) {
      refuseUpgrade(socket, 403, "Forbidden");
      return;
    }
    this.admit(request).then(
      (auth) => {
        if (auth === TOO_SLOW) {
          refuseUpgrade(socket, 408, "Request Timeout");
          return;
        }
        if (auth === REFUSED) {
          refuseUpgrade(socket, 401, "Unauthorized");
          return;
        }
        if (socket.destroyed) return;
        this.sockets.handleUpgrade(request, socket, head, (ws) => {
          const info: ConnectionInfo = { transport: "websocket", request, auth };
          const transport = new WebSocketTransport(ws, { limits: this.limits, pauseReadingWhenBehind: true });
          transport.startHeartbeat(this.heartbeat);
          this.startSession(transport, info);
        });
      },
      () => refuseUpgrade(socket, 500, "Internal Server Error"),
    );
  };

  /** For `server.on("request", ...)`: answers HTTP batch POSTs. */
  handleRequest = (request: IncomingMessage, response: ServerResponse): void => {
    this.answerBatch(request, response).catch((error) => {
      if (response.destroyed) return;
      const limit = limitOf(error);
      if (limit) reportLimit(error, { transport: "http-batch", address: request.socket.remoteAddress });
      if (!response.headersSent) {
        const status = limit === "bodyTimeout" || limit === "handshakeTimeout" ? 408 : limit || error?.type === "protocol" ? 413 : 500;
        // A body cut short is not worth reading to its end: the connection goes with the answer.
        const headers: Record<string, string> = { "content-type": "text/plain" };
        if (status === 408) headers.connection = "close";
        response.writeHead(status, headers);
      }
      response.end(error instanceof Error ? error.message : "error");
    });
  };

  private async answerBatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== "POST") {
      response.writeHead(405, { allow: "POST", "content-type": "text/plain" });
      response.end("This endpoint accepts Cap'n Web HTTP batch POSTs and WebSocket upgrades.");
      return;
    }
    // A browser form or a `no-cors` fetch from another site can POST without asking first:
    // nothing it sends may run. Forms send these two types; capnweb's client sends text/plain.
    const type = request.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
    if (type === "application/x-www-form-urlencoded" || type === "multipart/form-data") {
      refuse(response, 415, "Cap'n Web HTTP batches are text/plain (or application/json), not form data.");
      return;
    }
    if (!this.originAllowed(request, "http-batch")) {
      refuse(response, 403, "Forbidden: this origin may not call this server.");
      return;
    }
    if (this.closing || this.full(request, "http-batch")) {
      refuse(response, 503, "Service Unavailable");
      return;
    }
    const auth = await this.admit(request);
    if (auth === TOO_SLOW) throw limitExceeded("handshakeTimeout", `authenticate did not answer within ${this.limits.handshakeTimeout} ms.`);
    if (auth === REFUSED) {
      refuse(response, 401, "Unauthorized");
      return;
    }
    const body = await readRequestBody(request, this.limits);
    const transport = new HttpBatchServerTransport(splitBatch(body));
    const live = this.startSession(transport, { transport: "http-batch", request, auth });
    const session = live.session;
    // A batch waiting for something that never comes (a callback to the client, which a batch
    // cannot carry, or a method that never resolves) is answered with an abort at the deadline;
    // a client that went away takes its session with it. Nothing is kept for either.
    const batchTimeout = this.limits.batchTimeout;
    const deadline = setTimeout(
      () => session.abort(limitExceeded("batchTimeout", `The batch was not answered within ${batchTimeout} ms.`)),
      batchTimeout,
    );
    const clientGone = (): void => {
      if (!response.writableFinished) session.close((batchAbandoned ??= CapnWebError.ofLifecycle("disconnected", "The client went away before its batch was answered.")));
    };
    response.once("close", clientGone);
    try {
      // Wait for every frame to be handled (costly ones over several turns), then for the answers.
      await transport.delivered();
      await session.drain();
    } catch {
      // Aborted: the abort frame is in the response body, which is how the client learns why.
    } finally {
      clearTimeout(deadline);
    }
    const reply = transport.responseBody();
    session.close();
    response.off("close", clientGone);
    if (response.destroyed) return;
    response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    response.end(reply);
  }

  /** Whether the server is at `maxSessions`; a refusal is a broken limit, reported as such. */
  private full(request: IncomingMessage, transport: "websocket" | "http-batch"): boolean {
    if (this.live.size < this.limits.maxSessions) return false;
    reportLimit(limitExceeded("maxSessions", `The server has ${this.limits.maxSessions} sessions open: no more are accepted.`), {
      transport,
      address: request.socket.remoteAddress,
    });
    return true;
  }

  private originAllowed(request: IncomingMessage, transport: "websocket" | "http-batch"): boolean {
    const origin = request.headers.origin;
    // No Origin: not sent by a browser, so no other site can have made the request.
    if (origin === undefined) return true;
    const allowed = this.options.allowedOrigins;
    if (allowed !== undefined) return typeof allowed === "function" ? safePredicate(allowed, origin) : allowed.includes(origin);
    if (transport === "websocket") return true;
    return isSameOrigin(origin, request.headers.host);
  }

  private async admit(request: IncomingMessage): Promise<unknown> {
    const authenticate = this.options.authenticate;
    if (!authenticate) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const tooSlow = new Promise<typeof TOO_SLOW>((resolve) => (timer = setTimeout(resolve, this.limits.handshakeTimeout, TOO_SLOW)));
    try {
      const auth = await Promise.race([authenticate(request), tooSlow]);
      return auth === TOO_SLOW ? auth : auth === false || auth === undefined || auth === null ? REFUSED : auth;
    } catch {
      return REFUSED;
    } finally {
      clearTimeout(timer);
    }
  }

  private startSession(transport: Transport, info: ConnectionInfo): LiveSession {
    let main: unknown;
    let failure: unknown;
    const perConnection = this.isFactory;
    try {
      main = perConnection ? (this.options.main as (info: ConnectionInfo) => unknown)(info) : this.options.main;
    } catch (error) {
      failure = error;
    }
    let live: LiveSession | undefined;
    // Only the address outlives this function: a closure that held `info` would keep the whole
    // upgrade request (headers and all) for the life of the connection.
    const remoteAddress = info.request.socket.remoteAddress;
    const childId = `session-${this.nextSessionId++}`;
    const session = new RpcSession(transport, main, {
      name: childId,
      limits: this.limits,
      peer: { transport: info.transport, address: remoteAddress },
      onSendError: this.options.onSendError,
      // A shared main outlives every session; a per-connection main ends with its session.
      ownsMain: perConnection,
      untraced: this.options.untraced,
      onEnd: (reason) => {
        if (live) this.live.delete(live);
        if (reason.type === "protocol" || reason.type === "aborted") {
          logger({ peer: remoteAddress }).warn({ type: reason.type, reason: reason.message }, "session aborted");
        }
      },
    });
    live = { transport: info.transport, remoteAddress, session };
    this.live.add(live);
    const spec = ServerSessionChild.spec(childId, session, info.transport, live.remoteAddress);
    this.supervisor
      .then(async (supervisor) => {
        if (supervisor.isRunning) await supervisor.startChild(spec);
        else session.close();
      })
      .catch(() => session.close());
    transport.start({ frame: (text) => session.receive(text), closed: (error) => session.transportClosed(error), abort: (error) => session.abort(error) });
    if (failure !== undefined) {
      session.abort(new CapnWebError("not_found", `The server could not create a main object: ${String((failure as Error)?.message ?? failure)}`, { cause: failure }));
    }
    return live;
  }

  private get isFactory(): boolean {
    const main = this.options.main;
    return typeof main === "function" && !isTarget(main);
  }

  /** The dynamic supervisor of the accepted connections, once it has started. */
  get sessionSupervisor(): DynamicSupervisor | undefined {
    return this.supervisorNow;
  }

  /** The server's sessions as a supervision tree (for `CapnWeb.inspect(handlers)`). */
  inspect(): SupervisorInspection<ServerSessionInspection> {
    const supervisor = this.supervisorNow;
    if (supervisor) return supervisor.inspect() as SupervisorInspection<ServerSessionInspection>;
    return {
      kind: "supervisor",
      name: "server_sessions",
      status: "starting",
      strategy: "one_for_one",
      autoShutdown: "never",
      restarts: { used: 0, max: 0, withinSeconds: 0 },
      uptimeMs: 0,
      counts: { specs: 0, active: 0, supervisors: 0, workers: 0 },
      children: [],
    };
  }

  private supervisorNow: DynamicSupervisor | undefined;

  /**
   * Refuses new connections and stops every open session (all at once, as a dynamic supervisor
   * does); resolves once every WebSocket has closed, dropping those still open at the deadline.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing = true;
    this.sockets.close();
    const deadline = options.deadline ?? DEFAULT_CLOSE_DEADLINE;
    return this.supervisor.then(async (supervisor) => {
      await supervisor.close();
      // Sessions accepted in the last moment, before they joined the supervisor.
      for (const { session } of [...this.live]) session.close(new CapnWebError("disconnected", "The server is shutting down."));
      await this.socketsClosed(deadline);
    });
  }

  /** Waits for the closing handshakes of the WebSockets; the peers that do not answer are dropped. */
  private async socketsClosed(deadline: number): Promise<void> {
    const open = [...this.sockets.clients];
    if (open.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadline)));
    const closed = open.map((ws) => (ws.readyState === ws.CLOSED ? undefined : new Promise((resolve) => ws.once("close", resolve))));
    await Promise.race([Promise.all(closed), expired]);
    clearTimeout(timer);
    for (const ws of open) if (ws.readyState !== ws.CLOSED) ws.terminate();
  }
}

const REFUSED: unique symbol = Symbol("refused");
const TOO_SLOW: unique symbol = Symbol("too slow");
let batchAbandoned: CapnWebError | undefined;

function refuse(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { "content-type": "text/plain" });
  response.end(text);
}

function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    // "null" (a sandboxed page, a file) and anything unparsable are no origin of ours.
    return false;
  }
}

function safePredicate(predicate: (origin: string) => boolean, origin: string): boolean {
  try {
    return predicate(origin) === true;
  } catch {
    return false;
  }
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
