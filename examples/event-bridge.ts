// The PubSub bridge: the client exports an RpcEventBridge and subscribes it to the server's
// events; the server calls it back as things happen, and the bridge re-publishes each event on a
// local Node EventEmitter, where any part of the application (in the original, a Phoenix
// LiveView) listens by topic without knowing about RPC. Here a server-driven import reports its
// progress on a timer and the client draws a progress bar from the emitter's events; a user update
// reaches a "view" subscribed to `users:42`; after unsubscribing, nothing more arrives.

import { EventEmitter, once } from "node:events";
import * as CapnWeb from "capnweb-otp";

type User = { id: number; name: string };

// ---- what the server calls back -----------------------------------------------------------------

interface EventHandler {
  onEvent(topic: string, payload: unknown): void;
  onUserUpdate(user: User): void;
}

// ---- the server ---------------------------------------------------------------------------------

/** The server's subscribers, shared by every connection. Not a Target: it never travels. */
class EventHub {
  private readonly subscribers = new Map<number, CapnWeb.Stub<EventHandler>>();
  private nextId = 1;

  add(handler: CapnWeb.Stub<EventHandler>): number {
    const id = this.nextId++;
    this.subscribers.set(id, handler);
    return id;
  }

  remove(id: number): boolean {
    const handler = this.subscribers.get(id);
    if (!handler) return false;
    this.subscribers.delete(id);
    CapnWeb.release(handler);
    return true;
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Calls every subscriber and waits for all; a subscriber that fails is dropped. */
  async publish(call: (handler: CapnWeb.Stub<EventHandler>) => PromiseLike<unknown>): Promise<void> {
    const targets = [...this.subscribers];
    const results = await Promise.allSettled(targets.map(([, handler]) => call(handler)));
    results.forEach((result, i) => {
      if (result.status === "rejected") this.remove(targets[i]![0]);
    });
  }
}

const hub = new EventHub();

class Subscription extends CapnWeb.Target {
  constructor(private readonly id: number) {
    super();
  }
  unsubscribe() {
    return hub.remove(this.id);
  }
  /** Released without unsubscribing (or the connection ended): unsubscribe anyway. */
  [Symbol.dispose]() {
    hub.remove(this.id);
  }
}

class Events extends CapnWeb.Target {
  /** Keeps `handler` (the server owns it from now on) until the subscription ends. */
  subscribe(handler: CapnWeb.Stub<EventHandler>) {
    return new Subscription(hub.add(handler));
  }
}

let jobs = 0;

class Jobs extends CapnWeb.Target {
  /** Starts an import and returns at once; the import publishes its progress on a timer. */
  async startImport(fileUrl: string) {
    const jobId = `job-${++jobs}`;
    await hub.publish((handler) => handler.onEvent("import:started", { jobId, fileUrl }));
    let percent = 0;
    const tick = async () => {
      await hub.publish((handler) => handler.onEvent("import:progress", { jobId, percent }));
      if (percent < 100) {
        percent += 20;
        setTimeout(tick, 20);
      } else {
        await hub.publish((handler) => handler.onEvent("import:done", { jobId, imported: 1000 }));
      }
    };
    setTimeout(tick, 20);
    return { jobId };
  }
}

const USERS = new Map<number, User>([[42, { id: 42, name: "Ada" }]]);

class Users extends CapnWeb.Target {
  async rename(id: number, name: string) {
    const user = { ...USERS.get(id)!, name };
    USERS.set(id, user);
    await hub.publish((handler) => handler.onUserUpdate(user));
    return user;
  }
}

class Api extends CapnWeb.Target {
  events() {
    return new Events();
  }
  jobs() {
    return new Jobs();
  }
  users() {
    return new Users();
  }
}

// ---- the client ---------------------------------------------------------------------------------

/** Re-publishes what the server sends on a local EventEmitter: by topic, and all on "rpc:events". */
class RpcEventBridge extends CapnWeb.Target implements EventHandler {
  constructor(private readonly bus: EventEmitter) {
    super();
  }
  onEvent(topic: string, payload: unknown) {
    this.bus.emit(topic, payload);
    this.bus.emit("rpc:events", { topic, payload });
  }
  onUserUpdate(user: User) {
    this.bus.emit(`users:${user.id}`, user);
    this.bus.emit("rpc:events", { topic: `users:${user.id}`, payload: user });
  }
}

async function main() {
  const server = await CapnWeb.serve({ port: 0, main: () => new Api() });
  const api = await CapnWeb.connect<Api>(server.wsUrl);

  // The application's side: listeners on a plain EventEmitter, knowing nothing of RPC.
  const bus = new EventEmitter();
  const seen = new Map<string, number>();
  bus.on("rpc:events", ({ topic }: { topic: string }) => seen.set(topic, (seen.get(topic) ?? 0) + 1));
  bus.on("import:started", ({ jobId, fileUrl }: { jobId: string; fileUrl: string }) => console.log(`${jobId} started: ${fileUrl}`));
  bus.on("import:progress", ({ jobId, percent }: { jobId: string; percent: number }) => {
    const filled = percent / 10;
    console.log(`${jobId} [${"#".repeat(filled)}${".".repeat(10 - filled)}] ${percent}%`);
  });
  bus.on("users:42", (user: User) => console.log(`view of users:42 re-rendered: ${JSON.stringify(user)}`));

  // Export the bridge and subscribe it to the server's events.
  const bridge = CapnWeb.export<EventHandler>(api, new RpcEventBridge(bus), { label: "rpc-event-bridge" });
  const events = api.events();
  const subscription = await events.subscribe(bridge);
  console.log(`subscribed; the server has ${hub.size} subscriber(s)`);

  // A server-driven import: its progress arrives through the bridge, on the server's timer.
  const done = once(bus, "import:done", { signal: AbortSignal.timeout(5_000) });
  const jobsStub = api.jobs();
  const { jobId } = await jobsStub.startImport("https://files.example.com/users.csv");
  const [result] = (await done) as [{ jobId: string; imported: number }];
  console.log(`${result.jobId} done: imported ${result.imported} rows (started as ${jobId})`);

  // A user update, routed by topic to the one view that listens to it.
  const users = api.users();
  await users.rename(42, "Ada Lovelace");

  // After unsubscribing, the server has released the bridge and calls it no more.
  console.log(`unsubscribe() → ${await subscription.unsubscribe()}; the server has ${hub.size} subscriber(s)`);
  await users.rename(42, "Countess of Lovelace");
  console.log(`events seen on rpc:events: ${[...seen].map(([topic, n]) => `${topic}×${n}`).join(", ")}`);

  CapnWeb.release([subscription, events, jobsStub, users, bridge]);
  await waitFor(() => atBaseline(CapnWeb.stats(api)) && atBaseline(server.handlers.stats()));
  console.log(`tables after release: client ${JSON.stringify(CapnWeb.stats(api))}, server ${JSON.stringify(server.handlers.stats())}`);

  CapnWeb.close(api);
  await server.close();
  console.log("done.");
}

/** Only the main object left in the session's tables. */
function atBaseline({ imports, exports }: CapnWeb.SessionStats): boolean {
  return imports === 1 && exports === 1;
}

/** Releases travel asynchronously; waits (briefly) until the peer has processed them. */
async function waitFor(condition: () => boolean, timeoutMs = 1_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
