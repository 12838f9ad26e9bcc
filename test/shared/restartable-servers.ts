// Servers that a test kills and starts again on the same port, ours and capnweb 0.12's, each
// calling `makeMain` per connection. What must outlive a restart lives outside them (the test's).

import http from "node:http";
import type { AddressInfo } from "node:net";
import { RpcSession as CapnwebSession, WebSocketTransport as CapnwebWebSocketTransport } from "capnweb";
import { WebSocket, WebSocketServer } from "ws";
import * as CapnWeb from "../../src/index.js";

// capnweb 0.12 needs a global WebSocket on Node 20 (our library does not).
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

export interface RestartableServer {
  /** ws://127.0.0.1:port/, the same across restarts. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** The server's tables, summed over its open sessions (all zero while stopped). */
  stats(): { sessions: number; imports: number; exports: number };
}

export async function restartableOurServer(makeMain: () => CapnWeb.Target): Promise<RestartableServer> {
  let server = await CapnWeb.serve({ host: "127.0.0.1", port: 0, main: makeMain });
  const port = server.port;
  let running = true;
  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    async start() {
      server = await CapnWeb.serve({ host: "127.0.0.1", port, main: makeMain });
      running = true;
    },
    async stop() {
      running = false;
      await server.close();
    },
    stats: () => (running ? server.handlers.stats() : { sessions: 0, imports: 0, exports: 0 }),
  };
}

export async function restartableCapnwebServer(makeMain: () => object): Promise<RestartableServer> {
  let httpServer: http.Server;
  let wss: WebSocketServer;
  let sessions = new Set<CapnwebSession>();
  let port = 0;
  const start = async () => {
    httpServer = http.createServer();
    wss = new WebSocketServer({ server: httpServer });
    const live = (sessions = new Set());
    wss.on("connection", (socket) => {
      const session = new CapnwebSession(new CapnwebWebSocketTransport(socket as never), makeMain() as never);
      live.add(session);
      socket.on("close", () => live.delete(session));
    });
    await new Promise<void>((resolve) => httpServer.listen(port, "127.0.0.1", resolve));
    port = (httpServer.address() as AddressInfo).port;
  };
  await start();
  return {
    get url() {
      return `ws://127.0.0.1:${port}/`;
    },
    get port() {
      return port;
    },
    start,
    async stop() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
    stats() {
      let imports = 0;
      let exports = 0;
      for (const session of sessions) {
        const stats = session.getStats();
        imports += stats.imports;
        exports += stats.exports;
      }
      return { sessions: sessions.size, imports, exports };
    },
  };
}
