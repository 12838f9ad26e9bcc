// The main interface our server (CapnWeb.serve) offers in the interop suites, shared by the
// capnweb-client and ours-both-ends suites. Capabilities it receives are ours once received, so
// every method that is given one releases it when done.

import * as CapnWeb from "../../src/index.js";

type Remote<T> = CapnWeb.Stub<T>;

/** Something that makes counters: the upstream our server proxies capabilities from. */
export interface UpstreamLike {
  makeCounter(start: number): Cap<{ increment(amount?: number): number }>;
}

/** What our server saw, per connection (the main factory makes one per session). */
export class ServerState {
  received: unknown[] = [];
  countersDisposed = 0;
}

export class Profile extends CapnWeb.Target {
  constructor(private readonly userId: number) {
    super();
  }
  name() {
    return `user-${this.userId}`;
  }
}

export class User extends CapnWeb.Target {
  constructor(private readonly id: number) {
    super();
  }
  profile() {
    return new Profile(this.id);
  }
}

export class Users extends CapnWeb.Target {
  get(id: number) {
    return new User(id);
  }
}

export class Counter extends CapnWeb.Target {
  private readonly calls: number[] = [];
  constructor(
    private count: number,
    private readonly state: ServerState,
  ) {
    super();
  }
  increment(amount = 1) {
    this.count += amount;
    return this.count;
  }
  get value() {
    return this.count;
  }
  record(id: number) {
    this.calls.push(id);
    return id;
  }
  log() {
    return this.calls;
  }
  [Symbol.dispose]() {
    this.state.countersDisposed++;
  }
}

export class OurApi extends CapnWeb.Target {
  private shared: Counter | undefined;
  private subscribers: Array<Remote<(event: string) => string>> = [];
  constructor(
    private readonly state: ServerState,
    /** Where the upstream* methods get capabilities from (another connection). */
    private readonly upstream: () => Remote<UpstreamLike> = () => {
      throw new Error("no upstream");
    },
  ) {
    super();
  }
  square(i: number) {
    return i * i;
  }
  add(a: number, b: number) {
    return a + b;
  }
  users() {
    return new Users();
  }
  echo(value: unknown) {
    this.state.received.push(value);
    return value;
  }
  makeCounter(start: number) {
    return new Counter(start, this.state);
  }
  /** Calls back a Target the capnweb client passed in; we own the stub and release it. */
  async incrementCounter(counter: Remote<{ increment(n: number): number }>, amount: number) {
    try {
      return await counter.increment(amount);
    } finally {
      CapnWeb.release(counter);
    }
  }
  /** Calls back a function the capnweb client passed in. */
  async callFunction(fn: Remote<(i: number) => number>, i: number) {
    try {
      return { result: await fn(i) };
    } finally {
      CapnWeb.release(fn);
    }
  }
  /** Keeps the callback: it is ours until we release it. */
  subscribe(fn: Remote<(event: string) => string>) {
    this.subscribers.push(fn.dup());
  }
  async notify(event: string) {
    return Promise.all(this.subscribers.map((fn) => fn(event)));
  }
  unsubscribeAll() {
    for (const fn of this.subscribers) CapnWeb.release(fn);
    this.subscribers = [];
  }
  /** Calls two callbacks (possibly the same one twice) and gives both back. */
  async callBoth(a: Remote<(x: number) => number>, b: Remote<(x: number) => number>) {
    try {
      return [await a(1), await b(2)];
    } finally {
      CapnWeb.release(a);
      CapnWeb.release(b);
    }
  }
  /** Returns what it was given, capabilities included (dups: the arguments end with the call). */
  bounce(value: unknown) {
    return dupStubs(value);
  }
  /** Releases every capability in what it was given. */
  drop(value: unknown) {
    CapnWeb.release(value);
  }
  generateFibonacci(length: number) {
    const result = [0, 1];
    while (result.length < length) result.push(result[result.length - 1]! + result[result.length - 2]!);
    return result.slice(0, length);
  }
  /** The same Counter every time. */
  sharedCounter() {
    return (this.shared ??= new Counter(0, this.state));
  }
  makeAdder(n: number) {
    return (x: number) => x + n;
  }
  makeLabelledCounter(label: string, start: number) {
    return { label, counter: new Counter(start, this.state) };
  }
  notFound() {
    throw new CapnWeb.Error("not_found", "no such user", { props: { id: 7 } });
  }
  throwType() {
    throw new TypeError("expected a number");
  }
  throwRange() {
    throw Object.assign(new RangeError("index 12 is out of range"), { code: "out_of_range", index: 12 });
  }
  /** Returns the upstream's answer as a promise stub (pipelined through our server). */
  upstreamCounterPromise(start: number) {
    return this.upstream().makeCounter(start);
  }
  /** Awaits the upstream capability, then returns the resolved stub itself. */
  async upstreamCounterResolved(start: number) {
    return await this.upstream().makeCounter(start);
  }
  /** Awaits the upstream capability, then returns it inside an object. */
  async upstreamCounterInObject(start: number) {
    return { counter: await this.upstream().makeCounter(start) };
  }
  async rejectLater() {
    await new Promise((resolve) => setTimeout(resolve, 5));
    throw new CapnWeb.Error("conflict", "try again", { props: { retryAfter: 1.5 } });
  }
}

/** A capability type: what the server returns by reference (callers get stubs of it). */
export type Cap<T> = T & CapnWeb.Target;

export interface CounterApi {
  increment(amount?: number): number;
  readonly value: number;
  record(id: number): number;
  log(): number[];
}

export interface Api {
  square(i: number): number;
  add(a: number, b: number): number;
  users(): Cap<{ get(id: number): Cap<{ profile(): Cap<{ name(): string }> }> }>;
  echo(value: any): any;
  makeCounter(start: number): Cap<CounterApi>;
  incrementCounter(counter: Cap<{ increment(amount: number): number }> | CapnWeb.Stub<Cap<CounterApi>>, amount: number): number;
  callFunction(fn: (i: number) => number, i: number): { result: number };
  subscribe(fn: (event: string) => string): void;
  notify(event: string): string[];
  unsubscribeAll(): void;
  generateFibonacci(length: number): number[];
  callBoth(a: (x: number) => number, b: (x: number) => number): number[];
  bounce(value: any): any;
  drop(value: any): void;
  makeAdder(n: number): (x: number) => number;
  sharedCounter(): Cap<CounterApi>;
  makeLabelledCounter(label: string, start: number): { label: string; counter: Cap<CounterApi> };
  notFound(): void;
  throwType(): void;
  throwRange(): void;
  rejectLater(): void;
  upstreamCounterPromise(start: number): Cap<CounterApi>;
  upstreamCounterResolved(start: number): Cap<CounterApi>;
  upstreamCounterInObject(start: number): { counter: Cap<CounterApi> };
}

/** A copy of `value` whose stubs are dups, for a method that hands its arguments back. */
function dupStubs(value: unknown): unknown {
  if (typeof value === "function" && typeof (value as { dup?: unknown }).dup === "function") return (value as unknown as { dup(): unknown }).dup();
  if (Array.isArray(value)) return value.map(dupStubs);
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, dupStubs(item)]));
  }
  return value;
}
