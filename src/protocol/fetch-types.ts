// Request, Response and Blob as capnweb 0.12 puts them on the wire:
//
//   ["request", url, init]     init: only what differs from the defaults; `body` an expression
//                              (a readable pipe), headers as pairs, the rest plain JSON
//   ["response", body, init]   body: null, or an expression (a readable pipe)
//   ["blob", type, ["readable", id]]  always a pipe: a Blob's bytes can only be read
//                              asynchronously; the receiver's value is the Blob once it is read
//
// The codec does the expressions (the body, the pipe); this file does the rest of each object.

import { CapnWebError } from "./errors.js";

/** Encodes a body as a value expression (a ReadableStream becomes a readable pipe). */
type EncodeBody = (body: ReadableStream | null) => unknown;
/** Pipes a stream to the peer; returns the pipe's ID. */
type Pipe = (readable: ReadableStream) => number;
/** Holds one plain-JSON init field to the message limits (depth). */
type CheckField = (field: unknown) => void;

// Methods whose Request has no body to read when the runtime does not expose `request.body`.
const BODYLESS_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "DELETE"]);

// What a received init may set: the fields capnweb sends (Workers' `cf` and encodings included).
const REQUEST_INIT_KEYS = [
  "method",
  "headers",
  "duplex",
  "cache",
  "redirect",
  "integrity",
  "mode",
  "credentials",
  "referrer",
  "referrerPolicy",
  "keepalive",
  "cf",
  "encodeResponseBody",
] as const;
const RESPONSE_INIT_KEYS = ["status", "statusText", "headers", "cf", "encodeBody"] as const;

export function requestExpression(request: Request, encodeBody: EncodeBody, pipe: Pipe): unknown[] {
  const init: Record<string, unknown> = {};
  if (request.method !== "GET") init.method = request.method;
  const headers = [...request.headers];
  if (headers.length > 0) init.headers = headers;
  const duplex = (request as { duplex?: string }).duplex || "half";
  if (request.body) {
    init.body = encodeBody(request.body);
    init.duplex = duplex;
  } else if (request.body === undefined && !BODYLESS_METHODS.has(request.method)) {
    // A runtime without `request.body` (Firefox): the bytes are read first, then piped.
    const bytes = request.arrayBuffer();
    const readable = new ReadableStream<Uint8Array>({
      async start(controller) {
        try {
          controller.enqueue(new Uint8Array(await bytes));
          controller.close();
        } catch (error) {
          controller.error(error);
        }
      },
    });
    init.body = ["readable", pipe(readable)];
    init.duplex = duplex;
  }
  if (request.cache && request.cache !== "default") init.cache = request.cache;
  if (request.redirect !== "follow") init.redirect = request.redirect;
  if (request.integrity) init.integrity = request.integrity;
  if (request.mode && request.mode !== "cors") init.mode = request.mode;
  if (request.credentials && request.credentials !== "same-origin") init.credentials = request.credentials;
  if (request.referrer && request.referrer !== "about:client") init.referrer = request.referrer;
  if (request.referrerPolicy) init.referrerPolicy = request.referrerPolicy;
  if (request.keepalive) init.keepalive = request.keepalive;
  const workers = request as { cf?: unknown; encodeResponseBody?: string };
  if (workers.cf) init.cf = workers.cf;
  if (workers.encodeResponseBody && workers.encodeResponseBody !== "automatic") init.encodeResponseBody = workers.encodeResponseBody;
  return ["request", request.url, init];
}

export function responseExpression(response: Response, encodeBody: EncodeBody): unknown[] {
  const workers = response as { cf?: unknown; encodeBody?: string; webSocket?: unknown };
  if (workers.webSocket) throw new CapnWebError("invalid_argument", "Can't serialize a Response containing a webSocket.", { remoteName: "TypeError" });
  const body = encodeBody(response.body);
  const init: Record<string, unknown> = {};
  if (response.status !== 200) init.status = response.status;
  if (response.statusText) init.statusText = response.statusText;
  const headers = [...response.headers];
  if (headers.length > 0) init.headers = headers;
  if (workers.cf) init.cf = workers.cf;
  if (workers.encodeBody && workers.encodeBody !== "automatic") init.encodeBody = workers.encodeBody;
  return ["response", body, init];
}

export function blobExpression(blob: Blob, pipe: Pipe): unknown[] {
  return ["blob", blob.type, ["readable", pipe(blobBytes(blob))]];
}

/**
 * A Blob's bytes as a stream that ends with its last byte. `blob.stream()` itself reports its end
 * one read later, and on Node 24 and later that read takes another macrotask: over HTTP batch the
 * request would go without the pipe's close, and the call would wait for it for ever. A Blob's
 * size is known, so the end is known when the last byte is read.
 */
function blobBytes(blob: Blob): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let remaining = blob.size;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (remaining > 0) {
          reader ??= blob.stream().getReader();
          const { done, value } = await reader.read();
          if (!done) {
            controller.enqueue(value);
            remaining -= value.byteLength;
            if (remaining > 0) return;
          }
        }
        controller.close();
        // Nothing is left to read; the source's own end is not waited for.
        reader?.cancel().catch(() => {});
      },
      cancel(reason) {
        return reader?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** The Blob a pipe's bytes make, with the sender's content type. */
export async function blobFromStream(stream: ReadableStream, type: string): Promise<Blob> {
  const blob = await new Response(stream).blob();
  // A new Blob around the bytes rather than slice(): on Node 22 a slice is not a plain Blob.
  return blob.type === type ? blob : new Blob([blob], { type });
}

/** A received Request; `body` is its decoded body expression (undefined when it had none). */
export function requestFromWire(url: string, fields: Record<string, unknown>, body: unknown, check: CheckField): Request {
  if (body !== undefined && !isBody(body)) throw new CapnWebError("protocol", "Request body must be of type ReadableStream.");
  if (fields.signal) throw new CapnWebError("protocol", "A Request's signal cannot be received.");
  const init = initFrom(fields, REQUEST_INIT_KEYS, check);
  // The fetch standard forbids these methods, but not every runtime's Request refuses them (Bun
  // builds one): refused here, a peer's request means the same on every runtime.
  if (typeof init.method === "string" && FORBIDDEN_METHODS.has(init.method.toUpperCase())) {
    throw new CapnWebError("protocol", `Invalid request expression: the method ${init.method} is forbidden.`);
  }
  if (body !== undefined) init.body = body;
  return build(() => new Request(url, init), "request");
}

const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

export function responseFromWire(body: unknown, fields: Record<string, unknown>, check: CheckField): Response {
  if (!isBody(body)) throw new CapnWebError("protocol", "Response body must be of type ReadableStream.");
  if (fields.webSocket) throw new CapnWebError("protocol", "Can't deserialize a Response containing a webSocket.");
  return build(() => new Response(body as ConstructorParameters<typeof Response>[0], initFrom(fields, RESPONSE_INIT_KEYS, check)), "response");
}

/** A copy of `request` holding the bytes of `body` (for a runtime whose Request cannot hold a stream). */
export async function withBytesOf(request: Request, body: ReadableStream): Promise<Request> {
  const bytes = await new Response(body).arrayBuffer();
  return new Request(request, { body: new Uint8Array(bytes) });
}

function isBody(body: unknown): boolean {
  return body === null || body === undefined || typeof body === "string" || body instanceof Uint8Array || body instanceof ReadableStream;
}

/**
 * Only the known fields, taken as they came (headers as pairs, `cf` as is), each held to the
 * limits first: the Headers constructor stringifies what it is given, as deep as it is nested.
 */
function initFrom(fields: Record<string, unknown>, keys: readonly string[], check: CheckField): Record<string, unknown> {
  if (fields.headers !== undefined && !Array.isArray(fields.headers)) {
    throw new CapnWebError("protocol", "Request and Response headers must be serialized as an array of pairs.");
  }
  const init: Record<string, unknown> = {};
  for (const name of keys) {
    if (!Object.hasOwn(fields, name)) continue;
    check(fields[name]);
    init[name] = fields[name];
  }
  return init;
}

function build<T>(make: () => T, kind: string): T {
  try {
    return make();
  } catch (cause) {
    // The runtime's own error says what was wrong; only its message travels in the abort.
    throw new CapnWebError("protocol", `Invalid ${kind} expression: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
