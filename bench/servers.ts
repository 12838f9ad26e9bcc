// The three servers every workload talks to, with identical behaviour:
//   ours     CapnWeb.serve (WebSocket + HTTP batch on one port)
//   capnweb  node:http + ws WebSocketServer + capnweb 0.12 sessions (WebSocket + HTTP batch)
//   raw      a `ws` echo server (the physical limit: one frame each way, no RPC)
// Both RPC servers make one main object per connection and offer the same API:
//   square(i)                       i * i
//   echo(payload)                   payload
//   users().get(id).profile().name()  "user-<id>" (three objects by reference, then a string)
//   generateArray(n)                [0, 1, ..., n-1]
//   callFunction(cb, i)             await cb(i): a call back into the client
//   download(bytes)                 a ReadableStream of `bytes` in 64 KiB chunks (pulled: made on demand)
//   produced()                      bytes the last download's source has handed out so far
//   fill(writable, bytes)           writes `bytes` in 64 KiB chunks into the client's WritableStream
//   consume(readable)               reads the client's ReadableStream to its end; the byte count
// The raw echo server answers the text frame `stream <bytes>` with `bytes` in 64 KiB binary
// frames, `stream-json <bytes>` with them as capnweb's stream-write text frames, then the text
// frame `end`. After `upload <bytes>` (or `upload-json <bytes>`) it counts the frames that follow
// as such bytes (decoding the JSON ones) instead of echoing them, and once `bytes` have arrived
// answers `end <bytes>`: the same limit for a client that sends, whose frames a WebSocket client
// must mask (RFC 6455) and the server unmask.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { RpcTarget, newWebSocketRpcSession, nodeHttpBatchRpcResponse } from "capnweb";
import { CapnWeb } from "./lib/library.js";
import type { Stub } from "../src/index.js";
import { CHUNK_BYTES, type CountingSource, countingSource, drain, writeAll } from "../test/shared/byte-streams.js";

// capnweb's client looks for the global WebSocket (Node 20 has none).
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

export type Impl = "ours" | "capnweb";

/** The API both servers implement, as the clients see it. */
export interface BenchApi {
  square(i: number): number;
  echo(payload: string): string;
  users(): { get(id: number): { profile(): { name(): string } } };
  generateArray(n: number): number[];
  callFunction(cb: (i: number) => number, i: number): number;
  download(bytes: number): ReadableStream<Uint8Array>;
  produced(): number;
  fill(writable: WritableStream<Uint8Array>, bytes: number): number;
  consume(readable: ReadableStream<Uint8Array>): number;
}

/**
 * The stream methods, the same on both servers: `base` is capnweb's RpcTarget or our Target (each
 * main object, one per connection, remembers its last download's source).
 */
function withStreams<B extends new (...args: any[]) => object>(base: B) {
  const lastSource = new WeakMap<object, CountingSource>();
  return class extends base {
    download(bytes: number): ReadableStream<Uint8Array> {
      const source = countingSource(bytes, { content: "fixed" });
      lastSource.set(this, source);
      return source.stream;
    }
    produced(): number {
      return lastSource.get(this)?.produced() ?? 0;
    }
    async fill(writable: WritableStream<Uint8Array>, bytes: number): Promise<number> {
      await writeAll(writable, bytes, { content: "fixed" });
      return bytes;
    }
    async consume(readable: ReadableStream<Uint8Array>): Promise<number> {
      return (await drain(readable, { hash: false })).bytes;
    }
  };
}

// ---------------------------------------------------------------------------------------------
// capnweb's server

class CwProfile extends RpcTarget {
  constructor(private readonly id: number) {
    super();
  }
  name(): string {
    return `user-${this.id}`;
  }
}
class CwUser extends RpcTarget {
  constructor(private readonly id: number) {
    super();
  }
  profile(): CwProfile {
    return new CwProfile(this.id);
  }
}
class CwUsers extends RpcTarget {
  get(id: number): CwUser {
    return new CwUser(id);
  }
}
export class CwApi extends withStreams(RpcTarget) {
  square(i: number): number {
    return i * i;
  }
  echo(payload: string): string {
    return payload;
  }
  users(): CwUsers {
    return new CwUsers();
  }
  generateArray(n: number): number[] {
    return Array.from({ length: n }, (_, i) => i);
  }
  // capnweb disposes the stubs a call received when the call completes.
  async callFunction(cb: (i: number) => Promise<number>, i: number): Promise<number> {
    return await cb(i);
  }
}

// ---------------------------------------------------------------------------------------------
// Our server

class OurProfile extends CapnWeb.Target {
  constructor(private readonly id: number) {
    super();
  }
  name(): string {
    return `user-${this.id}`;
  }
}
class OurUser extends CapnWeb.Target {
  constructor(private readonly id: number) {
    super();
  }
  profile(): OurProfile {
    return new OurProfile(this.id);
  }
}
class OurUsers extends CapnWeb.Target {
  get(id: number): OurUser {
    return new OurUser(id);
  }
}
export class OurApi extends withStreams(CapnWeb.Target) {
  square(i: number): number {
    return i * i;
  }
  echo(payload: string): string {
    return payload;
  }
  users(): OurUsers {
    return new OurUsers();
  }
  generateArray(n: number): number[] {
    return Array.from({ length: n }, (_, i) => i);
  }
  // With us, a stub in the arguments belongs to the method that received it: give it back.
  async callFunction(cb: Stub<(i: number) => number>, i: number): Promise<number> {
    try {
      return await cb(i);
    } finally {
      CapnWeb.release(cb);
    }
  }
}

// ---------------------------------------------------------------------------------------------

export interface RunningServer {
  /** ws://127.0.0.1:port/ */
  wsUrl: string;
  /** http://127.0.0.1:port/ (HTTP batch; the raw echo server has none) */
  url: string;
  port: number;
  close(): Promise<void>;
}

function listen(http: ReturnType<typeof createServer>, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, "127.0.0.1", () => {
      http.off("error", reject);
      resolve((http.address() as AddressInfo).port);
    });
  });
}

export async function startOurServer(port = 0): Promise<RunningServer> {
  const server = await CapnWeb.serve({ host: "127.0.0.1", port, main: () => new OurApi() });
  return { wsUrl: server.wsUrl, url: server.url, port: server.port, close: () => server.close() };
}

export async function startCapnwebServer(port = 0): Promise<RunningServer> {
  const http = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== "POST") {
      response.writeHead(405).end();
      return;
    }
    void nodeHttpBatchRpcResponse(request, response, new CwApi());
  });
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (ws) => {
    newWebSocketRpcSession(ws as any, new CwApi());
  });
  const actual = await listen(http, port);
  return {
    wsUrl: `ws://127.0.0.1:${actual}/`,
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

export async function startRawServer(port = 0): Promise<RunningServer> {
  const http = createServer((_request, response) => response.writeHead(426).end());
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  wss.on("connection", (ws) => {
    let upload: { expected: number; received: number; json: boolean } | undefined;
    ws.on("message", (data, isBinary) => {
      if (upload) {
        upload.received += upload.json ? decodeStreamWrite(data as Buffer).length : (data as Buffer).length;
        if (upload.received >= upload.expected) {
          ws.send(`end ${upload.received}`);
          upload = undefined;
        }
        return;
      }
      const command = !isBinary && (data as Buffer).length < 32 ? String(data) : "";
      if (command.startsWith("stream ")) void rawStream(ws, Number(command.slice(7)), false);
      else if (command.startsWith("stream-json ")) void rawStream(ws, Number(command.slice(12)), true);
      else if (command.startsWith("upload ")) upload = { expected: Number(command.slice(7)), received: 0, json: false };
      else if (command.startsWith("upload-json ")) upload = { expected: Number(command.slice(12)), received: 0, json: true };
      else ws.send(data, { binary: isBinary });
    });
  });
  const actual = await listen(http, port);
  return {
    wsUrl: `ws://127.0.0.1:${actual}/`,
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** The text frame capnweb's wire makes of a stream write of `chunk`. */
export function streamWriteFrame(chunk: Buffer): string {
  return JSON.stringify(["stream", ["pipeline", 1, ["write"], [["bytes", chunk.toString("base64")]]]]);
}

/** The bytes of such a frame, decoded as a receiver of capnweb's wire must: the JSON, then the base64. */
export function decodeStreamWrite(frame: Buffer): Buffer {
  const message = JSON.parse(String(frame)) as [string, [string, number, string[], [[string, string]]]];
  return Buffer.from(message[1][3][0][1], "base64");
}

/**
 * Sends `bytes` in 64 KiB frames as fast as the socket drains (4 MiB buffered at most): binary,
 * or each chunk as capnweb's stream-write frame (encoded per chunk). Either end of a raw stream.
 */
export async function sendRawFrames(ws: WebSocket, bytes: number, asJson: boolean): Promise<void> {
  const chunk = Buffer.alloc(CHUNK_BYTES);
  for (let sent = 0; sent < bytes; sent += CHUNK_BYTES) {
    const data = bytes - sent >= CHUNK_BYTES ? chunk : chunk.subarray(0, bytes - sent);
    const frame = asJson ? streamWriteFrame(data) : data;
    if (ws.bufferedAmount < 4 * 1024 * 1024) ws.send(frame, { binary: !asJson });
    else await new Promise<void>((resolve, reject) => ws.send(frame, { binary: !asJson }, (error) => (error ? reject(error) : resolve())));
  }
}

/**
 * Raw ws's limit for a stream: frames as fast as the socket drains (4 MiB buffered at most).
 * Binary: the bytes alone. `asJson`: each chunk as the text frame capnweb's wire makes of a
 * stream write (`["stream", ["pipeline", id, ["write"], [["bytes", base64]]]]`), encoded per
 * chunk: the cost of the encoding without any RPC.
 */
async function rawStream(ws: WebSocket, bytes: number, asJson: boolean): Promise<void> {
  await sendRawFrames(ws, bytes, asJson);
  ws.send("end");
}

export function startServer(impl: Impl | "raw", port = 0): Promise<RunningServer> {
  return impl === "ours" ? startOurServer(port) : impl === "capnweb" ? startCapnwebServer(port) : startRawServer(port);
}

/** The URLs of the three servers, as the server child process reports them. */
export interface ServerUrls {
  ours: { wsUrl: string; url: string };
  capnweb: { wsUrl: string; url: string };
  raw: { wsUrl: string; url: string };
}

export async function startAll(): Promise<{ urls: ServerUrls; close(): Promise<void> }> {
  const [ours, capnweb, raw] = await Promise.all([startOurServer(), startCapnwebServer(), startRawServer()]);
  return {
    urls: {
      ours: { wsUrl: ours.wsUrl, url: ours.url },
      capnweb: { wsUrl: capnweb.wsUrl, url: capnweb.url },
      raw: { wsUrl: raw.wsUrl, url: raw.url },
    },
    close: async () => {
      await Promise.all([ours.close(), capnweb.close(), raw.close()]);
    },
  };
}
