// fast-check arbitraries for values that travel (the codec's domain) and for raw wire expressions
// (what a peer may put on the wire, valid or not).

import fc from "fast-check";

/** Keys, with the ones no decoder may keep (prototype machinery) over-represented. */
export const keyArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("__proto__", "constructor", "toString", "valueOf", "hasOwnProperty", "toJSON", "then", "0", "length", "a", "b", ""),
  },
);

const stringArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom("\ud800", "\udfff", "a\u0000b", "\u2028\u2029", "𝄞", '"\\', "[", "]", '["bigint","1"]') },
);

const numberArb: fc.Arbitrary<number> = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE),
);

const bigintArb: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: -(2n ** 256n), max: 2n ** 256n }),
  fc.constantFrom(0n, -1n, 2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n, 10n ** 300n),
);

const dateArb: fc.Arbitrary<Date> = fc.oneof(
  { weight: 5, arbitrary: fc.date({ noInvalidDate: false }) },
  { weight: 1, arbitrary: fc.constantFrom(new Date(NaN), new Date(0), new Date(-0), new Date(8.64e15), new Date(-8.64e15)) },
);

type ByteKind =
  | "Buffer"
  | "ArrayBuffer"
  | "DataView"
  | "Int8Array"
  | "Uint8Array"
  | "Uint8ClampedArray"
  | "Int16Array"
  | "Uint16Array"
  | "Int32Array"
  | "Uint32Array"
  | "Float32Array"
  | "Float64Array"
  | "BigInt64Array"
  | "BigUint64Array";

const VIEWS: Record<Exclude<ByteKind, "Buffer" | "ArrayBuffer" | "DataView">, { BYTES_PER_ELEMENT: number; new (b: ArrayBuffer, o: number, n: number): ArrayBufferView }> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

/** Every bytes type, with random contents (NaN payloads and -0 included) and view offsets. */
export const bytesArb: fc.Arbitrary<ArrayBufferView | ArrayBuffer> = fc
  .record({
    kind: fc.constantFrom<ByteKind>("Buffer", "ArrayBuffer", "DataView", ...(Object.keys(VIEWS) as ByteKind[])),
    count: fc.nat(6),
    offset: fc.nat(2),
    fill: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  })
  .map(({ kind, count, offset, fill }) => {
    const size = kind in VIEWS ? VIEWS[kind as keyof typeof VIEWS].BYTES_PER_ELEMENT : 1;
    const buffer = new ArrayBuffer((offset + count + 1) * size);
    const all = new Uint8Array(buffer);
    for (let i = 0; i < all.length; i++) all[i] = fill[i % fill.length]!;
    if (kind === "Buffer") return Buffer.from(all.subarray(offset, offset + count));
    if (kind === "ArrayBuffer") return buffer.slice(offset, offset + count);
    if (kind === "DataView") return new DataView(buffer, offset, count);
    return new VIEWS[kind](buffer, offset * size, count);
  });

const urlArb: fc.Arbitrary<URL> = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true }).map((href) => new URL(href)),
  fc.constantFrom("http://ü.example/ä?x=1#y", "https://a:b@c.example:8443/p", "data:text/plain,hi", "file:///tmp/x").map((href) => new URL(href)),
);

const ERROR_CLASSES = [Error, RangeError, TypeError, SyntaxError, ReferenceError, EvalError, URIError] as const;

function defineAll(target: object, props: Record<string, unknown>): void {
  for (const key of Object.keys(props)) {
    // defineProperty, not assignment: a key named "__proto__" stays an own property.
    Object.defineProperty(target, key, { value: props[key], enumerable: true, writable: true, configurable: true });
  }
}

const errorKeyArb = keyArb.filter((key) => key !== "name" && key !== "message" && key !== "stack");

/** Values the codec must carry: every type capnweb 0.12 serializes, nested. */
export const valueArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; leaf: unknown; array: unknown[]; object: unknown; error: Error }>((tie) => ({
  value: fc.oneof({ maxDepth: 4, depthIdentifier: "value" }, tie("leaf"), tie("leaf"), tie("array"), tie("object"), tie("error")),
  leaf: fc.oneof(
    fc.constantFrom(null, undefined, true, false),
    stringArb,
    numberArb,
    bigintArb,
    dateArb,
    bytesArb,
    urlArb,
  ),
  array: fc.oneof(
    { weight: 5, arbitrary: fc.array(tie("value"), { maxLength: 4, depthIdentifier: "value" }) },
    // Holes travel as undefined.
    { weight: 1, arbitrary: fc.sparseArray(tie("value"), { maxLength: 4, depthIdentifier: "value" }) },
  ),
  object: fc
    .array(fc.tuple(keyArb, tie("value")), { maxLength: 4, depthIdentifier: "value" })
    .map((entries) => {
      const out: Record<string, unknown> = {};
      for (const [key, value] of entries) defineAll(out, { [key]: value });
      return out;
    }),
  error: fc
    .record({
      cls: fc.constantFrom(...ERROR_CLASSES),
      aggregate: fc.boolean(),
      message: stringArb,
      props: fc.array(fc.tuple(errorKeyArb, tie("value")), { maxLength: 3, depthIdentifier: "value" }),
      cause: fc.option(tie("value"), { nil: undefined, freq: 3 }),
      hasCause: fc.boolean(),
    })
    .map(({ cls, aggregate, message, props, cause, hasCause }) => {
      const options = hasCause ? { cause } : undefined;
      const error = aggregate ? new AggregateError([new cls("inner")], message, options) : new cls(message, options);
      for (const [key, value] of props) defineAll(error, { [key]: value });
      return error;
    }),
})).value;

/** Values that cannot travel, somewhere inside a travelling value. */
export const unsendableArb: fc.Arbitrary<unknown> = fc
  .tuple(
    fc.constantFrom<() => unknown>(
      () => new Map([[1, 2]]),
      () => new Set([1]),
      () => new WeakMap(),
      () => Symbol("s"),
      () => Object.assign(Object.create(null), { a: 1 }),
      () => new (class Point {
        x = 1;
      })(),
      () => new Number(3),
      () => new String("s"),
      () => Promise.resolve(1),
      () => /regex/,
    ),
    fc.constantFrom<(inner: unknown) => unknown>(
      (inner) => inner,
      (inner) => [1, inner],
      (inner) => ({ a: { b: inner } }),
      (inner) => [[{ x: [inner] }]],
    ),
  )
  .map(([make, wrap]) => wrap(make()));

// -----------------------------------------------------------------------------------------------
// Wire expressions: what the grammar allows, and what it does not

const base64Arb = fc.oneof(
  fc.base64String({ maxLength: 24 }),
  fc.base64String({ maxLength: 24 }).map((s) => s.replace(/=+$/, "")),
  fc.string({ unit: "binary-ascii", maxLength: 12 }),
  fc.constantFrom("", "=", "A", "AB", "A=B", "!!!!", "AAAA====", "AA\nAA", " AAAA"),
);

/** Random JSON trees shaped like capnweb expressions, valid or not (no stubs: plain decoding). */
export const wireExpressionArb: fc.Arbitrary<unknown> = fc.letrec<{ expr: unknown; typed: unknown; json: unknown }>((tie) => ({
  expr: fc.oneof({ maxDepth: 4, depthIdentifier: "expr" }, tie("json"), tie("typed"), tie("typed")),
  json: fc.oneof(
    fc.constantFrom(null, true, false, 0, -1, 1.5, 1e300, ""),
    fc.string({ maxLength: 8 }),
    fc.integer(),
    fc.tuple(fc.array(tie("expr"), { maxLength: 3, depthIdentifier: "expr" })),
    fc.dictionary(keyArb, tie("expr"), { maxKeys: 3, noNullPrototype: true, depthIdentifier: "expr" }),
  ),
  typed: fc.oneof(
    fc.constantFrom(["undefined"], ["undefined", 1], ["inf"], ["-inf"], ["nan"], ["inf", 1], ["nan", "x"], ["date"], ["date", null], ["bigint"], []),
    fc.tuple(fc.constant("bigint"), fc.oneof(fc.bigInt().map(String), fc.constantFrom("", "-", "0x1f", "1e3", " 1", "1.5", "+1", "0b11", "1_000", "-0"), fc.integer())),
    fc.tuple(fc.constant("date"), fc.oneof(fc.double(), fc.constantFrom(8.64e15 + 1, -8.64e15 - 1, "2020-01-01", true))),
    fc.tuple(fc.constant("bytes"), base64Arb),
    fc.tuple(
      fc.constant("bytes"),
      base64Arb,
      fc.oneof(
        fc.constantFrom("ArrayBuffer", "DataView", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"),
        fc.constantFrom("Buffer", "Float16Array", "constructor", "__proto__", "toString", ""),
        fc.integer(),
      ),
    ),
    fc.tuple(fc.constant("url"), fc.oneof(fc.webUrl(), fc.constantFrom("not a url", "", "http://", "javascript:alert(1)", "http://[::1]:80/"), fc.integer())),
    fc.tuple(fc.constant("headers"), fc.oneof(fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })), { maxLength: 3 }), fc.constantFrom([["bad header", "x"]], [["a"]], "x", [[1, 2]]))),
    fc.tuple(
      fc.constant("error"),
      fc.oneof(fc.constantFrom("Error", "TypeError", "RangeError", "AggregateError", "Custom", "constructor", "__proto__", "toString", ""), fc.integer()),
      fc.oneof(fc.string({ maxLength: 8 }), fc.integer()),
    ),
    fc.tuple(
      fc.constant("error"),
      fc.constantFrom("Error", "TypeError", "AggregateError", "hasOwnProperty"),
      fc.string({ maxLength: 8 }),
      fc.oneof(fc.constant(null), fc.string({ maxLength: 8 }), fc.integer()),
      fc.oneof(fc.dictionary(keyArb, tie("expr"), { maxKeys: 3, noNullPrototype: true, depthIdentifier: "expr" }), fc.constantFrom(null, [], 1, "x")),
    ),
    fc.tuple(fc.constantFrom("frobnicate", "Undefined", "BIGINT", "import", "export", "promise", "pipeline", "remap"), tie("expr")),
  ),
})).expr;
