// The clients of the benchmark: ours (CapnWeb.connect), capnweb's (newWebSocketRpcSession /
// newHttpBatchRpcSession), and a raw `ws` socket that only exchanges frames with the echo server.

import { WebSocket } from "ws";
import { newHttpBatchRpcSession, newWebSocketRpcSession } from "capnweb";
import { CapnWeb } from "./library.js";
import { type Impl, type ServerUrls, decodeStreamWrite, sendRawFrames } from "../servers.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

/** One client implementation talking to one server implementation. */
export interface Pair {
  client: Impl;
  server: Impl;
  /** "ours→capnweb": client→server. */
  label: string;
  /** The root stub over WebSocket (open). */
  api: any;
}

export const PAIR_ORDER: Array<[Impl, Impl]> = [
  ["ours", "ours"],
  ["capnweb", "capnweb"],
  ["ours", "capnweb"],
  ["capnweb", "ours"],
];

export function label(client: Impl, server: Impl): string {
  return `${client}→${server}`;
}

/** Opens a WebSocket session and waits until it answered one call. */
export async function openWs(client: Impl, wsUrl: string): Promise<any> {
  const api: any = client === "ours" ? await CapnWeb.connect(wsUrl) : newWebSocketRpcSession(wsUrl);
  await api.square(2);
  return api;
}

export function closeWs(client: Impl, api: any): void {
  if (client === "ours") CapnWeb.close(api);
  else api[Symbol.dispose]();
}

/**
 * An HTTP batch client, as a function that returns the root to use for the next batch (the calls
 * made on it in one turn of the event loop go in one POST). Ours keeps one root, every turn a
 * new batch; capnweb's root is good for one batch, so each batch makes one.
 */
export async function httpClient(client: Impl, url: string): Promise<() => any> {
  if (client === "ours") {
    const root: any = await CapnWeb.connect(url);
    return () => root;
  }
  return () => newHttpBatchRpcSession(url);
}

export async function openPairs(urls: ServerUrls): Promise<Pair[]> {
  const pairs: Pair[] = [];
  for (const [client, server] of PAIR_ORDER) {
    pairs.push({ client, server, label: label(client, server), api: await openWs(client, urls[server].wsUrl) });
  }
  return pairs;
}

export function closePairs(pairs: Pair[]): void {
  for (const p of pairs) closeWs(p.client, p.api);
}

/** A raw `ws` client of the echo server: sends frames and counts the echoes. */
export class RawClient {
  private remaining = 0;
  private done: (() => void) | undefined;
  /** While a download runs: its byte count, whether frames are JSON, and what to call on its `end` frame. */
  private downloading: { bytes: number; json: boolean; end(bytes: number): void } | undefined;
  /** While an upload runs: what to call with the count of the server's `end <bytes>` frame. */
  private uploaded: ((bytes: number) => void) | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      const download = this.downloading;
      if (download) {
        if (isBinary) download.bytes += data.length;
        else if (download.json && data.length > 3) download.bytes += decodeStreamWrite(data).length;
        else {
          this.downloading = undefined;
          download.end(download.bytes);
        }
        return;
      }
      const uploaded = this.uploaded;
      if (uploaded) {
        this.uploaded = undefined;
        uploaded(Number(String(data).slice(4)));
        return;
      }
      if (--this.remaining === 0) {
        const done = this.done;
        this.done = undefined;
        done?.();
      }
    });
  }

  static async open(wsUrl: string): Promise<RawClient> {
    const socket = new WebSocket(wsUrl, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    return new RawClient(socket);
  }

  /** Sends `count` frames at once and resolves when all `count` echoes are back. */
  exchange(count: number, data: string): Promise<void> {
    return new Promise((resolve) => {
      this.remaining = count;
      this.done = resolve;
      for (let i = 0; i < count; i++) this.socket.send(data);
    });
  }

  /**
   * Asks the raw server for `bytes` in binary frames (or, `json`, as capnweb's stream-write text
   * frames, decoded here); resolves with the bytes received at its `end`.
   */
  download(bytes: number, json = false): Promise<number> {
    return new Promise((end) => {
      this.downloading = { bytes: 0, json, end };
      this.socket.send(`${json ? "stream-json" : "stream"} ${bytes}`);
    });
  }

  /**
   * Sends `bytes` to the raw server in binary frames (or, `json`, as capnweb's stream-write text
   * frames, which it decodes); resolves with the bytes it counted once all have arrived.
   */
  upload(bytes: number, json = false): Promise<number> {
    const counted = new Promise<number>((resolve) => (this.uploaded = resolve));
    this.socket.send(`${json ? "upload-json" : "upload"} ${bytes}`);
    return sendRawFrames(this.socket, bytes, json).then(() => counted);
  }

  close(): void {
    this.socket.close();
  }
}

/** About the size of a capnweb `push` of `square(i)`: what the raw client sends instead. */
export const RAW_SMALL_MESSAGE = JSON.stringify(["push", ["pipeline", 0, ["square"], [1234]]]);
