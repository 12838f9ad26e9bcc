import { describe, it, expect, afterEach, vi } from "vitest";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import type { IncomingMessage } from "node:http";
import { CapnWebError } from "../../src/protocol/errors.js";
import { DEFAULT_MAX_PAYLOAD, WebSocketTransport, openWebSocket } from "../../src/transports/websocket.js";
import { recorder } from "./helpers.js";

interface TestServer {
  url: string;
  /** The next server-side socket, with its upgrade request. */
  nextConnection(): Promise<{ socket: WebSocket; request: IncomingMessage }>;
}

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<TestServer> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: DEFAULT_MAX_PAYLOAD, ...options });
  await once(wss, "listening");
  const arrived: Array<{ socket: WebSocket; request: IncomingMessage }> = [];
  const waiting: Array<(c: { socket: WebSocket; request: IncomingMessage }) => void> = [];
  wss.on("connection", (socket, request) => {
    const waiter = waiting.shift();
    if (waiter) waiter({ socket, request });
    else arrived.push({ socket, request });
  });
  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    nextConnection: () => {
      const first = arrived.shift();
      return first ? Promise.resolve(first) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** A raw client socket, open, closed again after the test. */
async function connectRaw(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  cleanups.push(() => socket.terminate());
  await once(socket, "open");
  return socket;
}

/** A TCP server that is closed after the test, with every connection it accepted. */
async function startTcpServer(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    onConnection(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

async function closedPort(): Promise<number> {
  const { server, port } = await startTcpServer(() => {});
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("WebSocketTransport", () => {
  it("carries frames both ways in order", async () => {
    const server = await startServer();
    const opening = openWebSocket(server.url);
    const { socket } = await server.nextConnection();
    const client = await opening;
    const serverSide = new WebSocketTransport(socket);
    expect(client.kind).toBe("websocket");

    const c = recorder();
    const s = recorder();
    client.start(c.handler);
    serverSide.start(s.handler);
    const up = Array.from({ length: 20 }, (_, i) => `["push",${i}]`);
    const down = Array.from({ length: 20 }, (_, i) => `["resolve",${i},"é✓"]`);
    for (const frame of up) client.send(frame);
    for (const frame of down) serverSide.send(frame);

    expect(await s.waitFrames(20)).toEqual(up);
    expect(await c.waitFrames(20)).toEqual(down);
    client.close();
  });

  it("coalesces the sends of one tick into one socket write, still as separate frames", async () => {
    const server = await startServer();
    const raw = await connectRaw(server.url);
    const { socket } = await server.nextConnection();
    const s = recorder();
    new WebSocketTransport(socket).start(s.handler);

    const tcp = (raw as unknown as { _socket: { _write: Function; _writev: Function } })._socket;
    let writes = 0;
    const write = tcp._write;
    const writev = tcp._writev;
    tcp._write = function (this: unknown, ...args: unknown[]) {
      writes++;
      return write.apply(this, args);
    };
    tcp._writev = function (this: unknown, ...args: unknown[]) {
      writes++;
      return writev.apply(this, args);
    };

    const client = new WebSocketTransport(raw);
    client.start(recorder().handler);
    const frames = Array.from({ length: 50 }, (_, i) => `frame ${i}`);
    for (const frame of frames) client.send(frame);

    expect(await s.waitFrames(50)).toEqual(frames);
    expect(writes).toBe(1);
  });

  it("the microtasks one callback sets off share its write; the next callback writes on its own", async () => {
    const server = await startServer();
    const raw = await connectRaw(server.url);
    const { socket } = await server.nextConnection();
    const s = recorder();
    new WebSocketTransport(socket).start(s.handler);
    const tcp = (raw as unknown as { _socket: { _write: Function; _writev: Function } })._socket;
    const writes: number[] = [];
    for (const method of ["_write", "_writev"] as const) {
      const original = tcp[method];
      tcp[method] = function (this: unknown, ...args: unknown[]) {
        writes.push(method === "_writev" ? (args[0] as unknown[]).length : 1);
        return original.apply(this, args);
      };
    }
    const client = new WebSocketTransport(raw);
    client.start(recorder().handler);

    // As when an answer arrives: a release at once, then the application's next call from the
    // awaits that the answer resolves, two promise hops later.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        client.send("release");
        Promise.resolve()
          .then(() => client.send("push"))
          .then(() => client.send("pull"))
          .then(resolve);
      }),
    );
    expect(await s.waitFrames(3)).toEqual(["release", "push", "pull"]);
    expect(writes).toHaveLength(1);

    await new Promise<void>((resolve) => setImmediate(() => (client.send("a"), resolve())));
    await new Promise<void>((resolve) => setImmediate(() => (client.send("b"), resolve())));
    expect(await s.waitFrames(5)).toEqual(["release", "push", "pull", "a", "b"]);
    expect(writes).toHaveLength(3);
  });

  it("delivers text messages as strings, queued until start, then the close", async () => {
    const server = await startServer();
    const raw = await connectRaw(server.url);
    const { socket } = await server.nextConnection();
    const client = new WebSocketTransport(raw);

    socket.send("one");
    socket.send(Buffer.from("twö"), { binary: false });
    socket.send("three");
    socket.close(4000, "done");
    await once(raw, "close");

    const c = recorder();
    client.start(c.handler);
    expect(c.frames).toEqual(["one", "twö", "three"]);
    expect(c.closedCalls).toHaveLength(1);
    const error = c.closedCalls[0]!;
    expect(error).toBeInstanceOf(CapnWebError);
    expect(error.type).toBe("disconnected");
    expect(error.message).toBe("Peer closed WebSocket: 4000 done");
  });

  it("refuses a binary message as capnweb does: the frames before it, then an abort, nothing after", async () => {
    const server = await startServer();
    const raw = await connectRaw(server.url);
    const { socket } = await server.nextConnection();
    const client = new WebSocketTransport(raw);

    socket.send("one");
    // Invalid UTF-8 too: ws checks it in text frames only, so it must never be decoded.
    socket.send(Buffer.from([0x22, 0xff, 0xfe, 0x22]), { binary: true });
    socket.send("three");
    await new Promise((resolve) => setTimeout(resolve, 50));

    const frames: string[] = [];
    const aborts: CapnWebError[] = [];
    const closes: Array<CapnWebError | undefined> = [];
    client.start({ frame: (text) => frames.push(text), closed: (error) => closes.push(error), abort: (error) => aborts.push(error) });
    expect(frames).toEqual(["one"]);
    expect(aborts).toHaveLength(1);
    expect(aborts[0]!.type).toBe("protocol");
    expect(aborts[0]!.message).toMatch(/binary WebSocket frame/);
    expect(closes).toEqual([]);
    client.close(aborts[0]);
  });

  it("closes cleanly with 1000 and reports undefined exactly once", async () => {
    const server = await startServer();
    const raw = await connectRaw(server.url);
    const { socket } = await server.nextConnection();
    const client = new WebSocketTransport(raw);
    const serverSide = new WebSocketTransport(socket);
    const c = recorder();
    const s = recorder();
    client.start(c.handler);
    serverSide.start(s.handler);

    const peerClose = once(socket, "close");
    const ownClose = once(raw, "close");
    client.close();
    client.close();
    expect(c.closedCalls).toEqual([undefined]);
    client.send("dropped, not thrown");

    const [code] = await peerClose;
    expect(code).toBe(1000);
    await ownClose;
    expect(c.closedCalls).toEqual([undefined]);
    expect(s.closedCalls).toHaveLength(1);
    expect(s.closedCalls[0]!.type).toBe("disconnected");
    expect(s.closedCalls[0]!.message).toBe("Peer closed WebSocket: 1000 ");
  });

  it("closes with 3000 and the reason cut to 123 UTF-8 bytes", async () => {
    const server = await startServer();
    const raw = await connectRaw(server.url);
    const { socket } = await server.nextConnection();
    const client = new WebSocketTransport(raw);
    const c = recorder();
    client.start(c.handler);

    const peerClose = once(socket, "close");
    const reason = new Error("é".repeat(100)); // 200 bytes; a cut at 123 would split a character
    client.close(reason);
    const [code, text] = (await peerClose) as [number, Buffer];
    expect(code).toBe(3000);
    expect(text.toString()).toBe("é".repeat(61));

    expect(c.closedCalls).toHaveLength(1);
    expect(c.closedCalls[0]!.type).toBe("disconnected");
    expect(c.closedCalls[0]!.cause).toBe(reason);
  });

  it("passes a short reason through and reports a CapnWebError reason as is", async () => {
    const server = await startServer();
    const raw = await connectRaw(server.url);
    const { socket } = await server.nextConnection();
    const client = new WebSocketTransport(raw);
    const c = recorder();
    client.start(c.handler);

    const peerClose = once(socket, "close");
    const reason = new CapnWebError("aborted", "x".repeat(300));
    client.close(reason);
    const [code, text] = (await peerClose) as [number, Buffer];
    expect(code).toBe(3000);
    expect(text.toString()).toBe("x".repeat(123));
    expect(c.closedCalls).toEqual([reason]);
  });

  it("reports a socket that closed before it was wrapped", async () => {
    const server = await startServer();
    const raw = await connectRaw(server.url);
    raw.close();
    await once(raw, "close");
    const c = recorder();
    new WebSocketTransport(raw).start(c.handler);
    expect(c.closedCalls).toHaveLength(1);
    expect(c.closedCalls[0]!.type).toBe("disconnected");
  });

  it("reports a socket error as disconnected with the error as cause", async () => {
    const server = await startServer();
    const opening = openWebSocket(server.url, { maxPayload: 16 });
    const { socket } = await server.nextConnection();
    const client = await opening;
    const c = recorder();
    client.start(c.handler);

    socket.send("this message is longer than sixteen bytes");
    const error = await c.closed;
    expect(error!.type).toBe("disconnected");
    expect(error!.cause).toBeInstanceOf(Error);
    expect(error!.message).toMatch(/Max payload size exceeded/);
    await once(socket, "close");
    expect(c.closedCalls).toHaveLength(1);
  });
});

describe("openWebSocket", () => {
  it("sends the given headers", async () => {
    const server = await startServer();
    const opening = openWebSocket(server.url, { headers: { authorization: "Bearer abc" }, timeout: 5000 });
    const { request } = await server.nextConnection();
    const client = await opening;
    expect(request.headers.authorization).toBe("Bearer abc");
    client.close();
  });

  it("leaves only the transport's listeners on the socket once open", async () => {
    const server = await startServer();
    const on = vi.spyOn(WebSocket.prototype, "on");
    const client = await openWebSocket(server.url);
    const socket = on.mock.contexts[0] as WebSocket;
    expect(["open", "unexpected-response", "message", "close", "error"].map((e) => socket.listenerCount(e))).toEqual([
      0, 0, 1, 1, 1,
    ]);
    client.close();
  });

  it("leaves no listener but an error sink on a socket that failed to open", async () => {
    const server = await startServer({ verifyClient: (_info, done) => done(false, 403) });
    const on = vi.spyOn(WebSocket.prototype, "on");
    await expect(openWebSocket(server.url)).rejects.toThrow(/HTTP 403/);
    const socket = on.mock.contexts[0] as WebSocket;
    if (socket.readyState !== WebSocket.CLOSED) await once(socket, "close");
    expect(["open", "unexpected-response", "message", "close", "error"].map((e) => socket.listenerCount(e))).toEqual([
      0, 0, 0, 0, 1,
    ]);
  });

  it("rejects with disconnected when nothing listens", async () => {
    const port = await closedPort();
    const error = await openWebSocket(`ws://127.0.0.1:${port}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CapnWebError);
    expect((error as CapnWebError).type).toBe("disconnected");
    expect((error as CapnWebError).message).toMatch(/^Could not connect to ws:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect((error as CapnWebError).cause).toBeInstanceOf(Error);
  });

  it("rejects with timeout when the upgrade never completes", async () => {
    let accepted!: () => void;
    const connected = new Promise<void>((resolve) => (accepted = resolve));
    const { port } = await startTcpServer(() => accepted());
    const error = await openWebSocket(`ws://127.0.0.1:${port}`, { timeout: 100 }).catch((e: unknown) => e);
    await connected;
    expect(error).toBeInstanceOf(CapnWebError);
    expect((error as CapnWebError).type).toBe("timeout");
    expect((error as CapnWebError).message).toMatch(/^Could not connect to ws:\/\/127\.0\.0\.1:\d+/);
  });

  it("rejects with disconnected and the status on a 401 answer", async () => {
    const server = await startServer({ verifyClient: (_info, done) => done(false, 401) });
    const error = await openWebSocket(server.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CapnWebError);
    expect((error as CapnWebError).type).toBe("disconnected");
    expect((error as CapnWebError).message).toBe(`Could not connect to ${server.url}: HTTP 401 Unauthorized`);
  });

  it("rejects with disconnected when the server hangs up during the upgrade", async () => {
    const { port } = await startTcpServer((socket) => socket.destroy());
    const error = await openWebSocket(`ws://127.0.0.1:${port}`).catch((e: unknown) => e);
    expect((error as CapnWebError).type).toBe("disconnected");
  });

  it("rejects an invalid URL as invalid_argument", async () => {
    const error = await openWebSocket("http://[bad").catch((e: unknown) => e);
    expect((error as CapnWebError).type).toBe("invalid_argument");
  });
});
