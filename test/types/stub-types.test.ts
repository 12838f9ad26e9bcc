// Static types of stubs. The checks are done by the compiler (`tsc --noEmit` over test/): lines
// marked `@ts-expect-error` must NOT compile, `expectTypeOf` asserts the types that must. The
// functions holding them are type-checked but never called; vitest runs only the wrappers.

import { describe, expect, expectTypeOf, it } from "vitest";
import * as CapnWeb from "../../src/index.js";

interface Profile extends CapnWeb.Target {
  name(): string;
}
interface User extends CapnWeb.Target {
  profile(): Profile;
}
interface Users extends CapnWeb.Target {
  get(id: number): User;
}
interface Counter extends CapnWeb.Target {
  increment(by?: number): number;
  readonly value: number;
}
interface Api {
  users(): Users;
  square(i: number): number;
  makeCounter(n: number): Counter;
  friendIds(): number[];
  onEvent(cb: (e: { n: number }) => void): void;
  profileData(): { id: number; tags: string[]; when: Date };
  makeAdder(n: number): (x: number) => number;
  asyncSquare(i: number): Promise<number>;
  maybe(): number | null;
}

/** Never called: the compiler checks its body. */
async function pipelines(api: CapnWeb.Stub<Api>) {
  // api.users().get(123).profile().name() is typed end to end.
  const pipeline = api.users().get(123).profile().name();
  expectTypeOf(pipeline).resolves.toEqualTypeOf<string>();
  const name = await api.users().get(123).profile().name();
  expectTypeOf(name).toEqualTypeOf<string>();

  // Plain data.
  expectTypeOf(await api.square(3)).toEqualTypeOf<number>();
  expectTypeOf(await api.friendIds()).toEqualTypeOf<number[]>();
  expectTypeOf(await api.asyncSquare(3)).toEqualTypeOf<number>();
  expectTypeOf(await api.maybe()).toEqualTypeOf<number | null>();
  expectTypeOf(await api.profileData()).toEqualTypeOf<{ id: number; tags: string[]; when: Date }>();
  // Pipelining into data: a property of a promised object is a promise of that property.
  expectTypeOf(api.profileData().id).resolves.toEqualTypeOf<number>();
  expectTypeOf(api.profileData().tags).resolves.toEqualTypeOf<string[]>();

  // A promised result can be passed where its value is expected (pipelined argument).
  expectTypeOf(await api.square(api.square(2))).toEqualTypeOf<number>();
}

async function capabilities(api: CapnWeb.Stub<Api>) {
  // Awaiting api.makeCounter(1) gives a Stub<Counter>.
  const counter = await api.makeCounter(1);
  expectTypeOf(counter).toEqualTypeOf<CapnWeb.Stub<Counter>>();
  expectTypeOf(await counter.increment(2)).toEqualTypeOf<number>();
  expectTypeOf(await counter.increment()).toEqualTypeOf<number>();
  expectTypeOf(counter.value).resolves.toEqualTypeOf<number>();
  expectTypeOf(counter.dup()).toEqualTypeOf<CapnWeb.Stub<Counter>>();
  expectTypeOf(counter[Symbol.dispose]).toEqualTypeOf<() => void>();
  // A stub of a capability can be passed on, and pipelined on before it resolves.
  expectTypeOf(api.makeCounter(1).increment(5)).resolves.toEqualTypeOf<number>();
  // A returned function is a callable stub.
  const adder = await api.makeAdder(2);
  // (Mutual assignability: expect-type's strict equality does not see through the intersection of
  // call signatures that a callable stub is.)
  expectTypeOf(adder).toMatchTypeOf<CapnWeb.Stub<(x: number) => number>>();
  expectTypeOf<CapnWeb.Stub<(x: number) => number>>().toMatchTypeOf(adder);
  // @ts-expect-error: a callable stub checks its arguments
  adder("forty");
  expectTypeOf(adder(40)).resolves.toEqualTypeOf<number>();
  expectTypeOf(api.makeAdder(2)(40)).resolves.toEqualTypeOf<number>();
}

function misuse(api: CapnWeb.Stub<Api>) {
  // @ts-expect-error: a string where a number is expected
  api.square("x");
  // @ts-expect-error: a missing argument
  api.square();
  // @ts-expect-error: too many arguments
  api.square(1, 2);
  // @ts-expect-error: the wrong type deeper in a pipeline
  api.users().get("123");
  // @ts-expect-error: no such method
  api.nonexistent();
  // @ts-expect-error: no such method deeper in a pipeline
  api.users().get(1).profile().age();
  // @ts-expect-error: a callback of the wrong shape
  api.onEvent((e: string) => void e);
  // @ts-expect-error: the result of the wrong type passed as an argument
  api.square(api.users().get(1).profile().name());
  // @ts-expect-error: a stub's methods are read-only
  api.square = () => 1;
}

function callbacks(api: CapnWeb.Stub<Api>) {
  // The callback's parameter type is inferred.
  api.onEvent((e) => {
    expectTypeOf(e).toEqualTypeOf<{ n: number }>();
    expectTypeOf(e.n).toEqualTypeOf<number>();
  });
}

async function maps(api: CapnWeb.Stub<Api>) {
  // api.friendIds().map((id) => api.square(id)) awaits to number[].
  const squares = api.friendIds().map((id) => {
    expectTypeOf(id).resolves.toEqualTypeOf<number>();
    return api.square(id);
  });
  expectTypeOf(await squares).toEqualTypeOf<number[]>();
  expectTypeOf(await CapnWeb.map(api.friendIds(), (id) => api.square(id))).toEqualTypeOf<number[]>();
  // Through a captured capability, and producing objects.
  const users = api.users();
  const names = api.friendIds().map((id) => users.get(id).profile().name());
  expectTypeOf(await names).toEqualTypeOf<string[]>();
  // map over a non-array value applies to the value itself.
  const one = api.square(2).map((n) => api.square(n));
  expectTypeOf(await one).toEqualTypeOf<number>();
}

async function results(api: CapnWeb.Stub<Api>) {
  // CapnWeb.await(p) returns the Result type with the right value type.
  const r = await CapnWeb.await(api.square(2));
  expectTypeOf(r).toEqualTypeOf<CapnWeb.Result<number>>();
  if (r.ok) expectTypeOf(r.value).toEqualTypeOf<number>();
  else expectTypeOf(r.error).toEqualTypeOf<CapnWeb.Error>();
  expectTypeOf(CapnWeb.await(api.users().get(1).profile().name(), { timeout: 10 })).resolves.toEqualTypeOf<CapnWeb.Result<string>>();
  const counter = await CapnWeb.await(api.makeCounter(1));
  if (counter.ok) expectTypeOf(counter.value).toEqualTypeOf<CapnWeb.Stub<Counter>>();

  // CapnWeb.batch([api.square(1), api.users().get(1).profile().name()]) value type is [number, string].
  const b = await CapnWeb.batch([api.square(1), api.users().get(1).profile().name()]);
  if (b.ok) expectTypeOf(b.value).toEqualTypeOf<[number, string]>();
  else expectTypeOf(b.error).toEqualTypeOf<CapnWeb.Error>();
  const three = await CapnWeb.batch([api.square(1), api.friendIds(), api.makeCounter(2)]);
  if (three.ok) expectTypeOf(three.value).toEqualTypeOf<[number, number[], CapnWeb.Stub<Counter>]>();

  // rescue: the value type or the fallback's.
  expectTypeOf(CapnWeb.rescue(api.users().get(1).profile().name(), () => null)).toEqualTypeOf<Promise<string | null>>();
  expectTypeOf(CapnWeb.rescue(api.square(1), (err) => err.type)).toEqualTypeOf<Promise<number | CapnWeb.ErrorType>>();
}

async function connections() {
  const api = await CapnWeb.connect<Api>("ws://127.0.0.1:1/");
  expectTypeOf(api).toEqualTypeOf<CapnWeb.Stub<Api>>();
  // A connection without a type offers no methods until it is given one...
  const untyped = await CapnWeb.connect("ws://127.0.0.1:1/");
  expectTypeOf(untyped).toEqualTypeOf<CapnWeb.Stub<unknown>>();
  // @ts-expect-error: no interface, no methods
  untyped.square(2);
  // ...and an application that wants no checks says so: Stub<any> is `any`.
  expectTypeOf<CapnWeb.Stub<any>>().toBeAny();
  expectTypeOf(await CapnWeb.connect<any>("ws://127.0.0.1:1/")).toBeAny();
  expectTypeOf(CapnWeb.session<Api>("api")).toEqualTypeOf<CapnWeb.Stub<Api>>();
}

function errors(error: CapnWeb.Error) {
  expectTypeOf(error).toMatchTypeOf<Error>();
  expectTypeOf(error.type).toEqualTypeOf<CapnWeb.ErrorType>();
  // Known types are offered; any other string is accepted too.
  const known: CapnWeb.ErrorType = "timeout";
  const custom: CapnWeb.ErrorType = "quota_exceeded";
  return [known, custom];
}

describe("stub types (checked by tsc)", () => {
  it("the type-level checks compile", () => {
    for (const fn of [pipelines, capabilities, misuse, callbacks, maps, results, connections, errors]) {
      expect(typeof fn).toBe("function");
    }
  });

  it("Stub<Api> methods and Result narrowing (positive checks at the type level)", () => {
    expectTypeOf<CapnWeb.Result<number>>().toEqualTypeOf<{ ok: true; value: number } | { ok: false; error: CapnWeb.Error }>();
    expectTypeOf<CapnWeb.Resolved<Counter>>().toEqualTypeOf<CapnWeb.Stub<Counter>>();
    expectTypeOf<CapnWeb.Resolved<{ a: number; c: Counter }>>().toEqualTypeOf<{ a: number; c: CapnWeb.Stub<Counter> }>();
    expectTypeOf<CapnWeb.Stub<Api>["square"]>().parameter(0).toMatchTypeOf<number | CapnWeb.Pipelined<number>>();
  });
});
