// Golden vectors for the expression codec, checked against capnweb 0.12 itself.
//
// For every vector: our `serialize` produces the exact JSON text, capnweb's `serialize` produces
// the same text (so the vector really is capnweb's wire format), our `deserialize` of that text
// rebuilds an equal value, and each implementation decodes the other's output to the same thing.
// Then: hostile and malformed expressions (each must be a CapnWebError of the right type, never
// a TypeError or a stack overflow), prototype-pollution attempts, and values that cannot be sent.
//
// Most vectors are ported from capnweb's own __tests__/index.test.ts ("simple serialization",
// "error serialization", "deserialization and transport correctness").

import { describe, it, expect } from "vitest";
import { serialize as capnwebSerialize, deserialize as capnwebDeserialize } from "capnweb";
import { serialize, deserialize, Decoder } from "../../src/protocol/codec.js";
import { CapnWebError } from "../../src/protocol/errors.js";
import { DEFAULT_LIMITS } from "../../src/protocol/limits.js";
import { Target } from "../../src/protocol/target.js";

// -----------------------------------------------------------------------------------------------
// Canonical form: a plain tree that `toEqual` can compare and that records what `toEqual` alone
// would gloss over (exact prototypes, typed-array class and bytes, NaN, -0, invalid dates, error
// class/name/props/cause/errors). Buffer and Uint8Array are the same thing on the wire (capnweb
// decodes the markerless form to a Buffer in Node, we decode it to a plain Uint8Array).

const BYTE_TYPES = new Map<object, string>([
  [ArrayBuffer.prototype, "ArrayBuffer"],
  [DataView.prototype, "DataView"],
  [Int8Array.prototype, "Int8Array"],
  [Uint8Array.prototype, "Uint8Array"],
  [Buffer.prototype, "Uint8Array"],
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

const hasOwn = (object: object, key: PropertyKey): boolean => Object.prototype.hasOwnProperty.call(object, key);

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function canon(value: unknown): unknown {
  switch (typeof value) {
    case "undefined":
      return { $: "undefined" };
    case "number":
      if (Number.isNaN(value)) return { $: "NaN" };
      if (Object.is(value, -0)) return { $: "-0" };
      return value;
    case "bigint":
      return { $: "bigint", digits: value.toString() };
    case "string":
    case "boolean":
      return value;
    case "object":
      break;
    default:
      return { $: typeof value };
  }
  if (value === null) return null;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    return { $: "array", items: Array.from(value as unknown[], (item) => canon(item)) };
  }
  if (proto === Object.prototype) {
    const object = value as Record<string, unknown>;
    return {
      $: "object",
      // Reflect.ownKeys, so that an own `__proto__` (or a symbol) key would show up.
      entries: Reflect.ownKeys(object).map((key) => [String(key), canon(object[key as string])]),
    };
  }
  if (proto === Date.prototype) {
    const time = (value as Date).getTime();
    return { $: "date", time: Number.isNaN(time) ? "invalid" : time };
  }
  const byteType = BYTE_TYPES.get(proto as object);
  if (byteType !== undefined) {
    const bytes = value instanceof ArrayBuffer
      ? new Uint8Array(value)
      : new Uint8Array((value as ArrayBufferView).buffer, (value as ArrayBufferView).byteOffset, (value as ArrayBufferView).byteLength);
    return { $: "bytes", type: byteType, hex: hex(bytes) };
  }
  if (proto === URL.prototype) return { $: "url", href: (value as URL).href };
  if (proto === Headers.prototype) return { $: "headers", entries: [...(value as Headers)] };
  if (value instanceof Error) {
    const error = value as Error & Record<string, unknown>;
    return {
      $: "error",
      class: (proto as { constructor: { name: string } }).constructor.name,
      name: error.name,
      message: error.message,
      props: Object.keys(error)
        // name and message are compared above; an own enumerable `name` (set by assignment) is
        // not a prop: it travels in the type slot.
        .filter((key) => !["cause", "errors", "stack", "name", "message"].includes(key))
        .map((key) => [key, canon(error[key])]),
      cause: "cause" in error ? canon(error.cause) : { $: "absent" },
      errors: error instanceof AggregateError ? canon(error.errors) : { $: "absent" },
    };
  }
  return { $: "unexpected", constructor: (proto as { constructor?: { name?: string } } | null)?.constructor?.name };
}

// -----------------------------------------------------------------------------------------------
// The vectors

/** Node itself, not a runtime that imitates it (Bun and Deno say they are Node too). */
const isNode = !("Bun" in globalThis) && !("Deno" in globalThis);

interface Vector {
  name: string;
  value: unknown;
  /** The exact wire text, as capnweb 0.12 writes it. */
  json: string;
  /** What decoding `json` must give, when that is not `value` itself. */
  decoded?: unknown;
  /**
   * The wire text follows the runtime's own iteration order of the value (Headers: Bun orders
   * repeated fields differently from Node). Where the runtime's capnweb writes other text than
   * `json`, both libraries must write that same text instead.
   */
  runtimeOrdered?: true;
  /**
   * The error carries a class name that is not a built-in: capnweb decodes it as a plain `Error`
   * named "Error", we keep the sender's name (codec.ts, decodeError). Cross-decoding compares
   * everything else.
   */
  customErrorName?: boolean;
}

function withProps<E extends Error>(error: E, props: Record<string, unknown>): E {
  return Object.assign(error, props);
}

class MyError extends Error {
  code = "E_FOO";
  foo = "bar";
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name; // an own, enumerable `name`: never a prop, travels as the type slot
  return error;
}

const BIGINT_MAX = "9".repeat(DEFAULT_LIMITS.maxBigIntDigits);

function offsetView<T>(make: (buffer: ArrayBuffer, offset: number, length: number) => T, elementSize: number): T {
  // A view with a non-zero offset and a trailing byte: only the visible range may travel.
  const byteLength = elementSize * 2;
  const backing = new ArrayBuffer(elementSize + byteLength + 1);
  const all = new Uint8Array(backing);
  all.fill(0xee);
  for (let i = 0; i < byteLength; i++) all[elementSize + i] = i + 1;
  return make(backing, elementSize, byteLength / elementSize);
}

const PRIMITIVES: Vector[] = [
  { name: "integer", value: 123, json: "123" },
  { name: "zero", value: 0, json: "0" },
  { name: "negative zero (JSON has no -0)", value: -0, json: "0", decoded: 0 },
  { name: "negative fraction", value: -1.5, json: "-1.5" },
  { name: "large exponent", value: 1e21, json: "1e+21" },
  { name: "smallest subnormal", value: 5e-324, json: "5e-324" },
  { name: "MAX_SAFE_INTEGER", value: Number.MAX_SAFE_INTEGER, json: "9007199254740991" },
  { name: "null", value: null, json: "null" },
  { name: "string", value: "foo", json: '"foo"' },
  { name: "empty string", value: "", json: '""' },
  { name: "unicode string", value: "h\u00e9llo \u2028 \u{1f600}", json: '"h\u00e9llo \u2028 \u{1f600}"' },
  { name: "lone surrogate", value: "\ud800", json: '"\\ud800"' },
  { name: "string that looks like a tag", value: "undefined", json: '"undefined"' },
  { name: "true", value: true, json: "true" },
  { name: "false", value: false, json: "false" },
  { name: "undefined", value: undefined, json: '["undefined"]' },
  { name: "Infinity", value: Infinity, json: '["inf"]' },
  { name: "-Infinity", value: -Infinity, json: '["-inf"]' },
  { name: "NaN", value: NaN, json: '["nan"]' },
  { name: "bigint", value: 123n, json: '["bigint","123"]' },
  { name: "negative bigint", value: -123n, json: '["bigint","-123"]' },
  { name: "zero bigint", value: 0n, json: '["bigint","0"]' },
  { name: "bigint beyond 64 bits", value: 2n ** 64n, json: '["bigint","18446744073709551616"]' },
  { name: "bigint at the digit limit", value: BigInt(BIGINT_MAX), json: `["bigint","${BIGINT_MAX}"]` },
];

const OBJECTS_AND_ARRAYS: Vector[] = [
  { name: "object", value: { foo: 123 }, json: '{"foo":123}' },
  { name: "empty object", value: {}, json: "{}" },
  { name: "nested object", value: { foo: { bar: 123, baz: 456 }, qux: 789 }, json: '{"foo":{"bar":123,"baz":456},"qux":789}' },
  { name: "integer-like keys come first", value: { b: 2, 1: 1 }, json: '{"1":1,"b":2}' },
  { name: "empty key", value: { "": 1 }, json: '{"":1}' },
  { name: "array (escaped)", value: [123], json: "[[123]]" },
  { name: "empty array", value: [], json: "[[]]" },
  { name: "nested array", value: [[123, 456]], json: "[[[[123,456]]]]" },
  { name: "array in object", value: { foo: [123] }, json: '{"foo":[[123]]}' },
  { name: "two arrays in object", value: { foo: [123], bar: [456, 789] }, json: '{"foo":[[123]],"bar":[[456,789]]}' },
  { name: "literal array shaped like a bigint tag", value: ["bigint", "1"], json: '[["bigint","1"]]' },
  { name: "literal array shaped like undefined", value: ["undefined"], json: '[["undefined"]]' },
  { name: "literal array shaped like import", value: ["import", 0], json: '[["import",0]]' },
  { name: "undefined in an array", value: [undefined, 1], json: '[[["undefined"],1]]' },
  // eslint-disable-next-line no-sparse-arrays
  { name: "sparse array (hole travels as undefined)", value: [, 1], json: '[[["undefined"],1]]', decoded: [undefined, 1] },
  { name: "undefined-valued key is kept", value: { a: undefined }, json: '{"a":["undefined"]}' },
  { name: "non-finite numbers in an object", value: { a: Infinity, b: -Infinity, c: NaN }, json: '{"a":["inf"],"b":["-inf"],"c":["nan"]}' },
  {
    name: "complex nested structure",
    value: {
      level1: { level2: { level3: { array: [1, 2, { nested: "deep" }], date: new Date(5678), nullVal: null, undefinedVal: undefined } } },
      top_array: [[1, 2], [3, 4]],
    },
    json:
      '{"level1":{"level2":{"level3":{"array":[[1,2,{"nested":"deep"}]],"date":["date",5678],"nullVal":null,' +
      '"undefinedVal":["undefined"]}}},"top_array":[[[[1,2]],[[3,4]]]]}',
  },
  {
    name: "every kind of value in one object",
    value: {
      n: 1, s: "s", b: false, z: null, u: undefined, big: 10n, d: new Date(0), bytes: new Uint8Array([1, 2, 3]),
      url: new URL("https://example.com/"), h: new Headers({ a: "b" }), e: new RangeError("r"), list: [NaN],
    },
    json:
      '{"n":1,"s":"s","b":false,"z":null,"u":["undefined"],"big":["bigint","10"],"d":["date",0],"bytes":["bytes","AQID"],' +
      '"url":["url","https://example.com/"],"h":["headers",[["a","b"]]],"e":["error","RangeError","r"],"list":[[["nan"]]]}',
  },
  // Blocked names are sent as they are (the encoder does not judge them) and stripped on decode.
  {
    name: "object with Object.prototype names and toJSON",
    value: { toString: "x", constructor: 1, toJSON: "y", hasOwnProperty: 2, valueOf: 3, ok: 4 },
    json: '{"toString":"x","constructor":1,"toJSON":"y","hasOwnProperty":2,"valueOf":3,"ok":4}',
    decoded: { ok: 4 },
  },
  {
    // An own `__proto__` key (only JSON.parse makes one): both encoders assign it onto a fresh
    // object, which sets that object's prototype instead of a key, so it never reaches the wire.
    name: "object with an own __proto__ key",
    value: JSON.parse('{"__proto__":{"a":1},"ok":1}') as unknown,
    json: '{"ok":1}',
    decoded: { ok: 1 },
  },
];

const DATES_URLS_HEADERS: Vector[] = [
  { name: "Date", value: new Date(1234), json: '["date",1234]' },
  { name: "epoch", value: new Date(0), json: '["date",0]' },
  { name: "Date before the epoch", value: new Date(-1), json: '["date",-1]' },
  { name: "largest Date", value: new Date(8.64e15), json: '["date",8640000000000000]' },
  { name: "invalid Date", value: new Date(NaN), json: '["date",null]' },
  { name: "URL", value: new URL("https://example.com/path?q=1"), json: '["url","https://example.com/path?q=1"]' },
  { name: "URL with IDN host and non-ASCII path", value: new URL("https://b\u00fccher.example/\u00e4?q=1#f"), json: '["url","https://xn--bcher-kva.example/%C3%A4?q=1#f"]' },
  { name: "empty Headers", value: new Headers(), json: '["headers",[]]' },
  {
    name: "Headers (lower-cased, sorted)",
    value: new Headers({ "X-Custom": "hello", "Content-Type": "text/plain" }),
    json: '["headers",[["content-type","text/plain"],["x-custom","hello"]]]',
  },
  {
    name: "Headers with repeated fields and set-cookie",
    value: (() => {
      const headers = new Headers();
      headers.append("x-a", "1");
      headers.append("x-a", "2");
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      return headers;
    })(),
    json: '["headers",[["set-cookie","a=1"],["set-cookie","b=2"],["x-a","1, 2"]]]',
    runtimeOrdered: true,
  },
];

const BYTES: Vector[] = [
  { name: "Uint8Array (markerless)", value: new TextEncoder().encode("hello!"), json: '["bytes","aGVsbG8h"]' },
  { name: "Uint8Array needing padding (stripped)", value: new Uint8Array([72, 101, 108, 108, 111]), json: '["bytes","SGVsbG8"]' },
  { name: "Uint8Array of 5 bytes", value: new Uint8Array([1, 2, 3, 4, 5]), json: '["bytes","AQIDBAU"]' },
  { name: "Uint8Array ending in byte 61 ('=')", value: new Uint8Array([72, 101, 108, 108, 111, 61]), json: '["bytes","SGVsbG89"]' },
  { name: "empty Uint8Array", value: new Uint8Array(0), json: '["bytes",""]' },
  { name: "Uint8Array subarray", value: new TextEncoder().encode("xhello!y").subarray(1, 7), json: '["bytes","aGVsbG8h"]' },
  { name: "Buffer (pooled, no marker)", value: Buffer.from("hello!"), json: '["bytes","aGVsbG8h"]', decoded: new TextEncoder().encode("hello!") },
  { name: "ArrayBuffer", value: new Uint8Array([72, 101, 108, 108, 111]).buffer, json: '["bytes","SGVsbG8","ArrayBuffer"]' },
  { name: "empty ArrayBuffer", value: new ArrayBuffer(0), json: '["bytes","","ArrayBuffer"]' },
  { name: "Int8Array", value: new Int8Array([-1, 2, 127, -128]), json: '["bytes","/wJ/gA","Int8Array"]' },
  { name: "Uint8ClampedArray", value: new Uint8ClampedArray([0, 255, 300, -5]), json: '["bytes","AP//AA","Uint8ClampedArray"]' },
  { name: "Int16Array (little-endian)", value: new Int16Array([-2, 258]), json: '["bytes","/v8CAQ","Int16Array"]' },
  { name: "Uint16Array (little-endian)", value: new Uint16Array([0x0102, 0xffff]), json: '["bytes","AgH//w","Uint16Array"]' },
  { name: "Int32Array (little-endian)", value: new Int32Array([-1, 0x01020304]), json: '["bytes","/////wQDAgE","Int32Array"]' },
  { name: "Uint32Array 0x01020304 → 04 03 02 01", value: new Uint32Array([0x01020304]), json: '["bytes","BAMCAQ","Uint32Array"]' },
  { name: "BigInt64Array (little-endian)", value: new BigInt64Array([-1n, 2n]), json: '["bytes","//////////8CAAAAAAAAAA","BigInt64Array"]' },
  {
    name: "BigUint64Array (little-endian)",
    value: new BigUint64Array([2n ** 64n - 1n, 0x0102030405060708n]),
    json: '["bytes","//////////8IBwYFBAMCAQ","BigUint64Array"]',
  },
  { name: "Float32Array", value: new Float32Array([0.5, -2]), json: '["bytes","AAAAPwAAAMA","Float32Array"]' },
  { name: "Float64Array (with -0)", value: new Float64Array([1.5, -0]), json: '["bytes","AAAAAAAA+D8AAAAAAAAAgA","Float64Array"]' },
  { name: "DataView with offset", value: offsetView((b, o, n) => new DataView(b, o, n), 1), json: '["bytes","AQI","DataView"]' },
  { name: "Int8Array with offset", value: offsetView((b, o, n) => new Int8Array(b, o, n), 1), json: '["bytes","AQI","Int8Array"]' },
  { name: "Uint8ClampedArray with offset", value: offsetView((b, o, n) => new Uint8ClampedArray(b, o, n), 1), json: '["bytes","AQI","Uint8ClampedArray"]' },
  { name: "Int16Array with offset", value: offsetView((b, o, n) => new Int16Array(b, o, n), 2), json: '["bytes","AQIDBA","Int16Array"]' },
  { name: "Uint16Array with offset", value: offsetView((b, o, n) => new Uint16Array(b, o, n), 2), json: '["bytes","AQIDBA","Uint16Array"]' },
  { name: "Int32Array with offset", value: offsetView((b, o, n) => new Int32Array(b, o, n), 4), json: '["bytes","AQIDBAUGBwg","Int32Array"]' },
  { name: "Uint32Array with offset", value: offsetView((b, o, n) => new Uint32Array(b, o, n), 4), json: '["bytes","AQIDBAUGBwg","Uint32Array"]' },
  { name: "Float32Array with offset", value: offsetView((b, o, n) => new Float32Array(b, o, n), 4), json: '["bytes","AQIDBAUGBwg","Float32Array"]' },
  {
    name: "Float64Array with offset",
    value: offsetView((b, o, n) => new Float64Array(b, o, n), 8),
    json: '["bytes","AQIDBAUGBwgJCgsMDQ4PEA","Float64Array"]',
  },
  {
    name: "BigInt64Array with offset",
    value: offsetView((b, o, n) => new BigInt64Array(b, o, n), 8),
    json: '["bytes","AQIDBAUGBwgJCgsMDQ4PEA","BigInt64Array"]',
  },
  {
    name: "BigUint64Array with offset",
    value: offsetView((b, o, n) => new BigUint64Array(b, o, n), 8),
    json: '["bytes","AQIDBAUGBwgJCgsMDQ4PEA","BigUint64Array"]',
  },
];

const cyclic: Record<string, unknown> = {};
cyclic.self = cyclic;

const ERRORS: Vector[] = [
  { name: "Error (stack redacted)", value: new Error("the message"), json: '["error","Error","the message"]' },
  { name: "Error with empty message", value: new Error(), json: '["error","Error",""]' },
  { name: "TypeError", value: new TypeError("the message"), json: '["error","TypeError","the message"]' },
  { name: "RangeError", value: new RangeError("the message"), json: '["error","RangeError","the message"]' },
  { name: "EvalError", value: new EvalError("e"), json: '["error","EvalError","e"]' },
  { name: "ReferenceError", value: new ReferenceError("r"), json: '["error","ReferenceError","r"]' },
  { name: "SyntaxError", value: new SyntaxError("s"), json: '["error","SyntaxError","s"]' },
  { name: "URIError", value: new URIError("u"), json: '["error","URIError","u"]' },
  {
    name: "Error with own props",
    value: withProps(new Error("the message"), { code: "E_FOO", details: { reason: "x", retries: 3 } }),
    json: '["error","Error","the message",null,{"code":"E_FOO","details":{"reason":"x","retries":3}}]',
  },
  {
    name: "TypeError with a prop keeps its class",
    value: withProps(new TypeError("t"), { code: 1 }),
    json: '["error","TypeError","t",null,{"code":1}]',
  },
  {
    name: "Error subclass with class fields (travels as Error)",
    value: new MyError("boom"),
    json: '["error","Error","boom",null,{"code":"E_FOO","foo":"bar"}]',
    decoded: withProps(new Error("boom"), { code: "E_FOO", foo: "bar" }),
  },
  {
    name: "Error with nested values in props",
    value: withProps(new Error("nested"), {
      when: new Date(1234),
      big: 12345678901234567890n,
      bytes: new TextEncoder().encode("hi!"),
      obj: { a: 1, b: [2, 3] },
      inner: new TypeError("inner"),
    }),
    json:
      '["error","Error","nested",null,{"when":["date",1234],"big":["bigint","12345678901234567890"],' +
      '"bytes":["bytes","aGkh"],"obj":{"a":1,"b":[[2,3]]},"inner":["error","TypeError","inner"]}]',
  },
  {
    name: "Error with an Error cause",
    value: new Error("outer", { cause: new TypeError("inner") }),
    json: '["error","Error","outer",null,{"cause":["error","TypeError","inner"]}]',
  },
  {
    name: "Error with a primitive cause",
    value: new Error("oops", { cause: "boom" }),
    json: '["error","Error","oops",null,{"cause":"boom"}]',
  },
  {
    name: "Error with a cause chain",
    value: new Error("a", { cause: new Error("b", { cause: { at: new Date(1) } }) }),
    json: '["error","Error","a",null,{"cause":["error","Error","b",null,{"cause":{"at":["date",1]}}]}]',
  },
  {
    // `"cause" in e` is true although the value is undefined: capnweb sends it.
    name: "Error with an explicitly undefined cause",
    value: new Error("x", { cause: undefined }),
    json: '["error","Error","x",null,{"cause":["undefined"]}]',
  },
  {
    name: "AggregateError with errors",
    value: new AggregateError([new TypeError("a"), new RangeError("b")], "agg"),
    json: '["error","AggregateError","agg",null,{"errors":[[["error","TypeError","a"],["error","RangeError","b"]]]}]',
  },
  {
    name: "AggregateError with no errors",
    value: new AggregateError([], "none"),
    json: '["error","AggregateError","none",null,{"errors":[[]]}]',
  },
  {
    name: "Error drops props that cannot travel",
    value: withProps(new Error("with-bad-prop"), { code: "E_OK", bad: Object.create(null), map: new Map(), sym: Symbol("s"), cycle: cyclic }),
    json: '["error","Error","with-bad-prop",null,{"code":"E_OK"}]',
    decoded: withProps(new Error("with-bad-prop"), { code: "E_OK" }),
  },
  {
    name: "Error whose only prop cannot travel (legacy 3-element form)",
    value: withProps(new Error("only-bad"), { bad: new Set() }),
    json: '["error","Error","only-bad"]',
    decoded: new Error("only-bad"),
  },
  {
    name: "Error whose cause cannot travel (legacy 3-element form)",
    value: new Error("x", { cause: new Map() }),
    json: '["error","Error","x"]',
    decoded: new Error("x"),
  },
  {
    // An own `remoteName` is an ordinary property of an ordinary Error: capnweb sends it.
    name: "Error with an own remoteName prop",
    value: withProps(new Error("x"), { remoteName: "Foo" }),
    json: '["error","Error","x",null,{"remoteName":"Foo"}]',
  },
  {
    name: "Error with a custom name (kept by us, reset to Error by capnweb)",
    value: namedError("NotFoundError", "m"),
    json: '["error","NotFoundError","m"]',
    customErrorName: true,
  },
  {
    name: "errors nested in arrays and objects",
    value: { list: [new Error("a"), { e: new URIError("b") }] },
    json: '{"list":[[["error","Error","a"],{"e":["error","URIError","b"]}]]}',
  },
];

const VECTORS: Vector[] = [...PRIMITIVES, ...OBJECTS_AND_ARRAYS, ...DATES_URLS_HEADERS, ...BYTES, ...ERRORS];

/** What capnweb's decoder gives for a vector: it renames any non-built-in error to "Error". */
function capnwebView(vector: Vector, decoded: unknown): unknown {
  const view = canon(decoded) as Record<string, unknown>;
  return vector.customErrorName ? { ...view, name: (canon(vector.decoded ?? vector.value) as Record<string, unknown>).name } : view;
}

// -----------------------------------------------------------------------------------------------

describe("golden vectors", () => {
  it("vector names are unique", () => {
    expect(new Set(VECTORS.map((v) => v.name)).size).toBe(VECTORS.length);
  });

  for (const vector of VECTORS) {
    describe(vector.name, () => {
      it("serialize gives the exact wire text, as capnweb does", () => {
        const capnwebText = capnwebSerialize(vector.value);
        // On Node the vector is capnweb's own text. Elsewhere capnweb differs in platform details
        // (Bun orders Headers fields otherwise; on Deno capnweb keeps an own __proto__ key, which
        // we drop on every runtime), so there ours is held to the vector, or to the runtime's order.
        if (isNode) expect(capnwebText).toBe(vector.json);
        const expected = vector.runtimeOrdered && !isNode ? capnwebText : vector.json;
        expect(serialize(vector.value)).toBe(expected);
      });

      it("deserialize rebuilds an equal value", () => {
        const expected = canon("decoded" in vector ? vector.decoded : vector.value);
        expect(canon(deserialize(vector.json))).toEqual(expected);
        // Through Decoder.decode too, with the payload disposed afterwards.
        const payload = Decoder.decode(JSON.parse(vector.json));
        try {
          expect(canon(payload.value)).toEqual(expected);
        } finally {
          payload.dispose();
        }
        // And once more around: decode → encode gives the wire text again (in the runtime's order).
        if (!("decoded" in vector)) expect(serialize(deserialize(vector.json))).toBe(vector.runtimeOrdered ? capnwebSerialize(deserialize(vector.json)) : vector.json);
      });

      it("cross-decodes with capnweb", () => {
        const ours = canon(deserialize(capnwebSerialize(vector.value)));
        const theirs = capnwebView(vector, capnwebDeserialize(serialize(vector.value)));
        expect(ours).toEqual(theirs);
        expect(ours).toEqual(canon("decoded" in vector ? vector.decoded : vector.value));
      });
    });
  }

  it("our decoder keeps a custom error name where capnweb's gives \"Error\" (deliberate divergence)", () => {
    const ours = deserialize('["error","NotFoundError","m"]') as Error;
    const theirs = capnwebDeserialize('["error","NotFoundError","m"]') as Error;
    expect(Object.getPrototypeOf(ours)).toBe(Error.prototype);
    expect(Object.getPrototypeOf(theirs)).toBe(Error.prototype);
    expect(ours.name).toBe("NotFoundError");
    expect(theirs.name).toBe("Error");
    // The kept name is not an own enumerable prop, so it never travels as one.
    expect(Object.keys(ours)).toEqual([]);
    expect(serialize(ours)).toBe('["error","NotFoundError","m"]');
  });

  it("a CapnWebError travels with its type as a prop", () => {
    const error = new CapnWebError("not_found", "no such user");
    expect(serialize(error)).toBe('["error","CapnWebError","no such user",null,{"type":"not_found"}]');
    const decoded = deserialize(serialize(error)) as Error & Record<string, unknown>;
    expect(decoded).toBeInstanceOf(Error);
    expect(decoded.name).toBe("CapnWebError");
    expect(decoded.message).toBe("no such user");
    expect(decoded.type).toBe("not_found");
  });

  it("never sends a stack, even when the error has one", () => {
    const error = withProps(new Error("x"), { code: 1 });
    expect(typeof error.stack).toBe("string");
    expect(serialize(error)).toBe('["error","Error","x",null,{"code":1}]');
    expect(serialize(new Error("y"))).not.toContain("at ");
  });
});

// Forms that no Node encoder writes but that a peer may send (other implementations, older
// versions): each decodes as documented, and the same way capnweb decodes it.
describe("decode-only vectors", () => {
  const cases: { name: string; json: string; expected: unknown; stack?: string | undefined }[] = [
    { name: "Uint8Array with an explicit marker", json: '["bytes","SGVsbG8","Uint8Array"]', expected: new Uint8Array([72, 101, 108, 108, 111]) },
    { name: "padded base64", json: '["bytes","SGVsbG8="]', expected: new Uint8Array([72, 101, 108, 108, 111]) },
    { name: "padded base64 with a marker", json: '["bytes","AQI=","Int8Array"]', expected: new Int8Array([1, 2]) },
    { name: "legacy 3-element error", json: '["error","Error","msg"]', expected: new Error("msg") },
    { name: "legacy 4-element error with a stack", json: '["error","TypeError","msg","trace"]', expected: new TypeError("msg"), stack: "trace" },
    {
      name: "5-element error with a stack and props",
      json: '["error","RangeError","r","trace",{"code":"X"}]',
      expected: withProps(new RangeError("r"), { code: "X" }),
      stack: "trace",
    },
    {
      name: "error props named name/message/stack are ignored",
      json: '["error","Error","m",null,{"name":"N","message":"M","stack":"S","ok":1}]',
      expected: withProps(new Error("m"), { ok: 1 }),
    },
    { name: "negative bigint at the digit limit minus one", json: `["bigint","-${"9".repeat(16383)}"]`, expected: -BigInt("9".repeat(16383)) },
    { name: "date with a fraction", json: '["date",1.5]', expected: new Date(1.5) },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ours = deserialize(c.json);
      expect(canon(ours)).toEqual(canon(c.expected));
      expect(canon(capnwebDeserialize(c.json))).toEqual(canon(c.expected));
      if (c.expected instanceof Uint8Array) expect(Object.getPrototypeOf(ours)).toBe(Uint8Array.prototype);
      if (c.stack !== undefined) expect((ours as Error).stack).toBe(c.stack);
    });
  }

  it("an error without a stack on the wire has none after decoding", () => {
    const decoded = deserialize('["error","Error","msg"]') as Error;
    expect(decoded.stack).toBeUndefined();
  });
});

// -----------------------------------------------------------------------------------------------
// Hostile and malformed input

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw, got none");
}

function expectDecodeError(json: string, type: string): CapnWebError {
  const error = thrownBy(() => deserialize(json));
  expect(error, `deserialize(${json.length > 120 ? json.slice(0, 117) + "..." : json})`).toBeInstanceOf(CapnWebError);
  expect((error as CapnWebError).type).toBe(type);
  // The same through Decoder.decode directly.
  const direct = thrownBy(() => Decoder.decode(JSON.parse(json)));
  expect(direct).toBeInstanceOf(CapnWebError);
  expect((direct as CapnWebError).type).toBe(type);
  return error as CapnWebError;
}

const nestedArrays = (levels: number): string => "[[".repeat(levels) + "1" + "]]".repeat(levels);
const nestedObjects = (levels: number): string => '{"a":'.repeat(levels) + "1" + "}".repeat(levels);
const nestedMixed = (levels: number): string => {
  let text = "1";
  for (let i = 0; i < levels; i++) text = i % 2 === 0 ? `{"k":${text}}` : `[[${text}]]`;
  return text;
};

describe("malformed expressions are protocol errors", () => {
  const MALFORMED: { name: string; json: string }[] = [
    { name: "unknown tag", json: '["foo"]' },
    { name: "unknown tag with a param", json: '["unknown_type","param"]' },
    { name: "unknown tag inside an object", json: '{"a":["foo"]}' },
    { name: "unknown tag inside an escaped array", json: '[[1,["foo"]]]' },
    { name: "empty array (neither escaped nor tagged)", json: "[]" },
    { name: "numeric tag", json: "[1,2]" },
    { name: "null tag", json: "[null]" },
    { name: "tag named __proto__", json: '["__proto__"]' },
    { name: "tag named constructor", json: '["constructor",1]' },
    { name: "tag named toString", json: '["toString"]' },
    { name: "undefined with a param", json: '["undefined",1]' },
    { name: "bigint without digits", json: '["bigint"]' },
    { name: "bigint with a number", json: '["bigint",12]' },
    { name: "bigint with non-digits", json: '["bigint","12x"]' },
    { name: "bigint one digit over the limit", json: `["bigint","${"9".repeat(16385)}"]` },
    { name: "negative bigint one char over the limit", json: `["bigint","-${"9".repeat(16384)}"]` },
    { name: "date without a time", json: '["date"]' },
    { name: "date with a string", json: '["date","x"]' },
    { name: "date with an object", json: '["date",{}]' },
    { name: "bytes without data", json: '["bytes"]' },
    { name: "bytes with a number", json: '["bytes",5]' },
    { name: "bytes with an unknown marker", json: '["bytes","AAAA","Foo"]' },
    { name: "bytes with a marker like a typed array", json: '["bytes","SGVsbG8","invalidUint8Array"]' },
    { name: "bytes with a numeric marker", json: '["bytes","SGVsbG8",123]' },
    { name: "bytes with marker constructor", json: '["bytes","AAAA","constructor"]' },
    { name: "bytes with marker __proto__", json: '["bytes","AAAA","__proto__"]' },
    { name: "Int32Array of 3 bytes", json: '["bytes","AAAA","Int32Array"]' },
    { name: "Int16Array of 1 byte", json: '["bytes","AA","Int16Array"]' },
    { name: "Uint16Array of 3 bytes", json: '["bytes","AAAA","Uint16Array"]' },
    { name: "Float32Array of 3 bytes", json: '["bytes","AAAA","Float32Array"]' },
    { name: "Uint32Array of 6 bytes", json: '["bytes","AAAAAAAA","Uint32Array"]' },
    { name: "Float64Array of 12 bytes", json: '["bytes","AAAAAAAAAAAAAAAA","Float64Array"]' },
    { name: "BigUint64Array of 7 bytes", json: `["bytes","${Buffer.alloc(7).toString("base64")}","BigUint64Array"]` },
    { name: "BigInt64Array of 4 bytes", json: '["bytes","AAAAAA","BigInt64Array"]' },
    { name: "error without parts", json: '["error"]' },
    { name: "error without a message", json: '["error","Error"]' },
    { name: "error with numbers", json: '["error",1,2]' },
    { name: "error with a numeric message", json: '["error","Error",2]' },
    { name: "error with a string props bag", json: '["error","Error","msg",null,"not-an-object"]' },
    { name: "error with a numeric props bag", json: '["error","Error","msg",null,42]' },
    { name: "error with an array props bag", json: '["error","Error","msg",null,[1,2]]' },
    { name: "error with a null props bag", json: '["error","Error","msg",null,null]' },
    { name: "error prop holding an unknown tag", json: '["error","Error","msg",null,{"a":["foo"]}]' },
    { name: "url without a string", json: '["url",5]' },
    { name: "url that does not parse", json: '["url","not a url"]' },
    { name: "url with an extra element", json: '["url","https://example.com/","x"]' },
    { name: "headers with a string", json: '["headers","x"]' },
    { name: "headers with a bad field name", json: '["headers",[["bad name","v"]]]' },
    { name: "headers with a malformed pair", json: '["headers",[["a"]]]' },
    { name: "export with a string id", json: '["export","x"]' },
    { name: "promise with a string id", json: '["promise","x"]' },
    { name: "import with a string id", json: '["import","x"]' },
    { name: "remap with too few parts", json: '["remap",0]' },
    // Hostile content under a blocked key is still decoded (to release stubs), so still refused.
    { name: "unknown tag under a blocked key", json: '{"__proto__":["foo"]}' },
  ];

  for (const c of MALFORMED) {
    it(c.name, () => {
      expectDecodeError(c.json, "protocol");
      // capnweb refuses every one of these as well.
      expect(() => capnwebDeserialize(c.json)).toThrow();
    });
  }

  it("is stricter than capnweb about trailing elements in bytes", () => {
    // capnweb ignores a fourth element (it only checks `length === 2` for the markerless form).
    const json = '["bytes","AAAA","Uint8Array","x"]';
    expect(canon(capnwebDeserialize(json))).toEqual(canon(new Uint8Array(3)));
    expectDecodeError(json, "protocol");
  });

  it("accepts a bigint of exactly maxBigIntDigits digits, as capnweb does", () => {
    const json = `["bigint","${"9".repeat(16384)}"]`;
    expect(deserialize(json)).toBe(BigInt("9".repeat(16384)));
    expect(capnwebDeserialize(json)).toBe(BigInt("9".repeat(16384)));
  });

  it("references to capabilities without a session are CapnWebErrors", () => {
    for (const json of ['["import",5]', '["pipeline",5]', '["pipeline",5,["a"]]', '["pipeline",5,["a"],[]]', '["export",5]', '["promise",5]', '["remap",5,[],[],[]]']) {
      const error = thrownBy(() => deserialize(json));
      expect(error, json).toBeInstanceOf(CapnWebError);
      expect((error as CapnWebError).type, json).toBe("protocol");
      expect(() => capnwebDeserialize(json)).toThrow();
    }
  });

  it("is not valid JSON: JSON.parse's own SyntaxError", () => {
    expect(() => deserialize('{"unclosed": ')).toThrow(SyntaxError);
  });
});

describe("nesting depth", () => {
  const maxDepth = DEFAULT_LIMITS.maxDepth;

  for (const [shape, build] of [
    ["escaped arrays [[[[...]]]]", nestedArrays],
    ["objects {a:{a:...}}", nestedObjects],
    ["objects and arrays alternating", nestedMixed],
  ] as const) {
    it(`${shape}: accepts depth ${maxDepth - 1}, refuses ${maxDepth}, exactly where capnweb does`, () => {
      const ok = build(maxDepth - 1);
      expect(() => deserialize(ok)).not.toThrow();
      expect(() => capnwebDeserialize(ok)).not.toThrow();
      expect(canon(deserialize(ok))).toEqual(canon(capnwebDeserialize(ok)));

      const tooDeep = build(maxDepth);
      expectDecodeError(tooDeep, "protocol");
      expect(() => capnwebDeserialize(tooDeep)).toThrow(/depth/);
    });
  }

  it("nesting far deeper than the stack allows is still a protocol error", () => {
    expectDecodeError(nestedArrays(20_000), "protocol");
    expectDecodeError(nestedObjects(20_000), "protocol");
    expectDecodeError("[".repeat(50_000) + "]".repeat(50_000), "protocol");
  });

  it("counts depth through error props and cause", () => {
    const inProps = (levels: number) => `["error","Error","m",null,{"p":${nestedObjects(levels)}}]`;
    // The error sits at depth 0, its props' values at 1: the props' contents get one level less.
    expect(() => deserialize(inProps(maxDepth - 2))).not.toThrow();
    expect(() => capnwebDeserialize(inProps(maxDepth - 2))).not.toThrow();
    expectDecodeError(inProps(maxDepth - 1), "protocol");
    expect(() => capnwebDeserialize(inProps(maxDepth - 1))).toThrow(/depth/);
  });

  it("counts depth under blocked keys too", () => {
    const json = `{"__proto__":${nestedObjects(maxDepth)}}`;
    expectDecodeError(json, "protocol");
    expect(() => capnwebDeserialize(json)).toThrow(/depth/);
  });
});

describe("streams, Blob, Request and Response outside a session", () => {
  // Without a session there is nothing to pipe into or out of: a stream (or what carries one) is
  // a clear error both ways; a Request or Response without a body is plain data.
  const NEEDS_A_SESSION = ['["readable",0]', '{"x":["readable",0]}', '["blob","text/plain",["readable",0]]', '["response",["readable",1],{}]'];
  for (const json of NEEDS_A_SESSION) {
    it(`decoding ${json} is a protocol error`, () => {
      expectDecodeError(json, "protocol");
      expect(() => capnwebDeserialize(json)).toThrow();
    });
  }

  it("decoding a writable outside a session is a protocol error", () => {
    expectDecodeError('["writable",-1]', "protocol");
    expectDecodeError('[[1,["writable",-3]]]', "protocol");
  });

  it("rejects malformed blob wire values", () => {
    for (const json of ['["blob"]', '["blob","text/plain"]', '["blob",123,["readable",0]]', '["blob","text/plain",["readable",0],"extra"]']) {
      expectDecodeError(json, "protocol");
      expect(() => capnwebDeserialize(json)).toThrow();
    }
  });

  it("throws when serializing Blob without an RPC session", () => {
    for (const value of [new Blob(["hello"], { type: "text/plain" }), { nested: new Blob([]) }]) {
      const error = thrownBy(() => serialize(value));
      expect(error).toBeInstanceOf(CapnWebError);
      expect((error as CapnWebError).type).toBe("invalid_argument");
      expect((error as CapnWebError).message).toMatch(/Cannot create pipes without an RPC session/);
      expect(() => capnwebSerialize(value)).toThrow(/Cannot create pipes without an RPC session/);
    }
    for (const value of [new ReadableStream(), new WritableStream(), new Response("body")]) {
      const error = thrownBy(() => serialize(value));
      expect((error as CapnWebError).type).toBe("invalid_argument");
      expect((error as CapnWebError).message).toMatch(/Can't serialize (Readable|Writable)Stream in this context/);
      expect(() => capnwebSerialize(value)).toThrow(/Can't serialize (Readable|Writable)Stream in this context/);
    }
  });

  it("a bodiless Request and Response serialize as capnweb's do", () => {
    const values = [
      new Request("http://example.com/"),
      new Request("http://example.com/a?b=c", { method: "HEAD", headers: { "x-one": "1" }, redirect: "manual", cache: "no-store" } as RequestInit),
      new Response(null, { status: 204, statusText: "No Content", headers: { "x-two": "2" } }),
      new Response(null),
    ];
    for (const value of values) expect(serialize(value)).toBe(capnwebSerialize(value));
    // The literal wire form, where the runtime's Request keeps the fetch standard's defaults (Bun's
    // reports `credentials: "include"` on every Request, which both libraries then carry).
    if (new Request("http://example.com/").credentials === "same-origin")
      expect(serialize(values[1])).toBe('["request","http://example.com/a?b=c",{"method":"HEAD","headers":[["x-one","1"]],"cache":"no-store","redirect":"manual"}]');
  });

  it("a bodiless Request and Response decode from capnweb's text", () => {
    const request = deserialize(capnwebSerialize(new Request("http://example.com/x", { method: "HEAD", headers: { "x-a": "b" } }))) as Request;
    expect(request).toBeInstanceOf(Request);
    expect([request.method, request.url, request.headers.get("x-a")]).toEqual(["HEAD", "http://example.com/x", "b"]);
    const response = deserialize('["response",null,{"status":201,"statusText":"Created"}]') as Response;
    expect(response).toBeInstanceOf(Response);
    expect([response.status, response.statusText, response.body]).toEqual([201, "Created", null]);
  });

  it("hostile Request and Response init fields are protocol errors", () => {
    for (const json of [
      '["request","http://example.com/",{"method":"CONNECT"}]',
      '["request","not a url",{}]',
      '["request","http://example.com/",{"headers":{"a":"b"}}]',
      '["request","http://example.com/",{"headers":[["bad name","x"]]}]',
      '["request","http://example.com/",{"signal":["undefined"]}]',
      '["request","http://example.com/",[]]',
      '["request","http://example.com/",{"body":{"x":1},"method":"POST"}]',
      '["response",null,{"status":99}]',
      '["response",null,{"webSocket":true}]',
      '["response",{"x":1},{}]',
      '["response",null]',
    ]) {
      expectDecodeError(json, "protocol");
    }
  });
});

// -----------------------------------------------------------------------------------------------
// Prototype pollution

const BLOCKED_NAMES = [...Object.getOwnPropertyNames(Object.prototype), "toJSON"];

describe("decoding never reaches prototype machinery", () => {
  it("strips an own __proto__ key and pollutes nothing", () => {
    const tree = JSON.parse('{"__proto__": {"polluted": 1}}') as object;
    expect(hasOwn(tree, "__proto__")).toBe(true); // JSON.parse does make an own key
    const payload = Decoder.decode(tree);
    const result = payload.value as Record<string, unknown>;
    payload.dispose();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(hasOwn(result, "__proto__")).toBe(false);
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(result.polluted).toBeUndefined();
    expect(Reflect.ownKeys(result)).toEqual([]);
  });

  it("strips __proto__ at any depth, in objects, arrays and error props", () => {
    const json =
      '{"a":{"__proto__":{"polluted":1},"ok":1},"b":[[{"__proto__":{"polluted":2}}]],' +
      '"e":["error","Error","m",null,{"__proto__":{"polluted":3},"code":"C"}]}';
    const result = deserialize(json) as { a: object; b: object[]; e: Error & Record<string, unknown> };
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Reflect.ownKeys(result.a)).toEqual(["ok"]);
    expect(Object.getPrototypeOf(result.a)).toBe(Object.prototype);
    expect(Reflect.ownKeys(result.b[0]!)).toEqual([]);
    expect(Object.getPrototypeOf(result.b[0])).toBe(Object.prototype);
    expect(Object.getPrototypeOf(result.e)).toBe(Error.prototype);
    expect(hasOwn(result.e, "__proto__")).toBe(false);
    expect(result.e.polluted).toBeUndefined();
    expect(result.e.code).toBe("C");
  });

  it("constructor.prototype cannot be reached", () => {
    const result = deserialize('{"constructor":{"prototype":{"polluted":1}},"ok":1}') as Record<string, unknown>;
    expect(Reflect.ownKeys(result)).toEqual(["ok"]);
    expect(result.constructor).toBe(Object);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  for (const name of BLOCKED_NAMES) {
    it(`strips the key ${JSON.stringify(name)}, as capnweb does`, () => {
      const json = `{${JSON.stringify(name)}:{"polluted":1},"ok":2}`;
      const ours = deserialize(json) as Record<string, unknown>;
      expect(Reflect.ownKeys(ours)).toEqual(["ok"]);
      expect(Object.getPrototypeOf(ours)).toBe(Object.prototype);
      expect(canon(ours)).toEqual(canon(capnwebDeserialize(json)));
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  }

  it("drops error props named like Object.prototype members or toJSON", () => {
    const wire =
      '["error","Error","boom","at test (x:1:1)",' +
      '{"code":"E_TEST","constructor":"x","toString":"nope","valueOf":"nope","hasOwnProperty":"nope",' +
      '"toJSON":"nope","__proto__":{"polluted":true}}]';
    const error = deserialize(wire) as Error & Record<string, unknown>;
    expect(error).toBeInstanceOf(Error);
    expect(Object.getPrototypeOf(error)).toBe(Error.prototype);
    expect(error.message).toBe("boom");
    expect(error.code).toBe("E_TEST");
    for (const key of ["constructor", "toString", "valueOf", "hasOwnProperty", "toJSON", "__proto__"]) {
      expect(hasOwn(error, key), key).toBe(false);
    }
    expect(error.constructor).toBe(Error);
    expect(error.toString()).toBe("Error: boom");
    expect(error.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Agrees with capnweb on what survives.
    expect(Object.keys(error)).toEqual(Object.keys(capnwebDeserialize(wire) as object));
  });

  it("an error type named like an Object.prototype member gives a real Error (no type confusion)", () => {
    const confused = deserialize('["error","constructor","attacker-payload",null,{"injected":true}]') as Error & Record<string, unknown>;
    expect(confused).toBeInstanceOf(Error);
    expect(confused).not.toBeInstanceOf(String);
    expect(Object.getPrototypeOf(confused)).toBe(Error.prototype);
    expect(confused.message).toBe("attacker-payload");
    expect(confused.injected).toBe(true);
    for (const name of BLOCKED_NAMES) {
      const error = deserialize(`["error",${JSON.stringify(name)},"msg"]`) as Error;
      expect(Object.getPrototypeOf(error), name).toBe(Error.prototype);
      expect(error.message).toBe("msg");
      // capnweb names these "Error"; we keep the sender's name, as for any unknown class.
      expect(error.name).toBe(name);
      expect(Error.prototype.name).toBe("Error");
    }
    expect(Object.getPrototypeOf(deserialize('["error","TypeError","t"]'))).toBe(TypeError.prototype);
    expect(Object.getPrototypeOf(deserialize('["error","AggregateError","a"]'))).toBe(AggregateError.prototype);
  });
});

// -----------------------------------------------------------------------------------------------
// Values that cannot be sent

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}

class Api extends Target {
  hello(): string {
    return "hi";
  }
}

describe("unsendable values are 'invalid_argument'", () => {
  const selfArray: unknown[] = [];
  selfArray.push(selfArray);
  const mutualA: Record<string, unknown> = {};
  const mutualB: Record<string, unknown> = { a: mutualA };
  mutualA.b = mutualB;

  const UNSENDABLE: { name: string; value: unknown }[] = [
    { name: "Map", value: new Map([["a", 1]]) },
    { name: "Set", value: new Set([1]) },
    { name: "WeakMap", value: new WeakMap() },
    { name: "a class instance", value: new Point(1, 2) },
    { name: "a class instance inside an object", value: { p: new Point(1, 2) } },
    { name: "a Symbol", value: Symbol("s") },
    { name: "a Symbol inside an array", value: [Symbol("s")] },
    { name: "a self-referencing object", value: cyclic },
    { name: "a self-referencing array", value: selfArray },
    { name: "two objects referencing each other", value: mutualA },
    { name: "a native Promise inside an object", value: { p: Promise.resolve(1) } },
    { name: "a native Promise", value: Promise.resolve(1) },
    { name: "a null-prototype object", value: Object.create(null) as object },
    { name: "a RegExp", value: /x/ },
    { name: "a boxed string", value: Object("s") as object },
    { name: "a function (no session)", value: () => 1 },
    { name: "a Target (no session)", value: new Api() },
  ];

  for (const c of UNSENDABLE) {
    it(c.name, () => {
      const error = thrownBy(() => serialize(c.value));
      expect(error).toBeInstanceOf(CapnWebError);
      expect((error as CapnWebError).type).toBe("invalid_argument");
      // capnweb refuses these too.
      expect(() => capnwebSerialize(c.value)).toThrow();
    });
  }

  it("a cycle is reported as too deep, like capnweb", () => {
    const error = thrownBy(() => serialize(cyclic)) as CapnWebError;
    expect(error.message).toMatch(/cycle/);
    expect(() => capnwebSerialize(cyclic)).toThrow(/cycles/);
  });

  it("encoding accepts depth 255 and refuses 256, exactly where capnweb does", () => {
    const nest = (levels: number, wrap: (inner: unknown) => unknown): unknown => {
      let value: unknown = 1;
      for (let i = 0; i < levels; i++) value = wrap(value);
      return value;
    };
    for (const wrap of [(v: unknown) => ({ a: v }), (v: unknown) => [v]]) {
      const ok = nest(DEFAULT_LIMITS.maxDepth - 1, wrap);
      expect(serialize(ok)).toBe(capnwebSerialize(ok));
      const tooDeep = nest(DEFAULT_LIMITS.maxDepth, wrap);
      const error = thrownBy(() => serialize(tooDeep));
      expect(error).toBeInstanceOf(CapnWebError);
      expect((error as CapnWebError).type).toBe("invalid_argument");
      expect(() => capnwebSerialize(tooDeep)).toThrow(/depth/);
    }
  });

  it("what we encode at the depth limit, we also decode", () => {
    const ok: unknown = JSON.parse(nestedObjects(DEFAULT_LIMITS.maxDepth - 1));
    expect(canon(deserialize(serialize(ok)))).toEqual(canon(ok));
  });
});
