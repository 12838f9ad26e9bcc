// The original description's complete example, in TypeScript: an application's supervision tree
// with a registry and a dynamic supervisor of per-user sessions, a supervised API session, and an
// RpcEventBridge that re-publishes the server's events on a local EventEmitter (the PubSub of the
// original); a Users module with pipelined, batched and progress-reporting calls. Midway the
// server is killed and started again on the same port: the bridge's subscription is restorable,
// so it resumes from the bridge's cursor (no event lost, none twice), and an import started after
// the reconnect reports its progress through a fresh ImportProgress actor.

import { EventEmitter } from "node:events";
import * as CapnWeb from "capnweb-otp";

// ---- the API the server offers --------------------------------------------------------------------

type User = { id: number; name: string };
type Profile = { bio: string };
type Settings = { theme: string };

interface EventHandler {
  onEvent(event: { seq: number; topic: string; user?: User }): null;
}
interface ProgressHandler {
  onProgress(progress: { current: number; total: number }): null;
  onComplete(result: { imported: number }): null;
}
interface UserRecord extends CapnWeb.Target {
  profile(): Profile;
  settings(): Settings;
  name(): string;
}
interface UsersApi extends CapnWeb.Target {
  get(id: number): UserRecord;
  importBatch(fileUrl: string, reporter: CapnWeb.Stub<ProgressHandler>): { imported: number };
}
interface EventsApi extends CapnWeb.Target {
  subscribe(handler: CapnWeb.Stub<EventHandler>, after: number): { cancel(): boolean };
}
interface Api {
  users(): UsersApi;
  events(): EventsApi;
}

// ---- the server (a stand-in for a Worker), with what outlives its restart ----------------------

const USERS: User[] = [
  { id: 1, name: "Ada Lovelace" },
  { id: 2, name: "Alan Turing" },
  { id: 3, name: "Grace Hopper" },
];

/** The server's event log: what its database would keep across a restart. */
class EventLog {
  readonly events: { seq: number; topic: string; user?: User }[] = [];
  private readonly subscribers = new Set<CapnWeb.Stub<EventHandler>>();

  publish(topic: string, user?: User): void {
    const event = { seq: this.events.length + 1, topic, ...(user ? { user } : {}) };
    this.events.push(event);
    for (const handler of this.subscribers) this.deliver(handler, event);
  }

  subscribe(handler: CapnWeb.Stub<EventHandler>, after: number): () => void {
    for (const event of this.events.slice(after)) this.deliver(handler, event);
    this.subscribers.add(handler);
    return () => {
      if (this.subscribers.delete(handler)) CapnWeb.release(handler);
    };
  }

  private deliver(handler: CapnWeb.Stub<EventHandler>, event: { seq: number; topic: string; user?: User }): void {
    handler.onEvent(event).then(undefined, () => {
      // That subscriber's connection is gone; it subscribes again, from its cursor.
      if (this.subscribers.delete(handler)) CapnWeb.release(handler);
    });
  }
}
const log = new EventLog();

class UserRecordImpl extends CapnWeb.Target {
  constructor(private readonly user: User) {
    super();
  }
  name() {
    return this.user.name;
  }
  profile(): Profile {
    return { bio: `${this.user.name} wrote programs.` };
  }
  settings(): Settings {
    return { theme: "dark" };
  }
}

class UsersImpl extends CapnWeb.Target {
  get(id: number) {
    const user = USERS.find((u) => u.id === id);
    if (!user) throw Object.assign(new Error(`no user ${id}`), { type: "not_found" });
    return new UserRecordImpl(user);
  }
  async importBatch(fileUrl: string, reporter: CapnWeb.Stub<ProgressHandler>) {
    try {
      const total = 4;
      for (let current = 1; current <= total; current++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        await reporter.onProgress({ current, total });
      }
      await reporter.onComplete({ imported: total });
      log.publish(`imported ${fileUrl}`);
      return { imported: total };
    } finally {
      CapnWeb.release(reporter);
    }
  }
}

class Subscription extends CapnWeb.Target {
  constructor(private readonly stop: () => void) {
    super();
  }
  cancel() {
    this.stop();
    return true;
  }
}

class EventsImpl extends CapnWeb.Target {
  subscribe(handler: CapnWeb.Stub<EventHandler>, after: number) {
    const kept = handler.dup();
    CapnWeb.release(handler);
    return new Subscription(log.subscribe(kept, after));
  }
}

class ApiImpl extends CapnWeb.Target {
  users() {
    return new UsersImpl();
  }
  events() {
    return new EventsImpl();
  }
}

// ---- the application ------------------------------------------------------------------------------

/** The PubSub of the original: parts of the application listen by topic, knowing nothing of RPC. */
const pubsub = new EventEmitter();

/** MyApp.Users: user operations via Cap'n Web RPC. */
const Users = {
  api: () => CapnWeb.session<Api>("api"),
  get: (id: number) => CapnWeb.await(Users.api().users().get(id).name()),
  /** One round trip: pipelined through the user to its profile. */
  getWithProfile: (id: number) => CapnWeb.await(Users.api().users().get(id).profile()),
  /** Forks one pipeline into three reads, one round trip. */
  getFull: (id: number) => {
    const user = Users.api().users().get(id);
    return CapnWeb.batch([user.name(), user.profile(), user.settings()]);
  },
  importUsers: (fileUrl: string, reporter: CapnWeb.Stub<ProgressHandler>) =>
    CapnWeb.await(Users.api().users().importBatch(fileUrl, reporter), { timeout: 5_000 }),
};

/** MyApp.ImportProgress: a stateful callback actor that forwards progress to a callback. */
function importProgress(onProgress: (current: number, total: number) => void) {
  return CapnWeb.target<{ total: number }, ProgressHandler>({
    init: () => ({ total: 0 }),
    handlers: {
      onProgress: ([{ current, total }], state) => {
        onProgress(current, total);
        return { reply: null, state: { total } };
      },
      onComplete: ([{ imported }], _state) => ({ reply: null, state: { total: imported } }),
    },
  });
}

/** MyApp.RpcEventBridge: keeps a cursor, re-publishes each event on the PubSub. */
const rpcEventBridge = CapnWeb.target<{ cursor: number; seen: number[] }, EventHandler>({
  init: () => ({ cursor: 0, seen: [] }),
  handlers: {
    onEvent: ([event], state) => {
      pubsub.emit("rpc:events", event);
      if (event.user) pubsub.emit(`users:${event.user.id}`, event.user);
      state.seen.push(event.seq);
      return { reply: null, state: { cursor: event.seq, seen: state.seen } };
    },
  },
});

async function importWithBar(fileUrl: string): Promise<void> {
  const api = Users.api();
  const reporter = CapnWeb.export(api, importProgress((current, total) => console.log(`  [${"#".repeat(current).padEnd(total, ".")}] ${current}/${total}`)));
  const result = await Users.importUsers(fileUrl, reporter);
  CapnWeb.release(reporter);
  console.log(result.ok ? `  imported ${result.value.imported} users from ${fileUrl}` : `  import failed: ${result.error.type}`);
}

async function main() {
  let server = await CapnWeb.serve({ host: "127.0.0.1", port: 0, main: () => new ApiImpl() });
  const port = server.port;

  // MyApp.Application: a registry, a dynamic supervisor of user sessions, the API session.
  const registry = new CapnWeb.Registry("session_registry");
  const app = await CapnWeb.Supervisor.start(
    [
      CapnWeb.DynamicSupervisor.spec([], { id: "user_sessions", name: "user_sessions" }),
      CapnWeb.Session.spec<Api>({ name: "api", url: server.wsUrl, reconnect: { strategy: "exponential", baseDelay: 20, maxDelay: 200 } }),
    ],
    { name: "my_app", strategy: "one_for_one" },
  );
  const userSessions = app.child("user_sessions") as CapnWeb.DynamicSupervisor;
  await userSessions.startChild(CapnWeb.Session.spec({ name: { via: [registry, "alice"] }, id: "alice", url: server.wsUrl }));

  // The bridge: an exported actor that lives as long as the session, subscribed by a restorable
  // that resumes from the bridge's cursor after every reconnect.
  const api = Users.api();
  const bridge = CapnWeb.export(api, rpcEventBridge, { label: "rpc-event-bridge" });
  const bridgeActor = CapnWeb.targetActorOf(bridge)!;
  const subscription = CapnWeb.restorable(api, (root) => root.events().subscribe(bridge, bridgeActor.snapshot().cursor), { label: "events.subscribe" });
  pubsub.on("users:2", (user: User) => console.log(`  view of users:2 re-rendered: ${user.name}`));
  await CapnWeb.ready("api", { timeout: 5_000 });

  const ada = await Users.get(1);
  console.log(`get(1): ${ada.ok ? ada.value : ada.error.type}`);
  const profile = await Users.getWithProfile(1);
  console.log(`getWithProfile(1): ${profile.ok ? profile.value.bio : profile.error.type}`);
  const full = await Users.getFull(3);
  console.log(`getFull(3): ${full.ok ? JSON.stringify(full.value) : full.error.type}`);
  const missing = await Users.get(99);
  console.log(`get(99): ${missing.ok ? "?" : missing.error.type}`);
  console.log(`alice's session: ${CapnWeb.findSession({ via: [registry, "alice"] }) ? "running" : "missing"}`);

  log.publish("deploy started");
  log.publish("user updated", { id: 2, name: "Alan M. Turing" });
  console.log("import before the restart:");
  await importWithBar("users-1.csv");
  await waitFor(() => bridgeActor.snapshot().cursor === log.events.length);
  console.log(`bridge: ${bridgeActor.snapshot().seen.length} events before the restart`);

  // The server dies and comes back on the same port; events keep being produced meanwhile.
  await server.close();
  log.publish("while the server was down");
  server = await CapnWeb.serve({ host: "127.0.0.1", port, main: () => new ApiImpl() });
  await CapnWeb.ready("api", { timeout: 5_000 });
  console.log("server restarted; session reconnected and restored");

  log.publish("deploy finished");
  console.log("import after the reconnect:");
  await importWithBar("users-2.csv");
  await waitFor(() => bridgeActor.snapshot().cursor === log.events.length);
  const seen = bridgeActor.snapshot().seen;
  const exact = seen.length === log.events.length && seen.every((seq, i) => seq === i + 1);
  console.log(`bridge: ${seen.length} of ${log.events.length} events, in order: ${exact ? "none lost, none twice" : JSON.stringify(seen)}`);

  CapnWeb.release([subscription, bridge]);
  await app.close();
  await server.close();
  console.log("done.");
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
