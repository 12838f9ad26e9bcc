// capnweb 0.12's cases that need no connection (serialization, local stubs, their disposal, an
// RpcPromise made of a local promise), ported against `capnweb-otp/capnweb`, plus the cases of
// its HTTP, WebSocket and MessagePort sections against a server of the compatible entry.
// Each `it` keeps the name of the capnweb case it comes from.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MessageChannel } from "node:worker_threads";
import { WebSocketServer } from "ws";
import {
  RpcPromise,
  RpcSession,
  RpcStub,
  RpcTarget,
  type RpcTransport,
  type RpcTransportWithCustomEncoding,
  deserialize,
  newHttpBatchRpcSession,
  newMessagePortRpcSession,
  newWebSocketRpcSession,
  nodeHttpBatchRpcResponse,
  serialize,
} from "../../src/capnweb.js";
import { COMPAT, pumpMicrotasks } from "./harness.js";
import { NotSerializable, testObjects } from "./fixtures.js";

const { Counter, TestTarget } = testObjects(COMPAT);

// The value cases of capnweb's serialization table.
const SERIALIZE_TEST_CASES: Record<string, unknown> = {
  "123": 123,
  null: null,
  '"foo"': "foo",
  true: true,
  '{"foo":123}': { foo: 123 },
  '{"foo":{"bar":123,"baz":456},"qux":789}': { foo: { bar: 123, baz: 456 }, qux: 789 },
  "[[123]]": [123],
  "[[[[123,456]]]]": [[123, 456]],
  '{"foo":[[123]]}': { foo: [123] },
  '{"foo":[[123]],"bar":[[456,789]]}': { foo: [123], bar: [456, 789] },
  '["bigint","123"]': 123n,
  '["date",1234]': new Date(1234),
  '["bytes","aGVsbG8h"]': new TextEncoder().encode("hello!"),
  '["undefined"]': undefined,
  '["error","Error","the message"]': new Error("the message"),
  '["error","TypeError","the message"]': new TypeError("the message"),
  '["error","RangeError","the message"]': new RangeError("the message"),
  '["inf"]': Infinity,
  '["-inf"]': -Infinity,
  '["nan"]': NaN,
  '["url","https://example.com/path?q=1"]': new URL("https://example.com/path?q=1"),
  '["headers",[]]': new Headers(),
  '["headers",[["content-type","text/plain"],["x-custom","hello"]]]': new Headers({ "Content-Type": "text/plain", "X-Custom": "hello" }),
  '["request","http://example.com/",{"method":"HEAD"}]': new Request("http://example.com/", { method: "HEAD" }),
  '["request","http://example.com/",{"method":"DELETE","headers":[["x-foo","bar"]]}]': new Request("http://example.com/", {
    method: "DELETE",
    headers: { "X-Foo": "bar" },
  }),
  '["request","http://example.com/",{"redirect":"manual"}]': new Request("http://example.com/", { redirect: "manual" }),
  '["response",null,{"statusText":"OK"}]': new Response(null, { statusText: "OK" }),
  '["response",null,{"status":404,"statusText":"Not Found"}]': new Response(null, { status: 404, statusText: "Not Found" }),
  '["response",null,{"status":201,"statusText":"Hello","headers":[["x-custom","value"]]}]': new Response(null, {
    status: 201,
    statusText: "Hello",
    headers: { "X-Custom": "value" },
  }),
};

describe("blob serialization", () => {
  it("rejects malformed blob wire values", () => {
    expect(() => deserialize('["blob"]')).toThrowError();
    expect(() => deserialize('["blob","text/plain"]')).toThrowError();
    expect(() => deserialize('["blob",123,["readable",0]]')).toThrowError();
    expect(() => deserialize('["blob","text/plain",["readable",0],"extra"]')).toThrowError();
  });

  it("throws when serializing Blob without an RPC session", () => {
    expect(() => serialize(new Blob(["hello"], { type: "text/plain" }))).toThrowError("Cannot create pipes without an RPC session");
  });
});

describe("simple serialization", () => {
  it("can serialize", () => {
    for (const [wire, value] of Object.entries(SERIALIZE_TEST_CASES)) expect(serialize(value)).toBe(wire);
  });

  it("can deserialize", () => {
    for (const [wire, expected] of Object.entries(SERIALIZE_TEST_CASES)) {
      const value = deserialize(wire);
      // These compare by what they serialize to (toStrictEqual sees no difference between them).
      if (value instanceof Uint8Array || value instanceof URL || value instanceof Headers || value instanceof Request || value instanceof Response) {
        expect(serialize(value)).toBe(wire);
      } else {
        expect(value).toStrictEqual(expected);
      }
    }
  });

  it("throws an error if the value can't be serialized", () => {
    expect(() => serialize(new NotSerializable(123))).toThrowError(new TypeError("Cannot serialize value: NotSerializable(123)"));
    expect(() => serialize(Object.create(null))).toThrowError(new TypeError("Cannot serialize value: (couldn't stringify value)"));
  });

  it("throws an error for circular references", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => serialize(cyclic)).toThrowError("Serialization exceeded maximum allowed depth. (Does the message contain cycles?)");
  });

  it("can serialize complex nested structures", () => {
    const complex = {
      level1: { level2: { level3: { array: [1, 2, { nested: "deep" }], date: new Date(5678), nullVal: null, undefinedVal: undefined } } },
      top_array: [[1, 2], [3, 4]],
    };
    expect(deserialize(serialize(complex))).toStrictEqual(complex);
  });

  it("throws errors for malformed deserialization data", () => {
    expect(() => deserialize('{"unclosed": ')).toThrowError();
    expect(() => deserialize('["unknown_type", "param"]')).toThrowError();
    expect(() => deserialize('["date"]')).toThrowError();
    expect(() => deserialize('["error"]')).toThrowError();
  });

  it("can serialize large Uint8Array without stack overflow", () => {
    const bytes = Uint8Array.from({ length: 200_000 }, (_, i) => i & 0xff);
    const back = deserialize(serialize(bytes)) as Uint8Array;
    expect(back).toBeInstanceOf(Uint8Array);
    expect(new Uint8Array(back)).toStrictEqual(bytes);
  });

  it("correctly serializes Uint8Array with trailing byte value 61", () => {
    const bytes = new Uint8Array([72, 101, 108, 108, 111, 61]);
    expect(new Uint8Array(deserialize(serialize(bytes)) as Uint8Array)).toStrictEqual(bytes);
  });

  it("strips base64 padding from serialized bytes", () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    const wire = serialize(bytes);
    expect(wire).not.toContain("=");
    expect(new Uint8Array(deserialize(wire) as Uint8Array)).toStrictEqual(bytes);
  });

  it("can serialize Uint8Array as legacy bytes without a type marker", () => {
    const bytes = new Uint8Array([72, 101, 108, 108, 111]);
    expect(serialize(bytes)).toBe('["bytes","SGVsbG8"]');
    expect(new Uint8Array(deserialize('["bytes","SGVsbG8"]') as Uint8Array)).toStrictEqual(bytes);
    const typed = deserialize('["bytes","SGVsbG8","Uint8Array"]');
    expect(Object.getPrototypeOf(typed)).toBe(Uint8Array.prototype);
    expect(typed).toStrictEqual(bytes);
  });

  it("can serialize Node.js Buffer as bytes", () => {
    const buffer = Buffer.from("hello!");
    expect(serialize(buffer)).toBe('["bytes","aGVsbG8h"]');
    expect(new Uint8Array(deserialize('["bytes","aGVsbG8h"]') as Uint8Array)).toStrictEqual(new Uint8Array(buffer));
  });

  it("can serialize ArrayBuffer as bytes with an ArrayBuffer marker", () => {
    const bytes = new Uint8Array([72, 101, 108, 108, 111]);
    expect(serialize(bytes.buffer)).toBe('["bytes","SGVsbG8","ArrayBuffer"]');
    const back = deserialize('["bytes","SGVsbG8","ArrayBuffer"]');
    expect(back).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(back as ArrayBuffer)).toStrictEqual(bytes);
  });

  it("can serialize typed array views as bytes with type markers", () => {
    const kinds: Array<{ name: string; size: number; make: (buffer: ArrayBuffer, offset: number, bytes: number) => ArrayBufferView }> = [
      { name: "DataView", size: 1, make: (buffer, offset, bytes) => new DataView(buffer, offset, bytes) },
      ...[Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array, Float32Array, Float64Array].map((Type) => ({
        name: Type.name,
        size: Type.BYTES_PER_ELEMENT,
        make: (buffer: ArrayBuffer, offset: number, bytes: number) => new Type(buffer, offset, bytes / Type.BYTES_PER_ELEMENT),
      })),
    ];
    for (const { name, size, make } of kinds) {
      const byteLength = size * 2;
      const backing = new ArrayBuffer(size + byteLength + 1);
      const bytes = Uint8Array.from({ length: byteLength }, (_, i) => i + 1);
      new Uint8Array(backing, size, byteLength).set(bytes);
      const view = make(backing, size, byteLength);
      const wire = serialize(view);
      const parsed = JSON.parse(wire) as [string, string, string];
      expect(parsed[0]).toBe("bytes");
      expect(parsed[2]).toBe(name);
      const back = deserialize(wire) as ArrayBufferView;
      expect(Object.getPrototypeOf(back)).toBe(Object.getPrototypeOf(view));
      expect(new Uint8Array(back.buffer, back.byteOffset, back.byteLength)).toStrictEqual(bytes);
    }
  });

  it("serializes multi-byte numbers in little-endian wire order", () => {
    const parsed = JSON.parse(serialize(new Uint32Array([0x01020304]))) as [string, string, string];
    expect(parsed[2]).toBe("Uint32Array");
    expect([...Buffer.from(parsed[1], "base64")]).toStrictEqual([0x04, 0x03, 0x02, 0x01]);
  });

  it("rejects byte lengths that are misaligned for typed arrays", () => {
    for (const [type, byteLength, size] of [["Int16Array", 1, 2], ["Float32Array", 3, 4], ["BigUint64Array", 7, 8]] as const) {
      const base64 = Buffer.alloc(byteLength).toString("base64");
      expect(() => deserialize(`["bytes","${base64}","${type}"]`)).toThrowError(`Invalid byte length ${byteLength} for ${type}; expected a multiple of ${size}`);
    }
  });

  it("throws for unknown bytes type markers", () => {
    expect(() => deserialize('["bytes","SGVsbG8","invalidUint8Array"]')).toThrowError("Unknown bytes type marker: invalidUint8Array");
    expect(() => deserialize('["bytes","SGVsbG8",123]')).toThrowError("Unknown bytes type marker type: number");
  });

  it("preserves Invalid Date values through serialization", () => {
    expect(serialize(new Date(NaN))).toBe('["date",null]');
    const back = deserialize('["date",null]') as Date;
    expect(back).toBeInstanceOf(Date);
    expect(Number.isNaN(back.getTime())).toBe(true);
  });
});

describe("error serialization", () => {
  const roundTrip = (error: Error) => deserialize(serialize(error)) as Error & Record<string, any>;

  it("preserves dynamically-attached own properties", () => {
    const result = roundTrip(Object.assign(new Error("the message"), { code: "E_FOO", details: { reason: "x", retries: 3 } }));
    expect(result).toBeInstanceOf(Error);
    expect(result.name).toBe("Error");
    expect(result.message).toBe("the message");
    expect(result.code).toBe("E_FOO");
    expect(result.details).toStrictEqual({ reason: "x", retries: 3 });
  });

  it("preserves class-field properties on Error subclasses", () => {
    class MyError extends Error {
      code = "E_FOO";
      foo = "bar";
    }
    const result = roundTrip(new MyError("boom"));
    expect(result).toBeInstanceOf(Error);
    expect(result.message).toBe("boom");
    expect(result.code).toBe("E_FOO");
    expect(result.foo).toBe("bar");
  });

  it("preserves built-in subclass identity when extras are present", () => {
    const result = roundTrip(Object.assign(new TypeError("t"), { code: 1 }));
    expect(result).toBeInstanceOf(TypeError);
    expect(result.name).toBe("TypeError");
    expect(result.code).toBe(1);
  });

  it("emits the legacy 3-element form when there are no extras", () => {
    const error = new Error("plain");
    error.stack = undefined;
    expect(serialize(error)).toBe('["error","Error","plain"]');
  });

  it("emits 5 elements with null stack when extras are present but stack is absent", () => {
    const error = Object.assign(new Error("x"), { code: "X" });
    error.stack = undefined;
    expect(JSON.parse(serialize(error))).toStrictEqual(["error", "Error", "x", null, { code: "X" }]);
  });

  it("round-trips nested supported types inside props", () => {
    const result = roundTrip(
      Object.assign(new Error("nested"), {
        when: new Date(1234),
        big: 12345678901234567890n,
        bytes: new TextEncoder().encode("hi!"),
        obj: { a: 1, b: [2, 3] },
        inner: new TypeError("inner"),
      }),
    );
    expect(result.when).toStrictEqual(new Date(1234));
    expect(result.big).toBe(12345678901234567890n);
    expect(new Uint8Array(result.bytes)).toStrictEqual(new TextEncoder().encode("hi!"));
    expect(result.obj).toStrictEqual({ a: 1, b: [2, 3] });
    expect(result.inner).toBeInstanceOf(TypeError);
    expect(result.inner.message).toBe("inner");
  });

  it("is decodable by a legacy 4-element decoder (new sender -> old receiver)", () => {
    // An old decoder reads [tag, name, message, stack?] and ignores anything after.
    const [, name, message, stack] = JSON.parse(serialize(Object.assign(new TypeError("t"), { code: "X" })));
    expect(name).toBe("TypeError");
    expect(message).toBe("t");
    expect(typeof stack === "string" || stack === null).toBe(true);
  });

  it("decodes legacy 3- and 4-element forms (old sender -> new receiver)", () => {
    const three = deserialize('["error","Error","msg"]') as Error;
    expect(three).toBeInstanceOf(Error);
    expect(three.message).toBe("msg");
    const four = deserialize('["error","TypeError","msg","trace"]') as Error;
    expect(four).toBeInstanceOf(TypeError);
    expect(four.stack).toBe("trace");
  });

  it("throws when decoding an error with a malformed props bag", () => {
    for (const props of ['"not-an-object"', "42", "[1,2]", "null"]) {
      expect(() => deserialize(`["error","Error","msg",null,${props}]`)).toThrow(TypeError);
    }
  });

  it("round-trips Error.cause", () => {
    const result = roundTrip(new Error("outer", { cause: new TypeError("inner") }));
    expect(result.message).toBe("outer");
    expect(result.cause).toBeInstanceOf(TypeError);
    expect((result.cause as Error).message).toBe("inner");
  });

  it("round-trips a primitive cause", () => {
    expect(roundTrip(new Error("oops", { cause: "boom" })).cause).toBe("boom");
  });

  it("round-trips AggregateError.errors with inner subclass identity", () => {
    const result = roundTrip(new AggregateError([new TypeError("a"), new RangeError("b")], "agg")) as unknown as AggregateError;
    expect(result).toBeInstanceOf(AggregateError);
    expect(result.message).toBe("agg");
    expect(result.errors).toHaveLength(2);
    expect(result.errors[0]).toBeInstanceOf(TypeError);
    expect(result.errors[1]).toBeInstanceOf(RangeError);
  });

  it("silently drops properties whose values cannot be serialized", () => {
    const result = roundTrip(Object.assign(new Error("with-bad-prop"), { code: "E_OK", bad: Object.create(null) }));
    expect(result.code).toBe("E_OK");
    expect("bad" in result).toBe(false);
  });

  it("silently drops cyclic property values", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const result = roundTrip(Object.assign(new Error("cyclic"), { code: "E_OK", cycle }));
    expect(result.code).toBe("E_OK");
    expect("cycle" in result).toBe(false);
  });

  it("never throws even when every extra property is unsupported", () => {
    const result = roundTrip(Object.assign(new Error("all-bad"), { a: Object.create(null), b: Symbol("x") }));
    expect(result.message).toBe("all-bad");
    expect("a" in result).toBe(false);
    expect("b" in result).toBe(false);
  });
});

describe("local stub", () => {
  it("supports wrapping an RpcTarget", async () => {
    const stub = new RpcStub(new TestTarget());
    expect(await stub.square(3)).toBe(9);
  });

  it("supports wrapping a function", async () => {
    const stub = new RpcStub((i: number) => i + 5);
    expect(await stub(3)).toBe(8);
  });

  it("supports wrapping an async function", async () => {
    const stub = new RpcStub(async (i: number) => i + 5);
    expect(await stub(3)).toBe(8);
  });

  it("supports wrapping an arbitrary object", async () => {
    const stub = new RpcStub({ abc: "hello" });
    expect(await stub.abc).toBe("hello");
  });

  it("supports wrapping an object with nested stubs", async () => {
    const stub = new RpcStub({ inner: new RpcStub(new TestTarget()), value: 42 });
    expect(await stub.value).toBe(42);
    expect(await stub.inner.square(4)).toBe(16);
  });

  it("supports wrapping an object with nested RpcTargets", async () => {
    const stub = new RpcStub({ inner: new TestTarget(), value: 42 });
    expect(await stub.value).toBe(42);
    expect(await stub.inner.square(4)).toBe(16);
  });

  it("supports wrapping an object with nested functions", async () => {
    const stub = new RpcStub({ square: (x: number) => x * x, value: 42 });
    expect(await stub.value).toBe(42);
    expect(await stub.square(4)).toBe(16);
  });

  it("supports wrapping an object with nested async functions", async () => {
    const stub = new RpcStub({
      square: async (x: number) => {
        await Promise.resolve();
        return x * x;
      },
      value: 42,
    });
    expect(await stub.value).toBe(42);
    expect(await stub.square(4)).toBe(16);
  });

  it("supports wrapping an RpcTarget with nested stubs", async () => {
    class TargetWithStubs extends RpcTarget {
      getValue() {
        return 42;
      }
      get innerStub() {
        return new RpcStub(new TestTarget());
      }
    }
    const stub = new RpcStub(new TargetWithStubs());
    expect(await stub.getValue()).toBe(42);
    expect(await stub.innerStub.square(3)).toBe(9);
  });

  it("supports wrapping an RpcTarget with nested RpcTargets", async () => {
    class TargetWithTargets extends RpcTarget {
      getValue() {
        return 42;
      }
      get innerTarget() {
        return new TestTarget();
      }
    }
    const stub = new RpcStub(new TargetWithTargets());
    expect(await stub.getValue()).toBe(42);
    expect(await stub.innerTarget.square(3)).toBe(9);
  });

  it("returns undefined when accessing nonexistent properties", async () => {
    const objectStub: any = new RpcStub({ foo: "bar" });
    const arrayStub: any = new RpcStub([1, 2, 3]);
    const targetStub: any = new RpcStub(new TestTarget());
    expect(await objectStub.nonexistent).toBe(undefined);
    expect(await arrayStub.nonexistent).toBe(undefined);
    expect(await targetStub.nonexistent).toBe(undefined);
    await expect(() => objectStub.nonexistent.foo).rejects.toThrow(TypeError);
    await expect(() => arrayStub.nonexistent.foo).rejects.toThrow(TypeError);
    await expect(() => targetStub.nonexistent.foo).rejects.toThrow(TypeError);
  });

  it("exposes only prototype properties for RpcTarget, not instance properties", async () => {
    class TargetWithProps extends RpcTarget {
      instanceProp = "instance";
      dynamicProp: string;
      constructor() {
        super();
        this.dynamicProp = "dynamic";
      }
      get prototypeProp() {
        return "prototype";
      }
      prototypeMethod() {
        return "method";
      }
    }
    const stub: any = new RpcStub(new TargetWithProps());
    expect(await stub.prototypeProp).toBe("prototype");
    expect(await stub.prototypeMethod()).toBe("method");
    const refusal = (name: string) =>
      new TypeError(
        `Attempted to access property '${name}', which is an instance property of the RpcTarget. To avoid leaking private internals, ` +
          `instance properties cannot be accessed over RPC. If you want to make this property available over RPC, define it as a ` +
          `method or getter on the class, instead of an instance property.`,
      );
    // Documented difference: the refusal is a TypeError as in capnweb, in our own words.
    void refusal;
    for (const name of ["instanceProp", "dynamicProp"]) {
      const error = await stub[name].catch((err: unknown) => err);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe(`'${name}' is an instance property of the target; only methods and getters declared on the class are reachable over RPC.`);
    }
  });

  it("does not expose private methods starting with #", async () => {
    class TargetWithPrivate extends RpcTarget {
      #privateMethod() {
        return "private";
      }
      publicMethod() {
        return this.#privateMethod() && "public";
      }
    }
    const stub: any = new RpcStub(new TargetWithPrivate());
    expect(await stub.publicMethod()).toBe("public");
    expect(await stub["#privateMethod"]).toBe(undefined);
  });

  it("supports map() on nulls", async () => {
    const counter = new RpcStub(new Counter(0));
    const stub = new RpcStub(new TestTarget());
    {
      using promise = stub.returnNull();
      expect(await promise.map(() => counter.increment(123))).toBe(null);
    }
    {
      using promise = stub.returnUndefined();
      expect(await promise.map(() => counter.increment(456))).toBe(undefined);
    }
    {
      using promise = stub.returnNumber(2);
      expect(await promise.map((i: any) => counter.increment(i))).toBe(2);
    }
    {
      using promise = stub.returnNumber(4);
      expect(await promise.map((i: any) => counter.increment(i))).toBe(6);
    }
  });

  it("supports map() on arrays", async () => {
    const outerCounter = new RpcStub(new Counter(0));
    const stub = new RpcStub(new TestTarget());
    using fib = stub.generateFibonacci(6);
    // Awaited results are disposable (capnweb's typing says so; ours types the data only).
    using counters = (await fib.map((i: any) => {
      const counter = stub.makeCounter(i);
      const val = counter.increment(3);
      outerCounter.increment();
      return { counter, val };
    })) as any;
    expect(counters.map((x: any) => x.val)).toStrictEqual([3, 4, 4, 5, 6, 8]);
    expect(await Promise.all(counters.map((x: any) => x.counter.value))).toStrictEqual([3, 4, 4, 5, 6, 8]);
    expect(await outerCounter.value).toBe(6);
  });

  it("supports nested map()", async () => {
    const stub = new RpcStub(new TestTarget());
    const result = await stub.generateFibonacci(7).map((i: any) => stub.generateFibonacci(i).map((j: any) => stub.generateFibonacci(j)));
    expect(result).toStrictEqual([
      [],
      [[]],
      [[]],
      [[], [0]],
      [[], [0], [0]],
      [[], [0], [0], [0, 1], [0, 1, 1]],
      [[], [0], [0], [0, 1], [0, 1, 1], [0, 1, 1, 2, 3], [0, 1, 1, 2, 3, 5, 8, 13], [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144]],
    ]);
  });

  it("overrides toString() to at least specify the type", async () => {
    const stub = new RpcStub(new TestTarget());
    expect(stub.toString()).toBe("[object RpcStub]");
    expect(stub.square(3).toString()).toBe("[object RpcPromise]");
  });
});

describe("stub disposal", () => {
  it("disposes nested stubs and RpcTargets when wrapping an object", () => {
    class DisposableTarget extends RpcTarget {
      constructor(private readonly flag: { value: boolean }) {
        super();
      }
      [Symbol.dispose]() {
        this.flag.value = true;
      }
    }
    const innerFlag = { value: false };
    const anotherFlag = { value: false };
    const outer = new RpcStub({ stub: new RpcStub(new DisposableTarget(innerFlag)), target: new DisposableTarget(anotherFlag), value: 42 });
    outer[Symbol.dispose]();
    expect(innerFlag.value).toBe(true);
    expect(anotherFlag.value).toBe(true);
  });

  it("only calls RpcTarget disposer when wrapping an RpcTarget with nested stubs", () => {
    let targetDisposed = false;
    let innerDisposed = false;
    class InnerTarget extends RpcTarget {
      [Symbol.dispose]() {
        innerDisposed = true;
      }
    }
    class TargetWithStubs extends RpcTarget {
      inner = new RpcStub(new InnerTarget());
      get innerStub() {
        return this.inner;
      }
      [Symbol.dispose]() {
        targetDisposed = true;
      }
    }
    new RpcStub(new TargetWithStubs())[Symbol.dispose]();
    expect(targetDisposed).toBe(true);
    expect(innerDisposed).toBe(false);
  });

  it("only disposes RpcTarget when all dups are disposed", () => {
    let disposed = false;
    class DisposableTarget extends RpcTarget {
      [Symbol.dispose]() {
        disposed = true;
      }
    }
    const original = new RpcStub(new DisposableTarget());
    const dup1 = original.dup();
    const dup2 = original.dup();
    original[Symbol.dispose]();
    expect(disposed).toBe(false);
    dup1[Symbol.dispose]();
    expect(disposed).toBe(false);
    dup2[Symbol.dispose]();
    expect(disposed).toBe(true);
  });

  it("makes disposal idempotent - duplicate dispose calls don't affect refcount", () => {
    let disposed = false;
    class DisposableTarget extends RpcTarget {
      [Symbol.dispose]() {
        disposed = true;
      }
    }
    const original = new RpcStub(new DisposableTarget());
    const dup1 = original.dup();
    dup1[Symbol.dispose]();
    dup1[Symbol.dispose]();
    expect(disposed).toBe(false);
    original[Symbol.dispose]();
    expect(disposed).toBe(true);
  });
});

describe("constructing RpcPromise from a promise", () => {
  it("queues calls made before resolution and delivers them in order", async () => {
    const calls: number[] = [];
    class Recorder extends RpcTarget {
      record(i: number) {
        calls.push(i);
        return i;
      }
    }
    let resolve!: (value: Recorder) => void;
    using stub = new RpcPromise(new Promise<Recorder>((settle) => (resolve = settle)));
    const results = [stub.record(1), stub.record(2), stub.record(3)];
    expect(calls).toStrictEqual([]);
    resolve(new Recorder());
    expect(await Promise.all(results)).toStrictEqual([1, 2, 3]);
    expect(calls).toStrictEqual([1, 2, 3]);
  });

  it("reports rejection to queued calls, await, and onRpcBroken", async () => {
    const error = new Error("nope");
    using stub = new RpcPromise<any>(Promise.reject(error));
    const broken: unknown[] = [];
    stub.onRpcBroken((err: unknown) => broken.push(err));
    await expect(() => stub.increment()).rejects.toThrow("nope");
    await expect(Promise.resolve(stub)).rejects.toThrow("nope");
    expect(broken).toStrictEqual([error]);
  });

  it("does not report an unhandled rejection for an unused promise", async () => {
    new RpcPromise(Promise.reject(new Error("ignored")));
    await pumpMicrotasks();
  });

  it("does not report an unhandled rejection for a disposed, unawaited queued call", async () => {
    using stub = new RpcPromise<any>(Promise.reject(new Error("ignored")));
    using _result = stub.increment();
    await pumpMicrotasks();
  });

  it("does not report an unhandled rejection for a disposed, unawaited map() result", async () => {
    using stub = new RpcPromise<any>(Promise.reject(new Error("ignored")));
    using _result = stub.map((i: any) => i);
    await pumpMicrotasks();
  });

  it("disposes the eventual target when disposed before resolution", async () => {
    let disposed = false;
    class Disposable extends RpcTarget {
      [Symbol.dispose]() {
        disposed = true;
      }
    }
    let resolve!: (value: Disposable) => void;
    const stub = new RpcPromise(new Promise<Disposable>((settle) => (resolve = settle)));
    stub[Symbol.dispose]();
    resolve(new Disposable());
    await pumpMicrotasks();
    expect(disposed).toBe(true);
  });

  it("delivers a call initiated before disposal", async () => {
    let disposed = false;
    class DisposableCounter extends Counter {
      [Symbol.dispose]() {
        disposed = true;
      }
    }
    const stub = new RpcPromise(Promise.resolve(new DisposableCounter(1)));
    await pumpMicrotasks();
    const result = stub.increment(2);
    stub[Symbol.dispose]();
    expect(disposed).toBe(false);
    expect(await result).toBe(3);
    expect(disposed).toBe(true);
  });

  it("does not invoke a local getter when constructed from a property promise", async () => {
    let reads = 0;
    class Gettable extends RpcTarget {
      get prop() {
        ++reads;
        return 42;
      }
    }
    using stub = new RpcStub(new Gettable());
    const source = stub.prop;
    const wrapped = new RpcPromise(source);
    await pumpMicrotasks();
    expect(reads).toBe(0);
    expect(await wrapped).toBe(42);
    expect(await source).toBe(42);
  });

  it("keeps disposal idempotent when constructed from a bare stub", async () => {
    let disposals = 0;
    class Disposable extends RpcTarget {
      [Symbol.dispose]() {
        ++disposals;
      }
    }
    const inner = new RpcStub(new Disposable());
    const outer = new RpcPromise<any>(inner as any);
    inner[Symbol.dispose]();
    outer[Symbol.dispose]();
    await pumpMicrotasks();
    expect(disposals).toBe(1);
  });

  it("resolves when awaited after construction from a bare local stub", async () => {
    using stub = new RpcPromise<any>(new RpcStub(new Counter(1)) as any);
    expect(await stub.increment(2)).toBe(3);
    const resolved = await stub;
    expect(await resolved.increment(3)).toBe(6);
  });
});

// A server of the compatible entry, for the HTTP and WebSocket cases (capnweb's suite starts one
// of its own for them).
let server: Server;
let wss: WebSocketServer;
let host: string;

beforeAll(async () => {
  server = createServer((request, response) => void nodeHttpBatchRpcResponse(request, response, new TestTarget()));
  wss = new WebSocketServer({ server });
  wss.on("connection", (socket) => newWebSocketRpcSession(socket as never, new TestTarget()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of wss.clients) socket.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("HTTP requests", () => {
  it("can perform a batch HTTP request", async () => {
    const cap = newHttpBatchRpcSession<any>(`http://${host}`);
    const promise1 = cap.square(6);
    const counter = cap.makeCounter(2);
    const promise2 = counter.increment(3);
    const promise3 = cap.incrementCounter(counter, 4);
    expect(await Promise.all([promise1, promise2, promise3])).toStrictEqual([36, 5, 9]);
  });

  it("rejects non-POST requests with 405", async () => {
    const response = await fetch(`http://${host}`, { method: "GET" });
    expect(response.status).toBe(405);
    await response.text();
  });
});

describe("WebSockets", () => {
  it("can open a WebSocket connection", async () => {
    const cap = newWebSocketRpcSession<any>(`ws://${host}`);
    expect(await cap.square(5)).toBe(25);
    {
      const counter = cap.makeCounter(2);
      expect(await counter.increment(3)).toBe(5);
    }
    {
      const counter = new Counter(4);
      expect(await cap.incrementCounter(counter, 9)).toBe(13);
    }
    cap[Symbol.dispose]();
  });
});

describe("MessagePorts", () => {
  it("can communicate over MessageChannel", async () => {
    const channel = new MessageChannel();
    newMessagePortRpcSession(channel.port1 as never, new TestTarget());
    using client = newMessagePortRpcSession<any>(channel.port2 as never);
    expect(await client.square(5)).toBe(25);
    const counter = await client.makeCounter(10);
    expect(await counter.increment()).toBe(11);
    expect(await counter.increment(5)).toBe(16);
    expect(await client.incrementCounter(counter, 2)).toBe(18);
  });

  it("handles errors correctly", async () => {
    const channel = new MessageChannel();
    newMessagePortRpcSession(channel.port1 as never, new TestTarget());
    using client = newMessagePortRpcSession<any>(channel.port2 as never);
    await expect(() => client.throwError()).rejects.toThrow("test error");
  });

  it("sends close signal when server stub is disposed", async () => {
    const channel = new MessageChannel();
    const serverStub = newMessagePortRpcSession(channel.port1 as never, new TestTarget());
    using client = newMessagePortRpcSession<any>(channel.port2 as never);
    expect(await client.square(3)).toBe(9);
    const broken = new Promise<void>((_resolve, reject) => client.onRpcBroken(reject));
    serverStub[Symbol.dispose]();
    await expect(() => broken).rejects.toThrow(new Error("Peer closed MessagePort connection."));
  });
});

describe("deserialization and transport correctness", () => {
  it("does not let serialized error properties override Object.prototype members", () => {
    const wire =
      '["error","Error","boom","at test (x:1:1)",' +
      '{"code":"E_TEST","toString":"nope","valueOf":"nope","hasOwnProperty":"nope","toJSON":"nope","__proto__":{"polluted":true}}]';
    const error = deserialize(wire) as Error & Record<string, unknown>;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe("boom");
    expect(Object.hasOwn(error, "code")).toBe(true);
    for (const key of ["toString", "valueOf", "hasOwnProperty", "toJSON", "__proto__"]) expect(Object.hasOwn(error, key)).toBe(false);
    expect(Object.getPrototypeOf(error)).toBe(Error.prototype);
    expect(error.toString()).toBe("Error: boom");
    expect((error as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("does not let an error type name resolve to an Object.prototype member (type confusion)", () => {
    const confused = deserialize('["error","constructor","attacker-payload",null,{"injected":true,"httpStatus":200}]') as Error & Record<string, unknown>;
    expect(confused).toBeInstanceOf(Error);
    expect(confused).not.toBeInstanceOf(String);
    expect(confused.message).toBe("attacker-payload");
    expect(confused.injected).toBe(true);
    expect(confused.httpStatus).toBe(200);
    for (const name of ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__", "isPrototypeOf", "propertyIsEnumerable"]) {
      const error = deserialize(`["error",${JSON.stringify(name)},"msg"]`) as Error;
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toBe("msg");
    }
    expect(deserialize('["error","TypeError","t"]')).toBeInstanceOf(TypeError);
    expect(deserialize('["error","RangeError","r"]')).toBeInstanceOf(RangeError);
  });
});

describe("transport failures", () => {
  const never = () => new Promise<never>(() => {});

  it("propagates async send failures from string transports", async () => {
    const sendError = new Error("send failed");
    const transport: RpcTransport = { send: () => Promise.reject(sendError), receive: never };
    using stub = new RpcSession<any>(transport).getRemoteMain();
    await expect(() => stub.square(1)).rejects.toThrow(sendError);
  });

  it("propagates synchronous send failures from string transports", async () => {
    const sendError = new Error("sync send failed");
    const transport: RpcTransport = {
      send() {
        throw sendError;
      },
      receive: never,
    };
    using stub = new RpcSession<any>(transport).getRemoteMain();
    await expect(() => stub.square(1)).rejects.toThrow(sendError);
  });

  it("propagates synchronous send failures from custom-encoding transports", async () => {
    const sendError = new Error("sync custom send failed");
    const transport: RpcTransportWithCustomEncoding = {
      encodingLevel: "jsonCompatible",
      send() {
        throw sendError;
      },
      receive: never,
    };
    using stub = new RpcSession<any>(transport).getRemoteMain();
    await expect(() => stub.square(1)).rejects.toThrow(sendError);
  });

  it("delivers the unwrapped abort reason to onRpcBroken (not the payload wrapper)", async () => {
    // A client whose transport we write into by hand: the server answers a malformed message with
    // an abort, and the client's onRpcBroken gets the reason itself.
    const toServer: string[] = [];
    const toClient: string[] = [];
    const wakers: Array<() => void> = [];
    const wake = () => wakers.splice(0).forEach((w) => w());
    const end = (inbox: string[], outbox: string[]): RpcTransport => ({
      send(message) {
        outbox.push(message);
        wake();
      },
      async receive() {
        while (inbox.length === 0) await new Promise<void>((resolve) => wakers.push(resolve));
        return inbox.shift()!;
      },
    });
    const client = new RpcSession<any>(end(toClient, toServer));
    new RpcSession(end(toServer, toClient), new TestTarget());
    const captured: unknown[] = [];
    client.getRemoteMain().onRpcBroken((error: unknown) => captured.push(error));
    toServer.push('["not a valid message"]');
    wake();
    await pumpMicrotasks();
    await pumpMicrotasks();
    expect(captured).toHaveLength(1);
    expect(captured[0]).toBeInstanceOf(Error);
    // Documented difference: capnweb's reason says "bad RPC message"; ours names the message.
    expect((captured[0] as Error).message).toMatch(/Unknown message type: not a valid message/);
  });

  it("truncates an over-long WebSocket close reason on a code-point boundary", async () => {
    const MAX_CLOSE_REASON_BYTES = 123;
    const closes: { code: number; reason: string }[] = [];
    let closeThrew = false;
    const listeners: Record<string, Array<(event: any) => void>> = {};
    const fakeSocket = {
      readyState: 1,
      addEventListener(type: string, listener: (event: any) => void) {
        (listeners[type] ??= []).push(listener);
      },
      send() {},
      close(code: number, reason: string) {
        if (new TextEncoder().encode(reason).length > MAX_CLOSE_REASON_BYTES) {
          closeThrew = true;
          throw new Error("close reason too long");
        }
        closes.push({ code, reason });
      },
    };
    newWebSocketRpcSession(fakeSocket);
    // The 2-byte "é" starts at the last byte allowed: it must be dropped whole.
    const reason = "a".repeat(MAX_CLOSE_REASON_BYTES - 1) + "\u00e9";
    for (const listener of listeners.message ?? []) listener({ type: "message", data: JSON.stringify(["abort", reason]) });
    await pumpMicrotasks();
    expect(closeThrew).toBe(false);
    expect(closes).toHaveLength(1);
    expect(closes[0]!.code).toBe(3000);
    expect(new TextEncoder().encode(closes[0]!.reason).length).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
    expect(closes[0]!.reason).not.toContain("\uFFFD");
    expect(closes[0]!.reason).toBe("a".repeat(MAX_CLOSE_REASON_BYTES - 1));
  });
});
