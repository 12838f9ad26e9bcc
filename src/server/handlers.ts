// The server side, as two handlers that mount on any `node:http` server: one for WebSocket
// upgrades, one for HTTP batch POSTs. Every accepted connection is its own session with its own
// main object (from the factory) and is tracked until it ends, so the server can report and
// close them.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { CapnWebError } from "../protocol/errors.js";
import type { Limits } from "../protocol/limits.js";
import { RpcSession, type SessionStats } from "../protocol/session.js";
import { isTarget } from "../protocol/target.js";
import { HttpBatchServerTransport, readRequestBody, splitBatch } from "../transports/http-batch-server.js";
import type { Transport } from "../transports/transport.js";
import { DEFAULT_MAX_PAYLOAD, WebSocketTransport } from "../transports/websocket.js";
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
  limits?: Partial<Limits>;
  onSendError?: (error: Error) => Error | void;
  /** Largest HTTP batch body accepted, in bytes (default 100 MiB). */
  maxBodyBytes?: number;
}

export interface LiveSession {
  readonly transport: "websocket" | "http-batch";
  readonly remoteAddress: string | undefined;
  readonly session: RpcSession;
}

export class CapnWebHandlers {
  private readonly sockets = new WebSocketServer({ noServer: true, maxPayload: DEFAULT_MAX_PAYLOAD, perMessageDeflate: false });
  private readonly live = new Set<LiveSession>();
  /** Every accepted connection is a (temporary) child of this supervisor. */
  private readonly supervisor: Promise<DynamicSupervisor>;
  private nextSessionId = 1;
  private closing = false;

  constructor(private readonly options: HandlerOptions) {
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
    if (this.closing) {
      refuseUpgrade(socket, 503, "Service Unavailable");
      return;
    }
    this.admit(request).then(
      (auth) => {
        if (auth === REFUSED) {
          refuseUpgrade(socket, 401, "Unauthorized");
          return;
        }
        this.sockets.handleUpgrade(request, socket, head, (ws) => {
          const info: ConnectionInfo = { transport: "websocket", request, auth };
          this.startSession(new WebSocketTransport(ws), info);
        });
      },
      () => refuseUpgrade(socket, 500, "Internal Server Error"),
    );
  };

  /** For `server.on("request", ...)`: answers HTTP batch POSTs. */
  handleRequest = (request: IncomingMessage, response: ServerResponse): void => {
    this.answerBatch(request, response).catch((error) => {
      if (!response.headersSent) {
        const status = error instanceof CapnWebError && error.type === "protocol" ? 413 : 500;
        response.writeHead(status, { "content-type": "text/plain" });
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
    const auth = await this.admit(request);
    if (auth === REFUSED) {
      response.writeHead(401, { "content-type": "text/plain" });
      response.end("Unauthorized");
      return;
    }
    const body = await readRequestBody(request, this.options.maxBodyBytes ?? DEFAULT_MAX_PAYLOAD);
    const transport = new HttpBatchServerTransport(splitBatch(body));
    const live = this.startSession(transport, { transport: "http-batch", request, auth });
    try {
      // Every frame of the request is handled by now; wait for the answers that were pulled.
      await live.session.drain();
    } catch {
      // Aborted: the abort frame is in the response body, which is how the client learns why.
    }
    const reply = transport.responseBody();
    live.session.close();
    response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    response.end(reply);
  }

  private async admit(request: IncomingMessage): Promise<unknown> {
    const authenticate = this.options.authenticate;
    if (!authenticate) return undefined;
    try {
      const auth = await authenticate(request);
      return auth === false || auth === undefined || auth === null ? REFUSED : auth;
    } catch {
      return REFUSED;
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
    const session = new RpcSession(transport, main, {
      limits: this.options.limits,
      onSendError: this.options.onSendError,
      // A shared main outlives every session; a per-connection main ends with its session.
      ownsMain: perConnection,
      onEnd: (reason) => {
        if (live) this.live.delete(live);
        if (reason.type === "protocol" || reason.type === "aborted") {
          logger({ peer: remoteAddress }).warn({ type: reason.type, reason: reason.message }, "session aborted");
        }
      },
    });
    live = { transport: info.transport, remoteAddress, session };
    this.live.add(live);
    const spec = ServerSessionChild.spec(`session-${this.nextSessionId++}`, session, info.transport, live.remoteAddress);
    this.supervisor
      .then(async (supervisor) => {
        if (supervisor.isRunning) await supervisor.startChild(spec);
        else session.close();
      })
      .catch(() => session.close());
    transport.start({ frame: (text) => session.receive(text), closed: (error) => session.transportClosed(error) });
    if (failure !== undefined) {
      session.abort(new CapnWebError("not_found", `The server could not create a main object: ${String((failure as Error)?.message ?? failure)}`, { cause: failure }));
    }
    return live;
  }

  private get isFactory(): boolean {
    const main = this.options.main;
    return typeof main === "function" && !isTarget(main);
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

  /** Refuses new connections and stops every open session (all at once, as a dynamic supervisor does). */
  close(): Promise<void> {
    this.closing = true;
    this.sockets.close();
    return this.supervisor.then(async (supervisor) => {
      await supervisor.close();
      // Sessions accepted in the last moment, before they joined the supervisor.
      for (const { session } of [...this.live]) session.close(new CapnWebError("disconnected", "The server is shutting down."));
    });
  }
}

const REFUSED: unique symbol = Symbol("refused");

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
