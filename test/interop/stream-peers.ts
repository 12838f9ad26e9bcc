// A client and a server of the stream interop suites, any implementation on either end (ours or
// capnweb 0.12's), over a real WebSocket on 127.0.0.1 (through a TCP relay the test can cut) or a
// MessageChannel, with both sides' tables in reach and a way to drop the connection under both
// sessions without a goodbye.

import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, type Socket, connect as tcpConnect, createServer as createTcpServer } from "node:net";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { WebSocket, WebSocketServer } from "ws";
import { RpcSession, WebSocketTransport, type RpcTransportWithCustomEncoding } from "capnweb";
import * as CapnWeb from "../../src/index.js";
import { capnwebStreamApi, ourStreamApi, StreamService, type StreamApi } from "./stream-api.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

export type Impl = "ours" | "capnweb";
export type Carrier = "websocket" | "message-port";
export interface Tables {
  imports: number;
  exports: number;
}

export interface StreamPeers {
  /** "ours→capnweb over websocket": client→server. */
  label: string;
  clientImpl: Impl;
  serverImpl: Impl;
  /** The server's main object as the client sees it (our Stub or capnweb's RpcStub). */
  api: CapnWeb.Stub<StreamApi>;
  /** What the server saw. */
  service: StreamService;
  clientTables(): Tables;
  serverTables(): Tables;
  /** Cuts the connection under both sessions: TCP sockets destroyed, or the channel's goodbye sent both ways. */
  drop(): void;
  close(): Promise<void>;
}

/** A session's tables with nothing but the main objects: the peer's main imported, its own exported. */
export const MAIN_ONLY: Tables = { imports: 1, exports: 1 };

export const PAIRS: Array<[Impl, Impl]> = [
  ["ours", "capnweb"],
  ["capnweb", "ours"],
  ["ours", "ours"],
];

// -------------------------------------------------------------------------------------------------
// A TCP relay in front of a server: what a network between the two would be, and can lose.

interface Relay {
  port: number;
  cut(): void;
  close(): Promise<void>;
}

async function startRelay(targetPort: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
  };
  const server = createTcpServer((inbound) => {
    const outbound = tcpConnect(targetPort, "127.0.0.1");
    track(inbound);
    track(outbound);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const cut = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    port: (server.address() as AddressInfo).port,
    cut,
    close: () => {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// -------------------------------------------------------------------------------------------------
// capnweb's MessagePort transport, with the session object in reach (newMessagePortRpcSession
// hands out only the stub, and getStats() is on the session). Same frames: structured clones,
// `null` as the goodbye.

class CapnwebPortTransport implements RpcTransportWithCustomEncoding {
  readonly encodingLevel = "structuredClonable" as const;
  private queue: unknown[] = [];
  private waiting: { resolve(m: unknown): void; reject(e: unknown): void } | undefined;
  private error: unknown;
  constructor(private readonly port: MessagePort) {
    port.on("message", (data: unknown) => {
      if (this.error !== undefined) return;
      if (data === null) this.fail(new Error("Peer closed MessagePort connection."));
      else if (this.waiting) {
        this.waiting.resolve(data);
        this.waiting = undefined;
      } else this.queue.push(data);
    });
  }
  private fail(error: unknown) {
    this.error ??= error;
    this.waiting?.reject(error);
    this.waiting = undefined;
  }
  send(message: unknown): void {
    if (this.error !== undefined) throw this.error;
    this.port.postMessage(message);
  }
  receive(): Promise<unknown> {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.error !== undefined) return Promise.reject(this.error);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }
  abort(reason: unknown): void {
    try {
      this.port.postMessage(null);
    } catch {}
    this.port.close();
    this.error ??= reason;
  }
}

// -------------------------------------------------------------------------------------------------

interface ServerEnd {
  tables(): Tables;
  close(): Promise<void>;
}

interface ClientEnd {
  api: CapnWeb.Stub<StreamApi>;
  tables(): Tables;
  close(): void;
}

/** A WebSocket server of `impl` on 127.0.0.1:0 with one main object per connection over `service`. */
async function wsServer(impl: Impl, service: StreamService): Promise<ServerEnd & { port: number }> {
  if (impl === "ours") {
    const server = await CapnWeb.serve({ host: "127.0.0.1", port: 0, main: () => ourStreamApi(service) });
    let session: CapnWeb.RpcSession | undefined;
    return {
      port: server.port,
      // Taken while the session is open: it leaves the server's live set when it ends.
      tables: () => (session ??= [...server.handlers.sessions][0]?.session)?.stats() ?? { imports: 0, exports: 0 },
      close: () => server.close(),
    };
  }
  const http = createHttpServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server: http });
  const sessions: RpcSession[] = [];
  wss.on("connection", (socket) => {
    sessions.push(new RpcSession(new WebSocketTransport(socket as any), capnwebStreamApi(service)));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    port: (http.address() as AddressInfo).port,
    tables: () => sessions[0]?.getStats() ?? { imports: 0, exports: 0 },
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** An end of ours: its root stub, whose session stats() reads and close() ends. */
function ourEnd(api: CapnWeb.Stub<StreamApi>): ClientEnd {
  return { api, tables: () => CapnWeb.stats(api), close: () => CapnWeb.close(api) };
}

/** An end of capnweb's over `transport`; `closeCarrier` closes what the transport runs on. */
function capnwebEnd(transport: ConstructorParameters<typeof RpcSession>[0], closeCarrier: () => void, main?: object): ClientEnd {
  const session = new RpcSession<StreamApi>(transport, main as never);
  const api = session.getRemoteMain() as unknown as CapnWeb.Stub<StreamApi>;
  return {
    api,
    tables: () => session.getStats(),
    close() {
      (api as unknown as Disposable)[Symbol.dispose]();
      closeCarrier();
    },
  };
}

async function wsClient(impl: Impl, url: string): Promise<ClientEnd> {
  if (impl === "ours") return ourEnd(await CapnWeb.connect<StreamApi>(url));
  const socket = new WebSocket(url);
  return capnwebEnd(new WebSocketTransport(socket as any), () => socket.close());
}

function portEnd(impl: Impl, port: MessagePort, peer: Impl, main?: object): ClientEnd {
  if (impl === "ours") return ourEnd(CapnWeb.connectMessagePort<StreamApi>(port, { main, encoding: peer === "capnweb" ? "structured" : "string" }));
  return capnwebEnd(new CapnwebPortTransport(port), () => port.close(), main);
}

/** The two ends over one carrier, how to cut it and how to take it down. */
interface Connected {
  client: ClientEnd;
  server: Pick<ServerEnd, "tables">;
  drop(): void;
  close(): Promise<void>;
}

async function connectOver(carrier: Carrier, clientImpl: Impl, serverImpl: Impl, service: StreamService): Promise<Connected> {
  if (carrier === "websocket") {
    const server = await wsServer(serverImpl, service);
    const relay = await startRelay(server.port);
    const client = await wsClient(clientImpl, `ws://127.0.0.1:${relay.port}/`);
    return {
      client,
      server,
      drop: () => relay.cut(),
      async close() {
        client.close();
        await relay.close();
        await server.close();
      },
    };
  }
  const { port1, port2 } = new MessageChannel();
  const main = serverImpl === "ours" ? ourStreamApi(service) : capnwebStreamApi(service);
  const server = portEnd(serverImpl, port2, clientImpl, main);
  const client = portEnd(clientImpl, port1, serverImpl);
  return {
    client,
    server,
    drop() {
      // What a dead channel tells each side: capnweb's transport knows only the `null` goodbye.
      port1.postMessage(null);
      port2.postMessage(null);
    },
    async close() {
      client.close();
      server.close();
      port1.close();
      port2.close();
    },
  };
}

export async function openPeers(clientImpl: Impl, serverImpl: Impl, carrier: Carrier): Promise<StreamPeers> {
  const service = new StreamService();
  const { client, server, drop, close } = await connectOver(carrier, clientImpl, serverImpl, service);
  // One call, so that both sessions exist before the test looks at their tables.
  await client.api.produced();
  return {
    label: `${clientImpl}→${serverImpl} over ${carrier}`,
    clientImpl,
    serverImpl,
    api: client.api,
    service,
    clientTables: client.tables,
    serverTables: server.tables,
    drop,
    close,
  };
}
