// The main object both servers (ours and capnweb 0.12's) offer in the stream interop suites: the
// same methods, the same bookkeeping, so a test reads the same whichever implementation serves.
// StreamService keeps what the server saw (sources it made, digests of what it read) so a test
// can compare both ends of every stream.

import { RpcTarget } from "capnweb";
import * as CapnWeb from "../../src/index.js";
import { type CountingSource, type Drained, countingSource, drain, sha256, writeAll } from "../shared/byte-streams.js";

export interface ResponseInfo {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: string;
}

export interface RequestInfo {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: string;
}

export interface BlobInfo {
  type: string;
  size: number;
  sha256: string;
}

/** What a client sees of either server. */
export interface StreamApi {
  download(bytes: number): ReadableStream<Uint8Array>;
  /** sha256 of everything the last download produced (once it has closed). */
  downloadDigest(): string;
  produced(): number;
  upload(readable: ReadableStream<Uint8Array>): Drained;
  /** Writes `bytes` of random content into the client's stream and closes it; their sha256. */
  fill(writable: WritableStream<Uint8Array>, bytes: number): string;
  blob(text: string, type: string): Blob;
  describeBlob(blob: Blob): BlobInfo;
  response(status: number, headers: Array<[string, string]>, body: string): Response;
  describeResponse(response: Response): ResponseInfo;
  request(method: string, url: string, headers: Array<[string, string]>, body: string): Request;
  describeRequest(request: Request): RequestInfo;
  /**
   * Starts reading the client's stream into the server (1 chunk per `delayMs`, at most
   * `maxChunks`) and answers at once; see `uploadEnded`.
   */
  startUpload(readable: ReadableStream<Uint8Array>, delayMs?: number, maxChunks?: number): null;
  /** A capability that hands out streams: what a restorable subscription derives. */
  feed(): Feed;
  /** Calls `holder.take(stream)` with a fresh download of `bytes`. */
  sendTo(holder: StreamHolder, bytes: number): null;
}

export interface Feed {
  open(bytes: number): ReadableStream<Uint8Array>;
}

/** Something on the client that the server hands a stream to. */
export interface StreamHolder {
  take(stream: ReadableStream<Uint8Array>): null;
}

export async function describeResponse(response: Response): Promise<ResponseInfo> {
  return { status: response.status, statusText: response.statusText, headers: [...response.headers], body: await response.text() };
}

export async function describeRequest(request: Request): Promise<RequestInfo> {
  return { method: request.method, url: request.url, headers: [...request.headers], body: await request.text() };
}

export async function describeBlob(blob: Blob): Promise<BlobInfo> {
  return { type: blob.type, size: blob.size, sha256: sha256(new Uint8Array(await blob.arrayBuffer())) };
}

export class StreamService {
  sources: CountingSource[] = [];
  /** Feeds handed out: one per derivation of a restorable feed. */
  feeds = 0;
  /** How the stream `startUpload` reads ends: what it read, or why it failed. */
  uploadEnded: Promise<Drained> | undefined;
  uploadRead = 0;
  /**
   * How the last `fill` ends on the server: the sha256 written, or why it failed. (A passed
   * WritableStream lives as long as the call it came with, so the call is what stays open.)
   */
  fillEnded: Promise<string> | undefined;
  /** Called after each chunk `startUpload` reads, with the bytes read so far. */
  onUploadChunk: ((bytes: number) => void) | undefined;

  download(bytes: number): ReadableStream<Uint8Array> {
    const source = countingSource(bytes);
    this.sources.push(source);
    return source.stream;
  }
  downloadDigest(): string {
    return this.sources[this.sources.length - 1]!.digest();
  }
  produced(): number {
    return this.sources[this.sources.length - 1]?.produced() ?? 0;
  }
  upload(readable: ReadableStream<Uint8Array>): Promise<Drained> {
    return drain(readable);
  }
  fill(writable: WritableStream<Uint8Array>, bytes: number): Promise<string> {
    this.fillEnded = writeAll(writable, bytes);
    this.fillEnded.catch(() => {});
    return this.fillEnded;
  }
  blob(text: string, type: string): Blob {
    return new Blob([text], { type });
  }
  response(status: number, headers: Array<[string, string]>, body: string): Response {
    return new Response(body, { status, headers });
  }
  startUpload(readable: ReadableStream<Uint8Array>, delayMs?: number, maxChunks?: number): null {
    this.uploadEnded = drain(readable, {
      delayMs,
      maxChunks,
      onChunk: (bytes) => {
        this.uploadRead = bytes;
        this.onUploadChunk?.(bytes);
      },
    });
    this.uploadEnded.catch(() => {});
    return null;
  }
}

const services = new WeakMap<object, StreamService>();
const serviceOf = (api: object) => services.get(api)!;

type Base = new (...args: any[]) => object;

/**
 * The server objects of either implementation: `base` is capnweb's RpcTarget or our Target;
 * `releaseArgument` gives back a stub a method received (ours: the method owns it; capnweb
 * disposes it itself when the call returns).
 */
function streamApiOn<B extends Base>(base: B, releaseArgument: (stub: unknown) => void) {
  class FeedOn extends base {
    open(bytes: number) {
      return serviceOf(this).download(bytes);
    }
  }
  return class extends base {
    feed() {
      const service = serviceOf(this);
      service.feeds++;
      return serving(new FeedOn(), service);
    }
    async sendTo(holder: CapnWeb.Stub<StreamHolder>, bytes: number) {
      try {
        await holder.take(serviceOf(this).download(bytes));
        return null;
      } finally {
        releaseArgument(holder);
      }
    }
    download(bytes: number) {
      return serviceOf(this).download(bytes);
    }
    downloadDigest() {
      return serviceOf(this).downloadDigest();
    }
    produced() {
      return serviceOf(this).produced();
    }
    upload(readable: ReadableStream<Uint8Array>) {
      return serviceOf(this).upload(readable);
    }
    fill(writable: WritableStream<Uint8Array>, bytes: number) {
      return serviceOf(this).fill(writable, bytes);
    }
    blob(text: string, type: string) {
      return serviceOf(this).blob(text, type);
    }
    describeBlob(blob: Blob) {
      return describeBlob(blob);
    }
    response(status: number, headers: Array<[string, string]>, body: string) {
      return serviceOf(this).response(status, headers, body);
    }
    describeResponse(response: Response) {
      return describeResponse(response);
    }
    request(method: string, url: string, headers: Array<[string, string]>, body: string) {
      return new Request(url, { method, headers, body });
    }
    describeRequest(request: Request) {
      return describeRequest(request);
    }
    startUpload(readable: ReadableStream<Uint8Array>, delayMs?: number, maxChunks?: number) {
      return serviceOf(this).startUpload(readable, delayMs, maxChunks);
    }
  };
}

const CapnwebStreamApi = streamApiOn(RpcTarget, () => {});
const OurStreamApi = streamApiOn(CapnWeb.Target, (stub) => CapnWeb.release(stub));

/** The service is kept off the object: a field would be one more thing the peer could try to reach. */
function serving<T extends object>(api: T, service: StreamService): T {
  services.set(api, service);
  return api;
}
export const capnwebStreamApi = (service: StreamService) => serving(new CapnwebStreamApi(), service);
export const ourStreamApi = (service: StreamService) => serving(new OurStreamApi(), service);
