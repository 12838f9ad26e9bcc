// capnweb's session constructors for each medium, on our engine and transports.

import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from "node:http";
import WebSocket from "ws";
import { CapnWebError } from "../protocol/errors.js";
import { RpcSession as EngineSession } from "../protocol/session.js";
import { HttpBatchClientTransport } from "../transports/http-batch-client.js";
import { HttpBatchServerTransport, readRequestBody, splitBatch } from "../transports/http-batch-server.js";
import { MessagePortTransport, type MessagePortLike } from "../transports/message-port.js";
import { DEFAULT_MAX_PAYLOAD } from "../transports/websocket.js";
import { RpcSession, stubOverTransport, type RpcSessionOptions, type RpcTransport } from "./session.js";
import type { RpcStub } from "./stubs.js";

/** What this entry reads of a WebSocket event (a message's data, a close's code and reason). */
export interface WebSocketEventLike {
  readonly type: string;
  readonly data?: unknown;
  readonly code?: number;
  readonly reason?: string;
}

/** A WebSocket as capnweb uses one: the web's, or a `ws` socket (which has the same events). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: WebSocketEventLike) => void): void;
}

/**
 * A session over a WebSocket: a URL (connected with `ws`, whatever the platform offers) or a
 * socket, open or still connecting. Calls made before it opens are sent when it does.
 */
export function newWebSocketRpcSession<T = unknown>(webSocket: WebSocketLike | string, localMain?: unknown, options?: RpcSessionOptions): RpcStub<T> {
  const socket = typeof webSocket === "string" ? (new WebSocket(webSocket, { maxPayload: DEFAULT_MAX_PAYLOAD }) as unknown as WebSocketLike) : webSocket;
  return new RpcSession<T>(new WebSocketRpcTransport(socket), localMain, options).getRemoteMain();
}

const CONNECTING = 0;
const OPEN = 1;

class WebSocketRpcTransport implements RpcTransport {
  readonly #socket: WebSocketLike;
  #queued: string[] | undefined;
  readonly #received: string[] = [];
  #waiting: { resolve(message: string): void; reject(error: unknown): void } | undefined;
  #error: unknown;

  constructor(socket: WebSocketLike) {
    this.#socket = socket;
    if (socket.readyState === CONNECTING) {
      this.#queued = [];
      socket.addEventListener("open", () => {
        const queued = this.#queued ?? [];
        this.#queued = undefined;
        for (const message of queued) socket.send(message);
      });
    }
    socket.addEventListener("message", (event) => {
      if (this.#error !== undefined) return;
      const data = event.data;
      const text = typeof data === "string" ? data : Buffer.from(data as ArrayBuffer).toString();
      if (this.#waiting) {
        const waiting = this.#waiting;
        this.#waiting = undefined;
        waiting.resolve(text);
      } else {
        this.#received.push(text);
      }
    });
    socket.addEventListener("close", (event) => {
      this.#fail(new Error(`Peer closed WebSocket: ${event.code} ${event.reason}`));
    });
    socket.addEventListener("error", () => this.#fail(new Error("WebSocket connection failed.")));
  }

  #fail(error: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
  }

  send(message: string): void {
    if (this.#queued) this.#queued.push(message);
    else if (this.#socket.readyState === OPEN) this.#socket.send(message);
  }

  receive(): Promise<string> {
    if (this.#received.length > 0) return Promise.resolve(this.#received.shift()!);
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  abort(reason: unknown): void {
    const message = reason instanceof Error ? reason.message : String(reason);
    // A close reason is at most 123 bytes.
    this.#socket.close(3000, Buffer.from(message).subarray(0, 123).toString().replace(/\uFFFD$/, ""));
    this.#fail(reason);
  }
}

/** A session over a MessagePort whose other end runs capnweb (or this entry). */
export function newMessagePortRpcSession<T = unknown>(port: MessagePortLike, localMain?: unknown, options?: RpcSessionOptions): RpcStub<T> {
  return stubOverTransport<T>(new MessagePortTransport(port, "structured"), localMain, options);
}

/**
 * One HTTP batch: every call made on the stub before the next macrotask goes out in one POST;
 * after the answer, the stub (and what it gave) no longer works, as in capnweb.
 */
export function newHttpBatchRpcSession<T = unknown>(url: string, options?: RpcSessionOptions & { headers?: Record<string, string> }): RpcStub<T> {
  const { headers, ...sessionOptions } = options ?? {};
  return stubOverTransport<T>(new HttpBatchClientTransport(url, { headers }), undefined, sessionOptions);
}

/** Answers one HTTP batch POST on `node:http`, serving `localMain`. */
export async function nodeHttpBatchRpcResponse(
  request: IncomingMessage,
  response: ServerResponse,
  localMain: unknown,
  options: RpcSessionOptions & { headers?: OutgoingHttpHeaders } = {},
): Promise<void> {
  if (request.method !== "POST") {
    response.writeHead(405, "This endpoint only accepts POST requests.");
    response.end();
    return;
  }
  const { headers, ...sessionOptions } = options;
  const body = await readRequestBody(request, DEFAULT_MAX_PAYLOAD);
  const reply = await answerBatch(body, localMain, sessionOptions);
  response.writeHead(200, headers);
  response.end(reply);
}

/** Answers one HTTP batch `Request` with a `Response` (the Fetch API form, as in Workers). */
export async function newHttpBatchRpcResponse(request: Request, localMain: unknown, options?: RpcSessionOptions): Promise<Response> {
  if (request.method !== "POST") return new Response("This endpoint only accepts POST requests.", { status: 405 });
  return new Response(await answerBatch(await request.text(), localMain, options ?? {}));
}

/**
 * capnweb's Workers entry: a batch POST is answered here. A WebSocket upgrade needs the Workers
 * runtime's WebSocketPair, which Node lacks: serve WebSockets with `CapnWeb.serve` or `ws` there.
 */
export async function newWorkersRpcResponse(request: Request, localMain: unknown, options?: RpcSessionOptions): Promise<Response> {
  if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
    throw new CapnWebError("unsupported", "WebSocket upgrades through newWorkersRpcResponse need the Workers runtime.");
  }
  return newHttpBatchRpcResponse(request, localMain, options);
}

async function answerBatch(body: string, localMain: unknown, options: RpcSessionOptions): Promise<string> {
  const transport = new HttpBatchServerTransport(splitBatch(body));
  const session = new EngineSession(transport, localMain, { ...options, capnwebStubs: true });
  transport.start({ frame: (text) => session.receive(text), closed: (error) => session.transportClosed(error) });
  try {
    await session.drain();
  } catch {
    // Aborted: the abort frame is in the reply, which is how the client learns why.
  }
  const reply = transport.responseBody();
  session.close();
  return reply;
}
