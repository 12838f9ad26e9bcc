// Servers for the restore tests, ours and capnweb's, that can be killed and started again on the
// same port, and a world that outlives them (a user table, an event log, subscriptions): what a
// real service keeps in its database. Plus a TCP proxy that records the WebSocket messages of
// each connection in the order they crossed it, to see a reconnect's round trips from outside.

import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { RpcTarget, RpcSession as CapnwebSession, WebSocketTransport as CapnwebWebSocketTransport } from "capnweb";
import { WebSocket, WebSocketServer } from "ws";
import * as CapnWeb from "../../src/index.js";

// capnweb 0.12 needs a global WebSocket on Node 20 (our library does not).
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

// ---- the API, as the client sees it -------------------------------------------------------------

export interface EventHandler {
  onEvent(seq: number): null;
}
export interface Subscription {
  cancel(): boolean;
}
export interface Events {
  subscribe(handler: CapnWeb.Stub<EventHandler>, after: number): Subscription;
}
export interface Authed {
  whoami(): string;
  events(): Events;
}
export interface RestoreApi {
  authenticate(token: string): Authed;
  events(): Events;
  square(x: number): number;
}

// ---- what outlives a server restart -------------------------------------------------------------

/** Something that can be called back: our stubs and capnweb's both. */
interface Callback {
  onEvent(seq: number): PromiseLike<unknown>;
  [Symbol.dispose](): void;
}

export class World {
  readonly tokens = new Map<string, string>([["token-ada", "ada"]]);
  /** Every event produced so far: seq 1..n. */
  produced = 0;
  authentications = 0;
  subscribes = 0;
  private readonly subscribers = new Set<{ handler: Callback }>();

  /** Produces the next event and delivers it to every live subscriber. */
  produce(): void {
    const seq = ++this.produced;
    for (const subscriber of this.subscribers) this.deliver(subscriber, seq);
  }

  subscribe(handler: Callback, after: number): () => void {
    this.subscribes++;
    const subscriber = { handler };
    // What the subscriber missed, then the live stream: no event between the two is lost.
    for (let seq = after + 1; seq <= this.produced; seq++) this.deliver(subscriber, seq);
    this.subscribers.add(subscriber);
    return () => {
      if (!this.subscribers.delete(subscriber)) return;
      handler[Symbol.dispose]();
    };
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  private deliver(subscriber: { handler: Callback }, seq: number): void {
    Promise.resolve(subscriber.handler.onEvent(seq)).then(undefined, () => {
      // The subscriber's connection is gone: it will subscribe again, from its cursor.
      if (this.subscribers.delete(subscriber)) subscriber.handler[Symbol.dispose]();
    });
  }

  authenticate(token: string): string {
    this.authentications++;
    const user = this.tokens.get(token);
    if (!user) throw new Error(`invalid token ${token}`);
    return user;
  }
}

// ---- our server ---------------------------------------------------------------------------------

function ourApi(world: World): CapnWeb.Target {
  class OurSubscription extends CapnWeb.Target {
    constructor(private readonly cancelIt: () => void) {
      super();
    }
    cancel() {
      this.cancelIt();
      return true;
    }
    [Symbol.dispose]() {
      this.cancelIt();
    }
  }
  class OurEvents extends CapnWeb.Target {
    subscribe(handler: CapnWeb.Stub<EventHandler>, after: number) {
      // Kept beyond the call: a reference of our own, the argument's given back.
      const kept = handler.dup();
      CapnWeb.release(handler);
      return new OurSubscription(world.subscribe(kept as unknown as Callback, after));
    }
  }
  class OurAuthed extends CapnWeb.Target {
    constructor(private readonly user: string) {
      super();
    }
    whoami() {
      return this.user;
    }
    events() {
      return new OurEvents();
    }
  }
  class OurApi extends CapnWeb.Target {
    authenticate(token: string) {
      return new OurAuthed(world.authenticate(token));
    }
    events() {
      return new OurEvents();
    }
    square(x: number) {
      return x * x;
    }
  }
  return new OurApi();
}

// ---- capnweb's server ---------------------------------------------------------------------------

function capnwebApi(world: World): RpcTarget {
  class CwSubscription extends RpcTarget {
    constructor(private readonly cancelIt: () => void) {
      super();
    }
    cancel() {
      this.cancelIt();
      return true;
    }
    [Symbol.dispose]() {
      this.cancelIt();
    }
  }
  class CwEvents extends RpcTarget {
    subscribe(handler: { dup(): Callback }, after: number) {
      // capnweb disposes an argument stub when the call returns; dup() keeps one.
      return new CwSubscription(world.subscribe(handler.dup(), after));
    }
  }
  class CwAuthed extends RpcTarget {
    constructor(private readonly user: string) {
      super();
    }
    whoami() {
      return this.user;
    }
    events() {
      return new CwEvents();
    }
  }
  class CwApi extends RpcTarget {
    authenticate(token: string) {
      return new CwAuthed(world.authenticate(token));
    }
    events() {
      return new CwEvents();
    }
    square(x: number) {
      return x * x;
    }
  }
  return new CwApi();
}

// ---- restartable servers ------------------------------------------------------------------------

export interface RestartableServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** The server's tables, summed over its open sessions. */
  stats(): { sessions: number; imports: number; exports: number };
}

export async function ourRestartableServer(world: World): Promise<RestartableServer> {
  let server = await CapnWeb.serve({ host: "127.0.0.1", port: 0, main: () => ourApi(world) });
  const port = server.port;
  let running = true;
  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    async start() {
      server = await CapnWeb.serve({ host: "127.0.0.1", port, main: () => ourApi(world) });
      running = true;
    },
    async stop() {
      running = false;
      await server.close();
    },
    stats: () => (running ? server.handlers.stats() : { sessions: 0, imports: 0, exports: 0 }),
  };
}

export async function capnwebRestartableServer(world: World): Promise<RestartableServer> {
  let httpServer: http.Server;
  let wss: WebSocketServer;
  let sessions = new Set<CapnwebSession>();
  let port = 0;
  const start = async () => {
    httpServer = http.createServer();
    wss = new WebSocketServer({ server: httpServer });
    const live = (sessions = new Set());
    wss.on("connection", (socket) => {
      const session = new CapnwebSession(new CapnwebWebSocketTransport(socket as never), capnwebApi(world));
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

export const SERVERS = [
  ["capnweb's server", capnwebRestartableServer],
  ["our server", ourRestartableServer],
] as const;

// ---- a proxy that records each connection's messages ------------------------------------------

export interface RecordedConnection {
  /** "out:push", "in:resolve", ...: client-to-server messages are "out", in crossing order. */
  readonly messages: string[];
}

export interface RecordingProxy {
  readonly url: string;
  readonly connections: RecordedConnection[];
  close(): Promise<void>;
}

/** A TCP proxy to 127.0.0.1:`targetPort` that parses the WebSocket frames going through it. */
export async function recordingProxy(targetPort: number): Promise<RecordingProxy> {
  const connections: RecordedConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const record: RecordedConnection = { messages: [] };
    connections.push(record);
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    const out = new FrameReader((text) => record.messages.push(`out:${kindOf(text)}`));
    const back = new FrameReader((text) => record.messages.push(`in:${kindOf(text)}`));
    client.on("data", (chunk: Buffer) => {
      out.push(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      back.push(chunk);
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    connections,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function kindOf(text: string): string {
  try {
    return String((JSON.parse(text) as unknown[])[0]);
  } catch {
    return "?";
  }
}

/** Reads the HTTP upgrade, then RFC 6455 frames; reports each complete text message. */
class FrameReader {
  private buffer = Buffer.alloc(0);
  private upgraded = false;
  private fragments: Buffer[] = [];

  constructor(private readonly onText: (text: string) => void) {}

  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.upgraded) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      this.buffer = this.buffer.subarray(end + 4);
      this.upgraded = true;
    }
    for (;;) {
      const frame = this.nextFrame();
      if (!frame) return;
      if (frame.opcode === 0x1 || frame.opcode === 0x0) {
        this.fragments.push(frame.payload);
        if (frame.fin) {
          this.onText(Buffer.concat(this.fragments).toString("utf8"));
          this.fragments = [];
        }
      }
    }
  }

  private nextFrame(): { fin: boolean; opcode: number; payload: Buffer } | undefined {
    const b = this.buffer;
    if (b.length < 2) return undefined;
    const fin = (b[0]! & 0x80) !== 0;
    const opcode = b[0]! & 0x0f;
    const masked = (b[1]! & 0x80) !== 0;
    let length = b[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return undefined;
      length = b.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return undefined;
      length = Number(b.readBigUInt64BE(2));
      offset = 10;
    }
    const maskAt = offset;
    if (masked) offset += 4;
    if (b.length < offset + length) return undefined;
    const payload = Buffer.from(b.subarray(offset, offset + length));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= b[maskAt + (i % 4)]!;
    this.buffer = b.subarray(offset + length);
    return { fin, opcode, payload };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const FAST_RECONNECT = { strategy: "constant" as const, baseDelay: 15, jitter: 0 };
