// The expression codec: application values to JSON-able trees ("encode") and back ("decode"),
// byte-compatible with capnweb 0.12's Devaluator and Evaluator.
//
// Invariants kept here:
// - A literal array is always escaped as `[[...]]`; any other array is a typed expression.
// - Typed arrays travel little-endian, with a marker naming their type (plain Uint8Array has none).
// - A decoded object never holds a key named like an Object.prototype member, nor `toJSON`.
// - A stub found while encoding is either referred back to (the peer's own import) or exported;
//   exporting takes a new reference, so the application's stub is never consumed.

import { CapnWebError } from "./errors.js";
import { type Hook, PayloadHook, PromiseHook, TargetHook, type PropertyPath } from "./hooks.js";
import { DEFAULT_LIMITS, RemapBudget, attachRemapBudget, isBlockedName, type LimitName, type Limits } from "./limits.js";
import { Payload, type PendingSlot } from "./payload.js";
import { anchorStub, borrowedPromiseStub, newPromiseStub, newStub, stubViewOf } from "./stub.js";
import { DeferredReleaseHook, ReadableStreamHook, type StreamRegistry, WritableStreamHook, writableFromHook } from "./streams.js";
import {
  blobExpression,
  blobFromStream,
  requestExpression,
  requestFromWire,
  responseExpression,
  responseFromWire,
  withBytesOf,
} from "./fetch-types.js";
import { isTarget } from "./target.js";
import { bufferPrototype, fromBase64, toBase64 } from "../platform/bytes.js";

// -----------------------------------------------------------------------------------------------
// Encoding

export interface Exporter {
  /** The peer's ID for `hook` when it is one of the peer's own exports (our import). */
  importIdOf(hook: Hook): number | undefined;
  /** Exports a capability; takes ownership of `hook`. */
  exportHook(hook: Hook): number;
  /** Exports a local target or function, one ID per object however often it is sent. */
  exportTarget(target: object): number;
  /** Exports a promise whose resolution will follow; takes ownership of `hook`. */
  exportPromise(hook: Hook): number;
  /** Rolls back exports made by an encoding that then failed. */
  unexport(ids: number[]): void;
  /** Lets the application rewrite (or redact) an error before it is sent. */
  rewriteError(error: Error): Error | void;
  /**
   * Sends `["pipe"]` and pipes `readable` into the export the peer makes for it; returns the
   * pipe's import ID for `["readable", id]`. Absent outside a session (nothing to pipe into).
   */
  createPipe?(readable: ReadableStream): Pipe;
  /** Where streams that must fail with the session are kept. */
  trackStream?: StreamRegistry["trackStream"];
}

/** The readable end of a pipe the peer made, and how to break the pipe while it is being read. */
export interface PipeEnd {
  readonly readable: ReadableStream;
  /** Errors the pipe (its reader sees `reason`; the peer's next write fails and cancels its source). */
  break(reason: unknown): void;
}

/** A pipe made while encoding: its ID, and how to give it up if the message is not sent. */
export interface Pipe {
  readonly id: number;
  abandon(reason: unknown): void;
}

const NO_EXPORTS: Exporter = {
  importIdOf: () => undefined,
  exportHook() {
    throw new CapnWebError("invalid_argument", "Stubs can only be sent within a session.");
  },
  exportTarget() {
    throw new CapnWebError("invalid_argument", "Targets and functions can only be sent within a session.");
  },
  exportPromise() {
    throw new CapnWebError("invalid_argument", "Promises can only be sent within a session.");
  },
  unexport() {},
  rewriteError: () => undefined,
};

const ENCODE_MAX_DEPTH = DEFAULT_LIMITS.maxDepth;

const BYTE_MARKERS = new Map<object, string>([
  [ArrayBuffer.prototype, "ArrayBuffer"],
  [DataView.prototype, "DataView"],
  [Int8Array.prototype, "Int8Array"],
  [Uint8ClampedArray.prototype, "Uint8ClampedArray"],
  [Int16Array.prototype, "Int16Array"],
  [Uint16Array.prototype, "Uint16Array"],
  [Int32Array.prototype, "Int32Array"],
  [Uint32Array.prototype, "Uint32Array"],
  [BigInt64Array.prototype, "BigInt64Array"],
  [BigUint64Array.prototype, "BigUint64Array"],
  [Float32Array.prototype, "Float32Array"],
  [Float64Array.prototype, "Float64Array"],
]);
const PLAIN_BYTES = new Set<object>(bufferPrototype ? [Uint8Array.prototype, bufferPrototype] : [Uint8Array.prototype]);
/**
 * The prototypes a runtime gives its own Blobs. Node 22 makes `slice()`'s result an instance of an
 * internal class below Blob, so matching Blob.prototype alone would refuse a slice on Node 22 only.
 * A user's subclass of Blob, or a File, is still refused, as capnweb refuses it.
 */
const BLOB_PROTOTYPES = new Set<object>(
  typeof Blob === "undefined" ? [] : [Blob.prototype, Object.getPrototypeOf(new Blob([]).slice()) as object],
);

export class Encoder {
  private exports: number[] | undefined;
  private pipes: Pipe[] | undefined;

  private constructor(
    private readonly exporter: Exporter,
    /** False for a rejection or an abort: nothing would own a capability in it (capnweb drops them). */
    private readonly capabilities = true,
    /**
     * True for a call's arguments: a Target or function with a `dup()` method is sent as what
     * `dup()` returns (capnweb's rule), so that the callee's release disposes the copy only.
     */
    private readonly params = false,
  ) {}

  /** Encodes one value; on failure, exports it made are rolled back. */
  static encode(value: unknown, exporter: Exporter = NO_EXPORTS): unknown {
    const encoder = new Encoder(exporter);
    try {
      return encoder.encodeValue(value, 0);
    } catch (error) {
      encoder.rollback();
      throw error;
    }
  }

  /**
   * Encodes the reason of a `reject` or an `abort`. A capability in it has no owner to outlive
   * the message, so the property holding it is dropped, as capnweb drops it.
   */
  static encodeRejection(value: unknown, exporter: Exporter = NO_EXPORTS): unknown {
    const encoder = new Encoder(exporter, false);
    try {
      return encoder.encodeValue(value, 0);
    } catch (error) {
      encoder.rollback();
      throw error;
    }
  }

  /** Encodes a call's argument list: the array expression without its escaping layer. */
  static encodeArgs(args: readonly unknown[], exporter: Exporter): unknown[] {
    const encoder = new Encoder(exporter, true, true);
    try {
      const out = new Array(args.length);
      for (let i = 0; i < args.length; i++) out[i] = encoder.encodeValue(args[i], 1);
      return out;
    } catch (error) {
      encoder.rollback();
      throw error;
    }
  }

  private rollback(): void {
    // A pipe already announced is closed with an abort, so that the peer drops its end.
    if (this.pipes) for (const pipe of this.pipes) pipe.abandon(new CapnWebError("aborted", "The message carrying this stream was not sent."));
    if (!this.exports) return;
    try {
      this.exporter.unexport(this.exports);
    } catch {
      // The original failure is what the caller needs to see.
    }
  }

  private noteExport(id: number): number {
    if (!this.capabilities) {
      this.exporter.unexport([id]);
      throw NO_CAPABILITIES_HERE;
    }
    (this.exports ??= []).push(id);
    return id;
  }

  private encodeValue(value: unknown, depth: number): unknown {
    if (depth >= ENCODE_MAX_DEPTH) {
      throw new CapnWebError("invalid_argument", "Serialization exceeded maximum allowed depth. (Does the message contain cycles?)");
    }
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        if (Number.isFinite(value)) return value;
        return value === Infinity ? ["inf"] : value === -Infinity ? ["-inf"] : ["nan"];
      case "undefined":
        return ["undefined"];
      case "bigint":
        return ["bigint", value.toString()];
      case "function": {
        const view = stubViewOf(value);
        if (view) return this.encodeStub(view.liveHook(), view.path, view.isPromise);
        if (!this.capabilities) throw NO_CAPABILITIES_HERE;
        return ["export", this.noteExport(this.exporter.exportTarget(this.params ? dupForParams(value) : value))];
      }
      case "object":
        break;
      default:
        throw unserializable(value);
    }
    if (value === null) return null;

    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype) {
      const object = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const key in object) {
        // An own "__proto__" key is never sent: on Node the assignment below would set the
        // prototype (so capnweb drops it), and on Deno, which has no __proto__ accessor, it would
        // travel as a key that every decoder strips anyway.
        if (key === "__proto__") continue;
        out[key] = this.encodeValue(object[key], depth + 1);
      }
      return out;
    }
    if (proto === Array.prototype) {
      const array = value as unknown[];
      const out = new Array(array.length);
      for (let i = 0; i < array.length; i++) out[i] = this.encodeValue(array[i], depth + 1);
      return [out];
    }
    if (proto === Date.prototype) {
      const time = (value as Date).getTime();
      return ["date", Number.isNaN(time) ? null : time];
    }
    if (PLAIN_BYTES.has(proto)) return ["bytes", toUnpaddedBase64(value as Uint8Array)];
    const marker = BYTE_MARKERS.get(proto);
    if (marker !== undefined) {
      const bytes = marker === "ArrayBuffer"
        ? new Uint8Array(value as ArrayBuffer)
        : new Uint8Array((value as ArrayBufferView).buffer, (value as ArrayBufferView).byteOffset, (value as ArrayBufferView).byteLength);
      return ["bytes", toUnpaddedBase64(bytes), marker];
    }
    if (proto === URL.prototype) return ["url", (value as URL).href];
    if (proto === Headers.prototype) return ["headers", [...(value as Headers)]];
    if (isTarget(value)) {
      if (!this.capabilities) throw NO_CAPABILITIES_HERE;
      return ["export", this.noteExport(this.exporter.exportTarget(this.params ? dupForParams(value) : value))];
    }
    if ((value as object) instanceof Error) return this.encodeError(value as Error, depth);
    // instanceof, not the prototype: Node's TransformStream ends (a received pipe) are subclasses.
    if (value instanceof ReadableStream) {
      if (!this.exporter.createPipe) throw new CapnWebError("invalid_argument", "Can't serialize ReadableStream in this context.");
      return ["readable", this.pipe(value)];
    }
    if (value instanceof WritableStream) return this.encodeWritable(value);
    if (BLOB_PROTOTYPES.has(proto)) {
      return blobExpression(value as Blob, (readable) => this.pipe(readable));
    }
    if (proto === Request.prototype) return this.encodeRequest(value as Request, depth);
    if (proto === Response.prototype) return this.encodeResponse(value as Response, depth);
    throw unserializable(value);
  }

  private pipe(readable: ReadableStream): number {
    if (!this.capabilities) throw NO_CAPABILITIES_HERE;
    if (!this.exporter.createPipe) throw new CapnWebError("invalid_argument", "Cannot create pipes without an RPC session.");
    if (readable.locked) throw new CapnWebError("invalid_argument", "A locked ReadableStream cannot be sent: something is reading it already.");
    const pipe = this.exporter.createPipe(readable);
    (this.pipes ??= []).push(pipe);
    return pipe.id;
  }

  private encodeWritable(stream: WritableStream): unknown {
    if (!this.capabilities) throw NO_CAPABILITIES_HERE;
    if (!this.exporter.trackStream) throw new CapnWebError("invalid_argument", "Can't serialize WritableStream in this context.");
    let hook: Hook;
    try {
      hook = WritableStreamHook.of(stream, this.exporter as StreamRegistry);
    } catch (cause) {
      throw new CapnWebError("invalid_argument", "A locked WritableStream cannot be sent: something is writing to it already.", { cause });
    }
    return ["writable", this.noteExport(this.exporter.exportHook(hook))];
  }

  private encodeRequest(request: Request, depth: number): unknown {
    return requestExpression(request, (body) => this.encodeValue(body, depth + 1), (readable) => this.pipe(readable));
  }

  private encodeResponse(response: Response, depth: number): unknown {
    return responseExpression(response, (body) => this.encodeValue(body, depth + 1));
  }

  private encodeStub(hook: Hook, path: PropertyPath, isPromise: boolean): unknown {
    if (!this.capabilities) throw NO_CAPABILITIES_HERE;
    const importId = this.exporter.importIdOf(hook);
    if (importId !== undefined) {
      if (!isPromise) return ["import", importId];
      return path.length > 0 ? ["pipeline", importId, path] : ["pipeline", importId];
    }
    if (hook instanceof TargetHook && path.length === 0 && !isPromise) {
      return ["export", this.noteExport(this.exporter.exportTarget(hook.target))];
    }
    if (isPromise) {
      const promised = path.length > 0 ? hook.get(path) : hook.dup();
      return ["promise", this.noteExport(this.exporter.exportPromise(promised))];
    }
    return ["export", this.noteExport(this.exporter.exportHook(hook.dup()))];
  }

  private encodeError(original: Error, depth: number): unknown {
    const rewritten = this.exporter.rewriteError(original);
    const error = rewritten ?? original;
    let props: Record<string, unknown> | undefined;
    const capture = (key: string, value: unknown) => {
      const before = this.exports?.length ?? 0;
      try {
        const encoded = this.encodeValue(value, depth + 1);
        (props ??= {})[key] = encoded;
      } catch {
        // A property that cannot travel is dropped; the error itself always arrives.
        if (this.exports && this.exports.length > before) {
          const extra = this.exports.splice(before);
          try {
            this.exporter.unexport(extra);
          } catch {
            // ignore: we are already discarding this property
          }
        }
      }
    };
    const ours = error instanceof CapnWebError;
    for (const key of Object.keys(error)) {
      if (key === "name" || key === "message" || key === "stack") continue;
      // A CapnWebError's remoteName travels as its name.
      if (ours && (key === "remoteName" || (key === "type" && plainOnTheWire.has(error)))) continue;
      capture(key, (error as unknown as Record<string, unknown>)[key]);
    }
    if ("cause" in error) capture("cause", error.cause);
    if (error instanceof AggregateError) capture("errors", error.errors);

    const out: unknown[] = ["error", error.name, error.message];
    // Stacks are redacted unless the application's rewrite hook chose to send one.
    const stack = rewritten && typeof rewritten.stack === "string" ? rewritten.stack : undefined;
    if (props) out.push(stack ?? null, props);
    else if (stack !== undefined) out.push(stack);
    return out;
  }
}

function dupForParams(target: object): object {
  const dup = (target as { dup?: unknown }).dup;
  return typeof dup === "function" ? (dup.call(target) as object) : target;
}

// Errors that go to the peer as the bare class they name (capnweb's TypeError), without `type`.
const plainOnTheWire = new WeakSet<Error>();

// Thrown inside a rejection's encoding only, where encodeError catches it and drops the property.
const NO_CAPABILITIES_HERE = new TypeError("Capabilities cannot be sent in an error.");

/**
 * What cannot travel. The message is capnweb's, and the error goes to the peer as a TypeError,
 * as capnweb's does; locally it is a CapnWebError of type `invalid_argument`.
 */
function unserializable(value: unknown): CapnWebError {
  let shown: string;
  try {
    shown = String(value);
  } catch {
    shown = "(couldn't stringify value)";
  }
  const error = new CapnWebError("invalid_argument", `Cannot serialize value: ${shown}`, { remoteName: "TypeError" });
  plainOnTheWire.add(error);
  return error;
}

/**
 * The JSON text of a call's arguments when they are one plain byte array (a stream's write), the
 * same text `JSON.stringify(Encoder.encodeArgs(args, exporter))` makes, or undefined for any other
 * arguments. Base64 needs no JSON escaping, so the frame is joined around it: JSON.stringify would
 * scan every character of it again, several times the cost of the base64 itself.
 */
export function soleBytesArgsJson(args: readonly unknown[]): string | undefined {
  if (args.length !== 1) return undefined;
  const value = args[0];
  if (value === null || typeof value !== "object" || !PLAIN_BYTES.has(Object.getPrototypeOf(value) as object)) return undefined;
  return `[["bytes","${toUnpaddedBase64(value as Uint8Array)}"]]`;
}

function toUnpaddedBase64(bytes: Uint8Array): string {
  const text = toBase64(bytes);
  // capnweb omits padding; its decoder accepts both.
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  return end === text.length ? text : text.slice(0, end);
}

// -----------------------------------------------------------------------------------------------
// Decoding

export interface Importer {
  /** `["export", id]`: the peer sends us a capability. Returns a new reference. */
  importStub(id: number): Hook;
  /** `["promise", id]`: the peer sends a promise it will resolve. Returns a new reference. */
  importPromise(id: number): Hook;
  /** `["import"|"pipeline", id, ...]`: the peer refers to one of our exports (borrowed). */
  exportedHook(id: number): Hook | undefined;
  readonly limits: Limits;
  /** Inside a mapper: the budget of the remap being run, which nested remaps share. */
  readonly remapBudget?: RemapBudget;
  /** Makes the error for a broken limit (a session aborts itself with it too). */
  limitBroken?(limit: LimitName, message: string): CapnWebError;
  /** `["readable", id]`: takes the readable end of the pipe the peer made as `id`, once. */
  takePipeReadable?(id: number): PipeEnd;
  /** Where streams that must fail with the session are kept. */
  trackStream?: StreamRegistry["trackStream"];
}

const NO_IMPORTS: Importer = {
  importStub() {
    throw new CapnWebError("protocol", "A capability cannot be decoded outside a session.");
  },
  importPromise() {
    throw new CapnWebError("protocol", "A promise cannot be decoded outside a session.");
  },
  exportedHook: () => undefined,
  limits: DEFAULT_LIMITS,
};

// Null prototype: a wire-supplied name must not reach an inherited member such as `constructor`.
const ERROR_CLASSES: Record<string, ErrorConstructor> = Object.assign(Object.create(null), {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
  AggregateError,
});

const TYPED_ARRAYS: Record<string, { new (buffer: ArrayBuffer): ArrayBufferView; BYTES_PER_ELEMENT?: number }> =
  Object.assign(Object.create(null), {
    DataView,
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    BigInt64Array,
    BigUint64Array,
    Float32Array,
    Float64Array,
  });

type Container = Record<string | number, unknown>;

export class Decoder {
  private owned: unknown[] | undefined;
  private pending: PendingSlot[] | undefined;

  private constructor(private readonly importer: Importer) {}

  /**
   * Decodes an expression into a payload that owns the stubs it created. The tree is modified in
   * place (it was just parsed and belongs to nobody else). On failure, everything created so far
   * is released before the error propagates.
   */
  static decode(expression: unknown, importer: Importer = NO_IMPORTS, depth = 0): Payload {
    const decoder = new Decoder(importer);
    const payload = Payload.forDecoding();
    try {
      payload.value = decoder.decodeValue(expression, payload as unknown as Container, "value", depth);
    } catch (error) {
      payload.attach(decoder.owned, decoder.pending);
      payload.dispose();
      throw error;
    }
    payload.attach(decoder.owned, decoder.pending);
    return payload;
  }

  private decodeValue(value: unknown, parent: Container, key: string | number, depth: number): unknown {
    const { maxDepth } = this.importer.limits;
    if (depth >= maxDepth) {
      throw new CapnWebError("protocol", `Message nests deeper than the limit of ${maxDepth}.`);
    }
    if (typeof value !== "object" || value === null) return value;
    if (!Array.isArray(value)) {
      const object = value as Container;
      for (const name in object) {
        if (isBlockedName(name)) {
          // Decode anyway so that any stub inside is owned and released, then drop the key.
          this.decodeValue(object[name], object, name, depth + 1);
          delete object[name];
        } else {
          object[name] = this.decodeValue(object[name], object, name, depth + 1);
        }
      }
      return object;
    }
    if (value.length === 1 && Array.isArray(value[0])) {
      const array = value[0] as unknown[];
      for (let i = 0; i < array.length; i++) array[i] = this.decodeValue(array[i], array as unknown as Container, i, depth + 1);
      return array;
    }
    const decoded = this.decodeTyped(value, parent, key, depth);
    if (decoded === MALFORMED) {
      throw new CapnWebError("protocol", `Unknown or malformed expression: ${preview(value)}`);
    }
    return decoded;
  }

  private decodeTyped(value: unknown[], parent: Container, key: string | number, depth: number): unknown {
    const tag = value[0];
    switch (tag) {
      case "undefined":
        return value.length === 1 ? undefined : MALFORMED;
      case "inf":
        return Infinity;
      case "-inf":
        return -Infinity;
      case "nan":
        return NaN;
      case "bigint": {
        const digits = value[1];
        if (typeof digits !== "string") return MALFORMED;
        const limit = this.importer.limits.maxBigIntDigits;
        if (digits.length > limit) {
          throw new CapnWebError("protocol", `bigint exceeds the limit of ${limit} digits.`);
        }
        try {
          return BigInt(digits);
        } catch {
          return MALFORMED;
        }
      }
      case "date":
        if (value[1] === null) return new Date(NaN);
        return typeof value[1] === "number" ? new Date(value[1]) : MALFORMED;
      case "bytes":
        return decodeBytes(value);
      case "error":
        return this.decodeError(value, depth);
      case "url":
        if (value.length !== 2 || typeof value[1] !== "string") return MALFORMED;
        try {
          return new URL(value[1]);
        } catch {
          throw new CapnWebError("protocol", `Invalid URL: ${preview(value[1])}`);
        }
      case "headers":
        if (value.length !== 2 || !Array.isArray(value[1])) return MALFORMED;
        // The Headers constructor stringifies what it is given, recursing as deep as the peer
        // nested it: hold the pairs to the depth limit first.
        checkLimits(value[1], depth + 1, this.importer.limits);
        try {
          return new Headers(value[1] as [string, string][]);
        } catch (cause) {
          throw new CapnWebError("protocol", "Invalid headers expression.", { cause });
        }
      case "import":
      case "pipeline":
        return this.decodeReference(value, tag === "pipeline", parent, key, depth);
      case "remap":
        return this.decodeRemap(value, parent, key, depth);
      case "export":
        if (typeof value[1] !== "number") return MALFORMED;
        return this.own(newStub(this.importer.importStub(value[1])));
      case "promise":
        if (typeof value[1] !== "number") return MALFORMED;
        return this.placeholder(this.importer.importPromise(value[1]), parent, key);
      case "writable": {
        if (value.length !== 2 || typeof value[1] !== "number") return MALFORMED;
        const hook = this.importer.importStub(value[1]);
        const registry = this.importer.trackStream ? (this.importer as StreamRegistry) : undefined;
        return this.anchored(writableFromHook(hook, registry), new DeferredReleaseHook(hook));
      }
      case "readable": {
        if (value.length !== 2 || typeof value[1] !== "number") return MALFORMED;
        if (!this.importer.takePipeReadable) throw new CapnWebError("protocol", "A pipe cannot be decoded outside a session.");
        const pipe = this.importer.takePipeReadable(value[1]);
        return this.anchored(pipe.readable, ReadableStreamHook.of(pipe.readable, pipe.break));
      }
      case "blob":
        return this.decodeBlob(value, parent, key, depth);
      case "request":
        return this.decodeRequest(value, parent, key, depth);
      case "response":
        return this.decodeResponse(value, parent, key, depth);
      default:
        return MALFORMED;
    }
  }

  private own(stub: unknown): unknown {
    (this.owned ??= []).push(stub);
    return stub;
  }

  /**
   * A stream the value holds, backed by a stub the payload owns like any other: released with an
   * undelivered payload (or a call's arguments, once the call is done, as capnweb releases them),
   * adopted by the receiving owner otherwise.
   */
  private anchored<S extends object>(stream: S, hook: Hook): S {
    const stub = newStub(hook);
    anchorStub(stream, stub);
    this.own(stub);
    return stream;
  }

  /** A Blob arrives as a pipe; the value holds a promise replaced by the Blob once it is read. */
  private decodeBlob(value: unknown[], parent: Container, key: string | number, depth: number): unknown {
    if (value.length !== 3 || typeof value[1] !== "string") return MALFORMED;
    const type = value[1];
    const content = this.decodeValue(value[2], parent, key, depth + 1);
    if (!(content instanceof ReadableStream)) throw new CapnWebError("protocol", "Blob content must be serialized as a ReadableStream.");
    const blob = blobFromStream(content, type).then((read) => new PayloadHook(Payload.fromApp(read)));
    return this.placeholder(new PromiseHook(blob), parent, key);
  }

  private decodeRequest(value: unknown[], parent: Container, key: string | number, depth: number): unknown {
    if (value.length !== 3 || typeof value[1] !== "string") return MALFORMED;
    const wire = value[2];
    if (typeof wire !== "object" || wire === null || Array.isArray(wire)) return MALFORMED;
    const fields = wire as Container;
    // Only the body is an expression; the rest of the init travels as plain JSON.
    const body = fields.body ? this.decodeValue(fields.body, fields, "body", depth + 1) : undefined;
    const request = requestFromWire(value[1], fields, body, (field) => checkLimits(field, depth + 2, this.importer.limits));
    if (body instanceof ReadableStream && request.body === undefined) {
      // A runtime whose Request cannot hold a stream: the bytes are read, then given to a copy.
      return this.placeholder(new PromiseHook(withBytesOf(request, body).then((copy) => new PayloadHook(Payload.fromApp(copy)))), parent, key);
    }
    return request;
  }

  private decodeResponse(value: unknown[], parent: Container, key: string | number, depth: number): unknown {
    if (value.length !== 3) return MALFORMED;
    const body = this.decodeValue(value[1], parent, key, depth + 1);
    const wire = value[2];
    if (typeof wire !== "object" || wire === null || Array.isArray(wire)) return MALFORMED;
    return responseFromWire(body, wire as Container, (field) => checkLimits(field, depth + 2, this.importer.limits));
  }

  private placeholder(hook: Hook, parent: Container, key: string | number): unknown {
    (this.pending ??= []).push({ parent, key, hook });
    return borrowedPromiseStub(hook);
  }

  private decodeReference(value: unknown[], isPromise: boolean, parent: Container, key: string | number, depth: number): unknown {
    if (value.length < 2 || value.length > 4 || typeof value[1] !== "number") return MALFORMED;
    const hook = this.exportedHook(value[1]);
    let result: Hook;
    if (value.length === 2) {
      result = isPromise ? hook.get([]) : hook.dup();
    } else {
      const path = value[2];
      if (!isPath(path)) return MALFORMED;
      if (value.length === 3) {
        result = hook.get(path);
      } else {
        if (!Array.isArray(value[3])) return MALFORMED;
        const args = Decoder.decode([value[3]], this.importer, depth);
        result = hook.call(path, args);
      }
    }
    if (isPromise) return this.placeholder(result, parent, key);
    return this.own(value.length === 2 ? newStub(result) : newPromiseStub(result));
  }

  private decodeRemap(value: unknown[], parent: Container, key: string | number, depth: number): unknown {
    if (value.length !== 5 || typeof value[1] !== "number" || !isPath(value[2]) || !Array.isArray(value[3]) || !Array.isArray(value[4])) {
      return MALFORMED;
    }
    // The instructions are decoded later, once per element, where this session's limits are not
    // at hand: hold them to the limits now, as part of the message they arrived in.
    checkLimits(value[4], depth + 1, this.importer.limits);
    const importer = this.importer;
    attachRemapBudget(value[4], importer.remapBudget ?? new RemapBudget(importer.limits, importer.limitBroken?.bind(importer)));
    const subject = this.exportedHook(value[1]);
    const captures: Hook[] = [];
    try {
      for (const capture of value[3]) {
        if (!Array.isArray(capture) || capture.length !== 2 || typeof capture[1] !== "number") {
          throw new CapnWebError("protocol", `Malformed map capture: ${preview(capture)}`);
        }
        if (capture[0] === "import") captures.push(this.exportedHook(capture[1]).dup());
        else if (capture[0] === "export") captures.push(this.importer.importStub(capture[1]));
        else throw new CapnWebError("protocol", `Malformed map capture: ${preview(capture)}`);
      }
    } catch (error) {
      for (const cap of captures) cap.dispose();
      throw error;
    }
    return this.placeholder(subject.map(value[2], captures, value[4]), parent, key);
  }

  private exportedHook(id: number): Hook {
    const hook = this.importer.exportedHook(id);
    if (!hook) throw new CapnWebError("protocol", `No such entry on the export table: ${id}.`);
    return hook;
  }

  private decodeError(value: unknown[], depth: number): unknown {
    if (value.length < 3 || typeof value[1] !== "string" || typeof value[2] !== "string") return MALFORMED;
    const Class: Function = ERROR_CLASSES[value[1]] ?? Error;
    const error: Error = Class === AggregateError ? new AggregateError([], value[2]) : new (Class as ErrorConstructor)(value[2]);
    if (!(value[1] in ERROR_CLASSES)) {
      // Keep the sender's class name (`NotFoundError`, ...) without trusting it as a constructor.
      Object.defineProperty(error, "name", { value: value[1], writable: true, configurable: true, enumerable: false });
    }
    if (typeof value[3] === "string") error.stack = value[3];
    else delete (error as { stack?: string }).stack;
    if (value.length >= 5) {
      const props = value[4];
      if (!props || typeof props !== "object" || Array.isArray(props)) return MALFORMED;
      const bag = props as Container;
      for (const name of Object.keys(bag)) {
        if (name === "name" || name === "message" || name === "stack") continue;
        const decoded = this.decodeValue(bag[name], bag, name, depth + 1);
        if (isBlockedName(name)) continue;
        (error as unknown as Container)[name] = decoded;
      }
    }
    return error;
  }
}

const MALFORMED: unique symbol = Symbol("malformed");

function isPath(path: unknown): path is (string | number)[] {
  return Array.isArray(path) && path.every((part) => typeof part === "string" || typeof part === "number");
}

function decodeBytes(value: unknown[]): unknown {
  if (typeof value[1] !== "string" || value.length > 3) return MALFORMED;
  const raw = fromBase64(value[1]);
  if (value.length === 2) {
    // The decoded memory itself when it is the bytes' alone (Buffer allocates large results on
    // their own); a copy when it sits in Buffer's shared pool, which a view would keep alive and
    // let the application read past its end.
    const owned = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer;
    return owned ? new Uint8Array(raw.buffer) : new Uint8Array(raw);
  }
  const marker = value[2];
  if (typeof marker !== "string") {
    throw new CapnWebError("protocol", `Unknown bytes type marker type: ${typeof marker}`);
  }
  // An exact copy: never hand out a view into Buffer's shared pool.
  const buffer = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
  if (marker === "ArrayBuffer") return buffer;
  const View = TYPED_ARRAYS[marker];
  if (!View) throw new CapnWebError("protocol", `Unknown bytes type marker: ${marker.slice(0, 64)}`);
  const size = View.BYTES_PER_ELEMENT ?? 1;
  if (buffer.byteLength % size !== 0) {
    throw new CapnWebError("protocol", `Invalid byte length ${buffer.byteLength} for ${marker}; expected a multiple of ${size}.`);
  }
  return new View(buffer);
}

/** A short, shallow rendering for error messages; never recurses into what a peer sent. */
function preview(value: unknown): string {
  const shallow = (item: unknown): string =>
    item === null || typeof item !== "object" ? String(JSON.stringify(item) ?? String(item)).slice(0, 40) : Array.isArray(item) ? "[…]" : "{…}";
  const text = Array.isArray(value)
    ? `[${value.slice(0, 4).map(shallow).join(",")}${value.length > 4 ? ",…" : ""}]`
    : shallow(value);
  return text.length > 120 ? text.slice(0, 117) + "..." : text;
}

/**
 * Checks depth and bigint lengths of an undecoded tree without recursion (the tree may be as deep
 * as JSON.parse allows, far deeper than the stack).
 */
function checkLimits(root: unknown, baseDepth: number, limits: Limits): void {
  const stack: [unknown, number][] = [[root, baseDepth]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth >= limits.maxDepth) {
      throw new CapnWebError("protocol", `Message nests deeper than the limit of ${limits.maxDepth}.`);
    }
    if (Array.isArray(node)) {
      if (node[0] === "bigint" && typeof node[1] === "string" && node[1].length > limits.maxBigIntDigits) {
        throw new CapnWebError("protocol", `bigint exceeds the limit of ${limits.maxBigIntDigits} digits.`);
      }
      for (const item of node) stack.push([item, depth + 1]);
    } else {
      for (const key in node) stack.push([(node as Container)[key], depth + 1]);
    }
  }
}

// -----------------------------------------------------------------------------------------------

/** Serializes plain data (no stubs) exactly as capnweb's `serialize` does. */
export function serialize(value: unknown): string {
  return JSON.stringify(Encoder.encode(value));
}

/** Parses what `serialize` (ours or capnweb's) produced. */
export function deserialize(text: string): unknown {
  const payload = Decoder.decode(JSON.parse(text));
  payload.dispose();
  return payload.value;
}
