// Shared pieces of the feature suites: the API our server offers (and the same API as a capnweb
// RpcTarget, for the interop cases), its TypeScript interface, and small helpers to observe
// frames, count HTTP batch POSTs and wait for tables to return to their baseline.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { RpcTarget } from "capnweb";
import { afterAll, afterEach, beforeAll, expect, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { Users as InteropUsers } from "../interop/our-api.js";
import { type CapnwebServer, startCapnwebServer } from "../interop/helpers.js";

export const WAIT = { timeout: 3000, interval: 5 };

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What one server (per connection) saw. */
export class ServerState {
  countersDisposed = 0;
  slowStarted = 0;
  slowFinished = 0;
}

/** A thrower with a recognisable name, so that its frames can be searched for in stacks. */
function serverSideThrowerXyzzy(): never {
  throw new TypeError("bad input");
}

/** The interop suites' users, with one more rule: user 999 does not exist. */
export class Users extends InteropUsers {
  override get(id: number) {
    if (id === 999) throw Object.assign(new Error(`no user ${id}`), { type: "not_found", id });
    return super.get(id);
  }
}

export class Counter extends CapnWeb.Target {
  constructor(
    private count: number,
    private readonly state: ServerState,
  ) {
    super();
  }
  increment(by = 1) {
    this.count += by;
    return this.count;
  }
  [Symbol.dispose]() {
    this.state.countersDisposed++;
  }
}

export class Cache extends CapnWeb.Target {
  lookup(id: number) {
    return `cached-${id}`;
  }
}

export class FeatureApi extends CapnWeb.Target {
  constructor(readonly state: ServerState = new ServerState()) {
    super();
  }
  square(i: number) {
    return i * i;
  }
  add(a: number, b: number) {
    return a + b;
  }
  echo(value: unknown) {
    return value;
  }
  users() {
    return new Users();
  }
  makeCounter(start: number) {
    return new Counter(start, this.state);
  }
  friendIds() {
    return [1, 2, 3];
  }
  matrix() {
    return [
      [1, 2],
      [3, 4],
    ];
  }
  /** Ids of which one (999) has no user. */
  someIds() {
    return [1, 999, 3];
  }
  profileInfo() {
    return { id: 5, label: "five" };
  }
  nothing() {
    return null;
  }
  cache() {
    return new Cache();
  }
  /** Resolves with `value` after `ms`. */
  async slow(ms: number, value: unknown = "late") {
    this.state.slowStarted++;
    await sleep(ms);
    this.state.slowFinished++;
    return value;
  }
  /** Returns a Counter (a capability) after `ms`. */
  async slowCounter(ms: number) {
    this.state.slowStarted++;
    await sleep(ms);
    this.state.slowFinished++;
    return new Counter(0, this.state);
  }
  throwTyped() {
    serverSideThrowerXyzzy();
  }
  throwWithProps() {
    throw Object.assign(new RangeError("index 12 is out of range"), { index: 12, detail: { max: 10 } });
  }
  throwWithType() {
    throw Object.assign(new Error("over quota"), { type: "quota_exceeded", limit: 3 });
  }
  throwWithCode() {
    throw Object.assign(new Error("busy"), { code: "E_BUSY" });
  }
  throwWithNonStringType() {
    throw Object.assign(new Error("numeric type"), { type: 42 });
  }
  throwWithCause() {
    throw new Error("outer", { cause: new RangeError("inner") });
  }
  throwSecret() {
    throw new Error("password=hunter2 leaked in message");
  }
}

/** The client's view of FeatureApi. */
export type Cap<T> = T & CapnWeb.Target;
export interface CounterApi {
  increment(by?: number): number;
}
export interface Api {
  square(i: number): number;
  add(a: number, b: number): number;
  echo(value: any): any;
  users(): Cap<{ get(id: number): Cap<{ profile(): Cap<{ name(): string }> }> }>;
  makeCounter(start: number): Cap<CounterApi>;
  friendIds(): number[];
  matrix(): number[][];
  someIds(): number[];
  profileInfo(): { id: number; label: string };
  nothing(): number | null;
  cache(): Cap<{ lookup(id: number): string }>;
  slow(ms: number, value?: unknown): unknown;
  slowCounter(ms: number): Cap<CounterApi>;
  throwTyped(): void;
  throwWithProps(): void;
  throwWithType(): void;
  throwWithCode(): void;
  throwWithNonStringType(): void;
  throwWithCause(): void;
  throwSecret(): void;
}

// -------------------------------------------------------------------------------------------------
// The same API as a capnweb RpcTarget (for capnweb's server)

class CwProfile extends RpcTarget {
  constructor(private readonly id: number) {
    super();
  }
  name() {
    return `user-${this.id}`;
  }
}
class CwUser extends RpcTarget {
  constructor(private readonly id: number) {
    super();
  }
  profile() {
    return new CwProfile(this.id);
  }
}
class CwUsers extends RpcTarget {
  get(id: number) {
    if (id === 999) throw Object.assign(new Error(`no user ${id}`), { type: "not_found", id });
    return new CwUser(id);
  }
}
class CwCache extends RpcTarget {
  lookup(id: number) {
    return `cached-${id}`;
  }
}
export class CapnwebFeatureApi extends RpcTarget {
  square(i: number) {
    return i * i;
  }
  users() {
    return new CwUsers();
  }
  friendIds() {
    return [1, 2, 3];
  }
  matrix() {
    return [
      [1, 2],
      [3, 4],
    ];
  }
  someIds() {
    return [1, 999, 3];
  }
  profileInfo() {
    return { id: 5, label: "five" };
  }
  nothing() {
    return null;
  }
  cache() {
    return new CwCache();
  }
  throwWithCause() {
    throw new Error("outer", { cause: new RangeError("inner") });
  }
  throwWithType() {
    throw Object.assign(new Error("over quota"), { type: "quota_exceeded", limit: 3 });
  }
}

// -------------------------------------------------------------------------------------------------
// Servers

export interface OurServer {
  server: CapnWeb.Server;
  states: ServerState[];
  lastState(): ServerState;
}

/** Our server with a FeatureApi per connection. */
export async function startOurServer(options: Partial<CapnWeb.ServeOptions> = {}): Promise<OurServer> {
  const states: ServerState[] = [];
  const server = await CapnWeb.serve({
    port: 0,
    ...options,
    main: () => {
      const state = new ServerState();
      states.push(state);
      return new FeatureApi(state);
    },
  });
  return { server, states, lastState: () => states[states.length - 1]! };
}

/** Our handlers behind a node:http server of our own that counts the HTTP batch POSTs. */
/**
 * Our server and capnweb's, both offering the feature API, started for the whole test file;
 * the roots that `open` returns are closed after each test.
 */
export function featureServers() {
  let ours: OurServer | undefined;
  let theirs: CapnwebServer | undefined;
  const opened: unknown[] = [];
  beforeAll(async () => {
    ours = await startOurServer();
    theirs = await startCapnwebServer(() => new CapnwebFeatureApi());
  });
  afterEach(() => {
    for (const api of opened.splice(0)) CapnWeb.close(api);
  });
  afterAll(async () => {
    await ours?.server.close();
    await theirs?.close();
  });
  return {
    get ours(): OurServer {
      return ours!;
    },
    get theirs(): CapnwebServer {
      return theirs!;
    },
    /** Both servers over both transports, for describe.each. */
    endpoints: [
      ["our server over WebSocket", () => ours!.server.wsUrl],
      ["our server over HTTP batch", () => ours!.server.url],
      ["capnweb's server over WebSocket", () => theirs!.wsUrl],
      ["capnweb's server over HTTP batch", () => theirs!.url],
    ] as [string, () => string][],
    async open(url: string): Promise<CapnWeb.Stub<Api>> {
      const api = await CapnWeb.connect<Api>(url);
      opened.push(api);
      return api;
    },
  };
}

export async function startCountingServer(): Promise<{ url: string; posts: () => number; handlers: CapnWeb.CapnWebHandlers; close(): Promise<void> }> {
  const handlers = new CapnWeb.CapnWebHandlers({ main: () => new FeatureApi() });
  let posts = 0;
  const server = http.createServer((request, response) => {
    if (request.method === "POST") posts++;
    handlers.handleRequest(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    posts: () => posts,
    handlers,
    async close() {
      await handlers.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// -------------------------------------------------------------------------------------------------
// Observing a client connection (WebSocket)

export interface FrameLog {
  /** "out:push", "in:resolve", ... in the order the client sent or received them. */
  kinds: string[];
  texts: { dir: "in" | "out"; text: string }[];
}

/** Records every frame the client connection behind `root` sends and receives from now on. */
export function recordClientFrames(root: unknown): FrameLog {
  const connection = CapnWeb.connectionOf(root);
  if (!connection) throw new Error("not a WebSocket root stub");
  const log: FrameLog = { kinds: [], texts: [] };
  const transport = connection.transport as { send(frame: string): void };
  const send = transport.send.bind(transport);
  transport.send = (frame: string) => {
    log.kinds.push(`out:${(JSON.parse(frame) as unknown[])[0]}`);
    log.texts.push({ dir: "out", text: frame });
    send(frame);
  };
  const session = connection.session;
  const receive = session.receive.bind(session);
  session.receive = (frame: string) => {
    log.kinds.push(`in:${(JSON.parse(frame) as unknown[])[0]}`);
    log.texts.push({ dir: "in", text: frame });
    receive(frame);
  };
  return log;
}

/** Whether every pull left before the first answer arrived: one round trip. */
export function pullsInOneRoundTrip(kinds: string[]): { pulls: number; firstAnswer: number; lastPull: number } {
  const lastPull = kinds.lastIndexOf("out:pull");
  const firstAnswer = kinds.findIndex((k) => k === "in:resolve" || k === "in:reject");
  return { pulls: kinds.filter((k) => k === "out:pull").length, firstAnswer, lastPull };
}

/** The only open session of our server (WebSocket). */
export function onlyServerSession(server: CapnWeb.Server): CapnWeb.RpcSession {
  const sessions = [...server.handlers.sessions];
  if (sessions.length !== 1) throw new Error(`expected one server session, found ${sessions.length}`);
  return sessions[0]!.session;
}

/** Waits until our server and the client are back to the baseline of one WebSocket session. */
export async function expectBaseline(server: CapnWeb.Server, api?: unknown): Promise<void> {
  await vi.waitFor(() => {
    expect(server.handlers.stats()).toEqual({ sessions: 1, imports: 1, exports: 1 });
    if (api !== undefined) expect(CapnWeb.stats(api)).toEqual({ imports: 1, exports: 1 });
  }, WAIT);
}

// -------------------------------------------------------------------------------------------------
// Logging

/** A Writable that keeps every pino line, parsed. */
export class LineCollector extends Writable {
  readonly lines: Record<string, any>[] = [];
  private partial = "";
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.partial += chunk.toString();
    let newline: number;
    while ((newline = this.partial.indexOf("\n")) >= 0) {
      const line = this.partial.slice(0, newline);
      this.partial = this.partial.slice(newline + 1);
      if (line.trim() !== "") this.lines.push(JSON.parse(line) as Record<string, any>);
    }
    callback();
  }
}
