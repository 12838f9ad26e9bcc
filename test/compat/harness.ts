// What the ported capnweb cases run on. Each case is written once against a `Pair`: a client stub
// of a server's main object, the classes each side builds its objects from, and a way to check
// that both sides' tables are back at the baseline. A pair is made by a `Setup`, which decides
// what runs on each side (the compatible entry, or the real capnweb package) and over what
// (in memory, WebSocket, MessagePort, HTTP batch).

import { expect, vi } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import * as capnweb from "capnweb";
import * as compat from "../../src/capnweb.js";
import * as CapnWeb from "../../src/index.js";

// capnweb 0.12 on Node 20 needs a global WebSocket (the compatible entry does not).
globalThis.WebSocket ??= WebSocket as unknown as typeof globalThis.WebSocket;

/** The names one side of a pair builds its objects with (capnweb's, or ours under capnweb's names). */
export interface Library {
  readonly name: "compat" | "capnweb";
  readonly RpcTarget: new () => object;
  readonly RpcStub: new <T>(value: T) => any;
  readonly RpcPromise: new <T>(value: PromiseLike<T>) => any;
}

export const COMPAT: Library = { name: "compat", RpcTarget: compat.RpcTarget, RpcStub: compat.RpcStub as any, RpcPromise: compat.RpcPromise as any };
export const CAPNWEB: Library = { name: "capnweb", RpcTarget: capnweb.RpcTarget, RpcStub: capnweb.RpcStub as any, RpcPromise: capnweb.RpcPromise as any };

export interface Stats {
  imports: number;
  exports: number;
}

/** One client connected to one server, ready for a case. */
export interface Pair {
  /** The client's stub of the server's main object. */
  readonly stub: any;
  /** Frames the client sent (in-memory pairs only). */
  readonly sentLog?: string[];
  /** Makes the client's transport fail with `error` (in-memory pairs only). */
  forceReceiveError?(error: unknown): void;
  /** Both in-memory transports (fence, queue, frame logs), in-memory pairs only. */
  readonly clientTransport?: QueueTransport;
  readonly serverTransport?: QueueTransport;
  /** Waits for in-flight releases, then expects both tables at the baseline. */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface ServerOptions {
  onSendError?: (error: Error) => Error | void;
}

/** A way to connect a client to a server whose main object `main` makes. */
export interface Setup {
  readonly label: string;
  readonly server: Library;
  readonly client: Library;
  /** What this setup cannot run: the case names it leaves out, each with its reason. */
  readonly medium: "memory" | "websocket" | "message-port" | "http-batch";
  open(main: object, options?: ServerOptions): Promise<Pair>;
  close?(): Promise<void>;
}

export async function pumpMicrotasks(): Promise<void> {
  for (let i = 0; i < 16; i++) await Promise.resolve();
}

const BASELINE = { imports: 1, exports: 1 };

function pairOf(stub: any, stats: Array<() => Stats | undefined>, extra: Partial<Pair> = {}, settle: "microtasks" | "wire" = "wire"): Pair {
  return {
    stub,
    ...extra,
    async [Symbol.asyncDispose]() {
      const check = () => {
        for (const read of stats) {
          const seen = read();
          if (seen) expect(seen).toStrictEqual(BASELINE);
        }
      };
      if (settle === "microtasks") {
        await pumpMicrotasks();
        check();
      } else {
        await vi.waitFor(check, { timeout: 5_000, interval: 5 });
      }
    },
  };
}

// -----------------------------------------------------------------------------------------------
// In memory: two sessions of the compatible entry joined by queues (capnweb's own harness shape).

export class QueueTransport implements compat.RpcTransport {
  partner!: QueueTransport;
  readonly sentLog: string[] = [];
  readonly queue: string[] = [];
  private waiter: { resolve(): void; reject(error: unknown): void } | undefined;
  private fenced = false;

  send(message: string): void {
    // As in capnweb's harness: "$remove$" is cut from every message, so a case can name a
    // property that exists locally on every object (toString) only once it is on the wire.
    message = message.replaceAll("$remove$", "");
    this.sentLog.push(message);
    this.partner.queue.push(message);
    if (!this.partner.fenced) this.partner.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve();
  }

  async receive(): Promise<string> {
    while (this.queue.length === 0 || this.fenced) await new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
    return this.queue.shift()!;
  }

  /** Holds back what is sent to this side until `releaseFence` (capnweb's harness has the same). */
  fence(): void {
    this.fenced = true;
  }

  releaseFence(): void {
    this.fenced = false;
    if (this.queue.length > 0) this.wake();
  }

  forceReceiveError(error: unknown): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }
}

export function inMemory(server: Library = COMPAT, client: Library = COMPAT): Setup {
  type AnySession = new (transport: QueueTransport, main?: object, options?: ServerOptions) => { getRemoteMain(): any; getStats(): Stats };
  const Session = (library: Library): AnySession => (library.name === "compat" ? (compat.RpcSession as unknown) : (capnweb.RpcSession as unknown)) as AnySession;
  return {
    label: `${client.name} client ↔ ${server.name} server, in memory`,
    server,
    client,
    medium: "memory",
    async open(main, options) {
      const clientTransport = new QueueTransport();
      const serverTransport = new QueueTransport();
      clientTransport.partner = serverTransport;
      serverTransport.partner = clientTransport;
      const clientSession = new (Session(client))(clientTransport);
      const serverSession = new (Session(server))(serverTransport, main, options);
      return pairOf(
        clientSession.getRemoteMain(),
        [() => clientSession.getStats(), () => serverSession.getStats()],
        { sentLog: clientTransport.sentLog, forceReceiveError: (error) => clientTransport.forceReceiveError(error), clientTransport, serverTransport },
        "microtasks",
      );
    },
  };
}

// -----------------------------------------------------------------------------------------------
// Over a real WebSocket on 127.0.0.1: one server, a fresh main object per case.

export function overWebSocket(server: Library, client: Library): Setup {
  let http: Server | undefined;
  let wss: WebSocketServer | undefined;
  let nextMain: { main: object; options?: ServerOptions; stats?: () => Stats } | undefined;
  const start = async () => {
    if (http) return;
    http = createServer();
    wss = new WebSocketServer({ server: http });
    wss.on("connection", (socket) => {
      const current = nextMain!;
      if (server.name === "capnweb") {
        const session = new capnweb.RpcSession(new capnweb.WebSocketTransport(socket as never), current.main as capnweb.RpcTarget, current.options);
        current.stats = () => session.getStats();
      } else {
        const peer = compat.newWebSocketRpcSession(socket as never, current.main, current.options);
        current.stats = () => CapnWeb.stats(peer);
      }
    });
    await new Promise<void>((resolve) => http!.listen(0, "127.0.0.1", resolve));
  };
  return {
    label: `${client.name} client → ${server.name} server over WebSocket`,
    server,
    client,
    medium: "websocket",
    async open(main, options) {
      await start();
      const current: { main: object; options?: ServerOptions; stats?: () => Stats } = { main, options };
      nextMain = current;
      const url = `ws://127.0.0.1:${(http!.address() as AddressInfo).port}/`;
      let stub: any;
      let clientStats: () => Stats | undefined;
      if (client.name === "capnweb") {
        const session = new capnweb.RpcSession(new capnweb.WebSocketTransport(new WebSocket(url) as never));
        stub = session.getRemoteMain();
        clientStats = () => session.getStats();
      } else {
        stub = compat.newWebSocketRpcSession(url);
        clientStats = () => CapnWeb.stats(stub);
      }
      // The server side exists once the connection is accepted.
      await vi.waitFor(() => expect(current.stats).toBeDefined(), { timeout: 5_000, interval: 2 });
      return pairOf(stub, [clientStats, () => current.stats!()]);
    },
    async close() {
      for (const socket of wss?.clients ?? []) socket.terminate();
      await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
      http?.closeAllConnections();
      await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
      http = undefined;
    },
  };
}

// -----------------------------------------------------------------------------------------------
// Over a MessageChannel. capnweb's MessagePort sessions show no tables; ours are checked.

export function overMessagePort(server: Library, client: Library): Setup {
  const connect = (library: Library, port: import("node:worker_threads").MessagePort, main?: object, options?: ServerOptions): any =>
    library.name === "capnweb" ? capnweb.newMessagePortRpcSession(port as never, main as capnweb.RpcTarget, options) : compat.newMessagePortRpcSession(port as never, main, options);
  return {
    label: `${client.name} client → ${server.name} server over MessagePort`,
    server,
    client,
    medium: "message-port",
    async open(main, options) {
      const { MessageChannel } = await import("node:worker_threads");
      const channel = new MessageChannel();
      const serverSide = connect(server, channel.port1, main, options);
      const stub = connect(client, channel.port2);
      return pairOf(stub, [
        () => (client.name === "compat" ? CapnWeb.stats(stub) : undefined),
        () => (server.name === "compat" ? CapnWeb.stats(serverSide) : undefined),
      ]);
    },
  };
}

// -----------------------------------------------------------------------------------------------
// Over HTTP batch: one POST per case, as a capnweb batch session is one round trip.

export function overHttpBatch(server: Library, client: Library): Setup {
  let http: Server | undefined;
  let next: { main: object; options?: ServerOptions } | undefined;
  const start = async () => {
    if (http) return;
    http = createServer((request, response) => {
      const { main, options } = next!;
      const answer = server.name === "capnweb" ? capnweb.nodeHttpBatchRpcResponse : compat.nodeHttpBatchRpcResponse;
      answer(request, response, main, options).catch((error: unknown) => {
        response.writeHead(500);
        response.end(String(error));
      });
    });
    await new Promise<void>((resolve) => http!.listen(0, "127.0.0.1", resolve));
  };
  return {
    label: `${client.name} client → ${server.name} server over HTTP batch`,
    server,
    client,
    medium: "http-batch",
    async open(main, options) {
      await start();
      next = { main, options };
      const url = `http://127.0.0.1:${(http!.address() as AddressInfo).port}/`;
      const stub = client.name === "capnweb" ? capnweb.newHttpBatchRpcSession(url) : compat.newHttpBatchRpcSession(url);
      // A batch's tables end with it: there is no baseline to check after the round trip.
      return pairOf(stub, []);
    },
    async close() {
      http?.closeAllConnections();
      await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
      http = undefined;
    },
  };
}
