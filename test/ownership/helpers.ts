// Shared pieces of the ownership suites: the same API implemented twice, once as a real capnweb
// 0.12 server (RpcTarget, capnweb's ownership rules: an argument stub is disposed when the call
// returns unless dup()ed) and once as our server (CapnWeb.Target, our rules: an argument stub
// belongs to the method, which releases it or keeps it), plus the client-side targets the
// scenarios export, and helpers to assert that tables are back at their baseline.

import diagnostics from "node:diagnostics_channel";
import { RpcTarget, type RpcStub } from "capnweb";
import { expect, vi } from "vitest";
import { WebSocket } from "ws";
import * as CapnWeb from "../../src/index.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

/** Releases travel asynchronously: poll for up to 5 s. */
export const WAIT = { timeout: 5_000, interval: 5 };

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a server saw, per session. */
export class ServerState {
  countersMade = 0;
  countersDisposed = 0;
  cacheLookups = 0;
}

/** The outcome of one call the server made on a capability it held, as plain data. */
export type Outcome = { ok: true; value: unknown } | { ok: false; type: string | undefined; message: string };

async function outcomeOf(call: () => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    const e = error as { type?: unknown; message?: unknown };
    return { ok: false, type: typeof e.type === "string" ? e.type : undefined, message: String(e.message) };
  }
}

// -------------------------------------------------------------------------------------------------
// The capnweb 0.12 server

class CwCounter extends RpcTarget {
  constructor(
    private count: number,
    private readonly state: ServerState,
  ) {
    super();
    state.countersMade++;
  }
  increment(amount = 1) {
    this.count += amount;
    return this.count;
  }
  get value() {
    return this.count;
  }
  [Symbol.dispose]() {
    this.state.countersDisposed++;
  }
}

class CwCache extends RpcTarget {
  constructor(private readonly state: ServerState) {
    super();
  }
  get(id: number) {
    this.state.cacheLookups++;
    return `v${id}`;
  }
}

interface MemberApi {
  onMessage(message: { sender: string; text: string }): unknown;
  onUserJoined(event: { user: string }): unknown;
  onUserLeft(event: { user: string }): unknown;
}

/** A chat room shared by every session of a server (plain class: it never travels). */
class CwRoom {
  // (typed loosely: capnweb's RpcStub<T> types are too deep to emit declarations for)
  readonly members: Map<string, any> = new Map();
  async broadcast(call: (member: RpcStub<MemberApi>) => Promise<unknown>, except?: string) {
    await Promise.allSettled([...this.members].filter(([user]) => user !== except).map(([, member]) => call(member)));
  }
  remove(user: string): boolean {
    const member = this.members.get(user);
    if (!member) return false;
    this.members.delete(user);
    member[Symbol.dispose]();
    return true;
  }
}
const cwRooms = new Map<string, CwRoom>();

class CwMembership extends RpcTarget {
  constructor(
    private readonly room: CwRoom,
    private readonly user: string,
  ) {
    super();
  }
  members() {
    return [...this.room.members.keys()];
  }
  async send(text: string) {
    await this.room.broadcast((member) => member.onMessage({ sender: this.user, text }) as Promise<unknown>);
    return this.room.members.size;
  }
  async leave() {
    if (this.room.remove(this.user)) await this.room.broadcast((member) => member.onUserLeft({ user: this.user }) as Promise<unknown>);
  }
}

export class CwApi extends RpcTarget {
  private held: any[] = [];
  constructor(readonly state: ServerState) {
    super();
  }
  square(i: number) {
    return i * i;
  }
  makeCounter(start: number) {
    return new CwCounter(start, this.state);
  }
  cache() {
    return new CwCache(this.state);
  }
  /** A counter, after a delay (for answers that arrive late). */
  async slowCounter(ms: number) {
    await sleep(ms);
    return new CwCounter(0, this.state);
  }
  ids(n: number) {
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  /** Calls `fn` n times: half one after the other, half all at once. */
  async callMany(fn: RpcStub<(i: number) => number>, n: number) {
    const results: unknown[] = [];
    const half = Math.floor(n / 2);
    for (let i = 0; i < half; i++) results.push(await fn(i));
    results.push(...(await Promise.all(Array.from({ length: n - half }, (_, j) => fn(half + j)))));
    return results;
  }
  /** Streams every item into the collector without waiting, then asks it for its count. */
  async streamInto(collector: RpcStub<{ onItem(item: unknown): unknown; onDone(): number }>, items: unknown[]) {
    const sent = items.map((item) => collector.onItem(item));
    const count = await collector.onDone();
    await Promise.all(sent);
    return { streamed: items.length, count };
  }
  /** Joins a room: the room keeps a dup of `member` until the user leaves. */
  async join(roomId: string, user: string, member: RpcStub<MemberApi>) {
    let room = cwRooms.get(roomId);
    if (!room) cwRooms.set(roomId, (room = new CwRoom()));
    await room.broadcast((other) => other.onUserJoined({ user }) as Promise<unknown>);
    room.members.set(user, member.dup());
    return new CwMembership(room, user);
  }
  /** Keeps a capability beyond the call. */
  hold(cap: any) {
    this.held.push(cap.dup());
    return this.held.length;
  }
  /** Calls `method` on every held capability and reports each outcome. */
  async callHeld(method: string, ...args: unknown[]): Promise<Outcome[]> {
    return Promise.all(this.held.map((cap) => outcomeOf(() => (method ? cap[method](...args) : cap(...args)))));
  }
  /** Releases the oldest held capability only. */
  dropFirst() {
    const first = this.held.shift();
    first?.[Symbol.dispose]();
    return this.held.length;
  }
  dropHeld() {
    for (const cap of this.held) cap[Symbol.dispose]();
    const n = this.held.length;
    this.held = [];
    return n;
  }
  /** Gives the target `n` counters (one call each), then asks it to fetch one itself. */
  async feed(cb: RpcStub<{ take(counter: unknown): unknown; fetch(): unknown }>, n: number) {
    for (let i = 0; i < n; i++) await cb.take(new CwCounter(i, this.state));
    return await cb.fetch();
  }
  /** Calls `cap.method(...args)` once and reports the outcome. */
  async poke(cap: any, method: string, ...args: unknown[]): Promise<Outcome> {
    return outcomeOf(() => (method ? cap[method](...args) : cap(...args)));
  }
}

// -------------------------------------------------------------------------------------------------
// Our server (CapnWeb.serve): same API, our ownership rules

type Remote<T> = CapnWeb.Stub<T>;

class OurCounter extends CapnWeb.Target {
  constructor(
    private count: number,
    private readonly state: ServerState,
  ) {
    super();
    state.countersMade++;
  }
  increment(amount = 1) {
    this.count += amount;
    return this.count;
  }
  get value() {
    return this.count;
  }
  [Symbol.dispose]() {
    this.state.countersDisposed++;
  }
}

class OurCache extends CapnWeb.Target {
  constructor(private readonly state: ServerState) {
    super();
  }
  get(id: number) {
    this.state.cacheLookups++;
    return `v${id}`;
  }
}

class OurRoom {
  readonly members = new Map<string, Remote<MemberApi>>();
  async broadcast(call: (member: Remote<MemberApi>) => PromiseLike<unknown>, except?: string) {
    await Promise.allSettled([...this.members].filter(([user]) => user !== except).map(([, member]) => call(member)));
  }
  remove(user: string): boolean {
    const member = this.members.get(user);
    if (!member) return false;
    this.members.delete(user);
    CapnWeb.release(member);
    return true;
  }
}
const ourRooms = new Map<string, OurRoom>();

class OurMembership extends CapnWeb.Target {
  constructor(
    private readonly room: OurRoom,
    private readonly user: string,
  ) {
    super();
  }
  members() {
    return [...this.room.members.keys()];
  }
  async send(text: string) {
    await this.room.broadcast((member) => member.onMessage({ sender: this.user, text }));
    return this.room.members.size;
  }
  async leave() {
    if (this.room.remove(this.user)) await this.room.broadcast((member) => member.onUserLeft({ user: this.user }));
  }
}

export class OurLeakApi extends CapnWeb.Target {
  private held: Array<Remote<any>> = [];
  constructor(readonly state: ServerState) {
    super();
  }
  square(i: number) {
    return i * i;
  }
  makeCounter(start: number) {
    return new OurCounter(start, this.state);
  }
  cache() {
    return new OurCache(this.state);
  }
  async slowCounter(ms: number) {
    await sleep(ms);
    return new OurCounter(0, this.state);
  }
  ids(n: number) {
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  async callMany(fn: Remote<(i: number) => number>, n: number) {
    try {
      const results: unknown[] = [];
      const half = Math.floor(n / 2);
      for (let i = 0; i < half; i++) results.push(await fn(i));
      results.push(...(await Promise.all(Array.from({ length: n - half }, (_, j) => fn(half + j)))));
      return results;
    } finally {
      CapnWeb.release(fn);
    }
  }
  async streamInto(collector: Remote<{ onItem(item: unknown): unknown; onDone(): number }>, items: unknown[]) {
    try {
      const sent = items.map((item) => collector.onItem(item));
      const count = await collector.onDone();
      await Promise.all(sent);
      return { streamed: items.length, count };
    } finally {
      CapnWeb.release(collector);
    }
  }
  /** The room keeps `member` (ours now) until the user leaves. */
  async join(roomId: string, user: string, member: Remote<MemberApi>) {
    let room = ourRooms.get(roomId);
    if (!room) ourRooms.set(roomId, (room = new OurRoom()));
    await room.broadcast((other) => other.onUserJoined({ user }));
    room.members.set(user, member);
    return new OurMembership(room, user);
  }
  hold(cap: Remote<any>) {
    this.held.push(cap);
    return this.held.length;
  }
  async callHeld(method: string, ...args: unknown[]): Promise<Outcome[]> {
    return Promise.all(this.held.map((cap) => outcomeOf(() => (method ? cap[method](...args) : cap(...args)))));
  }
  dropFirst() {
    CapnWeb.release(this.held.shift());
    return this.held.length;
  }
  dropHeld() {
    CapnWeb.release(this.held);
    const n = this.held.length;
    this.held = [];
    return n;
  }
  async feed(cb: Remote<{ take(counter: unknown): unknown; fetch(): unknown }>, n: number) {
    try {
      for (let i = 0; i < n; i++) await cb.take(new OurCounter(i, this.state));
      return await cb.fetch();
    } finally {
      CapnWeb.release(cb);
    }
  }
  async poke(cap: Remote<any>, method: string, ...args: unknown[]): Promise<Outcome> {
    try {
      return await outcomeOf(() => (method ? cap[method](...args) : cap(...args)));
    } finally {
      CapnWeb.release(cap);
    }
  }
}

// -------------------------------------------------------------------------------------------------
// What the client sees

export type Cap<T> = T & CapnWeb.Target;

export interface CounterApi {
  increment(amount?: number): number;
  readonly value: number;
}

export interface LeakApi {
  square(i: number): number;
  makeCounter(start: number): Cap<CounterApi>;
  cache(): Cap<{ get(id: number): string }>;
  slowCounter(ms: number): Cap<CounterApi>;
  ids(n: number): number[];
  callMany(fn: any, n: number): unknown[];
  streamInto(collector: any, items: unknown[]): { streamed: number; count: number };
  join(roomId: string, user: string, member: any): Cap<{ members(): string[]; send(text: string): number; leave(): void }>;
  hold(cap: any): number;
  callHeld(method: string, ...args: unknown[]): Outcome[];
  dropFirst(): number;
  dropHeld(): number;
  feed(cb: any, n: number): unknown;
  poke(cap: any, method: string, ...args: unknown[]): Outcome;
}

/** A stateful chat client (the server calls it back). */
export type ChatSeen = { lines: string[] };
export interface ChatClient {
  onMessage(message: { sender: string; text: string }): null;
  onUserJoined(event: { user: string }): null;
  onUserLeft(event: { user: string }): null;
}
export const chatClient = () =>
  CapnWeb.target<ChatSeen, ChatClient>({
    init: () => ({ lines: [] }),
    handlers: {
      onMessage: ([{ sender, text }], state) => ({ reply: null, state: { lines: [...state.lines, `${sender}: ${text}`] } }),
      onUserJoined: ([{ user }], state) => ({ reply: null, state: { lines: [...state.lines, `+${user}`] } }),
      onUserLeft: ([{ user }], state) => ({ reply: null, state: { lines: [...state.lines, `-${user}`] } }),
    },
  });

/** The StreamCollector of the original: items in arrival order, a count on done. */
export type CollectorState = { items: unknown[]; count: number; done: boolean };
export const streamCollector = () =>
  CapnWeb.target<CollectorState>({
    init: () => ({ items: [], count: 0, done: false }),
    handlers: {
      onItem: async ([item], state) => {
        // An asynchronous handler: the mailbox must still keep arrival order.
        if (state.count % 3 === 0) await sleep(1);
        return { reply: null, state: { ...state, items: [...state.items, item], count: state.count + 1 } };
      },
      onDone: (_args, state) => ({ reply: state.count, state: { ...state, done: true } }),
    },
  });

/** Every `["release", id, n]` our side sends, as reported on the telemetry channel. */
export function recordReleases(): { events: CapnWeb.ReleaseEvent[]; stop(): void } {
  const events: CapnWeb.ReleaseEvent[] = [];
  const listener = (message: unknown) => events.push(message as CapnWeb.ReleaseEvent);
  diagnostics.subscribe("capnweb:release:sent", listener);
  return { events, stop: () => diagnostics.unsubscribe("capnweb:release:sent", listener) };
}

/** Waits until `stats()` equals `expected`. */
export async function expectStats(stats: () => unknown, expected: unknown): Promise<void> {
  await vi.waitFor(() => expect(stats()).toEqual(expected), WAIT);
}
