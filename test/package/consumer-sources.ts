// The TypeScript an application writes against the installed package: typed stubs, supervised
// sessions, stateful targets, inspection. Type-checked with `skipLibCheck: false` (so our .d.ts
// files are checked too) and emitted with `declaration: true` (so every type we hand out must be
// nameable from the app). The two lines marked @ts-expect-error would be unused, and fail the
// check, if the installed types had degraded to `any`.

/** The helper of the issue that once emitted a 162 KB declaration: now a few hundred bytes. */
export const HELPER = `import * as CapnWeb from "capnweb-otp";

interface Profile extends CapnWeb.Target { name(): string }
export interface User extends CapnWeb.Target { profile(): Profile; email: string }
export interface Users extends CapnWeb.Target { get(id: number): User }
export interface Api { users(): Users }

const api = () => CapnWeb.session<Api>("api");
export const getUser = (id: number) => api().users().get(id);
`;

/** Every public entry point whose result type the app lets TypeScript infer and then exports. */
export const SURFACE = `import * as CapnWeb from "capnweb-otp";
import { setup } from "xstate";

export interface Reporter {
  onProgress(percent: number): void;
}
export interface Jobs extends CapnWeb.Target {
  startImport(url: string, reporter: CapnWeb.Stub<Reporter>): { imported: number };
}
export interface Api {
  jobs(): Jobs;
  square(x: number): number;
  friendIds(): number[];
}
export interface Collector {
  onItem(item: { id: number }): null;
  onDone(): number;
}
export type CollectorState = { count: number };

export const sessionSpec = CapnWeb.Session.spec<Api>({
  name: "api",
  url: "ws://127.0.0.1:1/",
  onConnect: async (api) => {
    const n: number = await api.square(2);
    void n;
  },
});
export const poolSpec = CapnWeb.Pool.spec<Api>({ name: "pool", url: "ws://127.0.0.1:1/", size: 2, onConnect: (api) => void api.square(1) });
export const startTree = () => CapnWeb.Supervisor.start([sessionSpec, poolSpec], { strategy: "one_for_one", inspect: (event) => void event.type });
export const startDynamic = () => CapnWeb.DynamicSupervisor.create({ maxChildren: 10 });
export const registry = new CapnWeb.Registry("users");
export const viaName = { via: [registry, "alice"] as const };
export const root = () => CapnWeb.session<Api>("api");
export const maybeRoot = () => CapnWeb.findSession<Api>(viaName);
export const squares = () => root().friendIds().map((id) => root().square(id));
export const result = () => CapnWeb.await(root().square(3), { timeout: 100 });
export const both = () => CapnWeb.batch([root().square(1), root().friendIds()]);
export const rescued = () => CapnWeb.rescue(root().square(2), (error) => error.type);

export const collector = CapnWeb.target<CollectorState, Collector>({
  init: () => ({ count: 0 }),
  handlers: {
    onItem: (_args, state) => ({ reply: null, state: { count: state.count + 1 } }),
    onDone: (_args, state) => ({ reply: state.count, state }),
  },
});
export const exportCollector = () => CapnWeb.export(root(), collector);
export const collectorState = () => CapnWeb.targetActorOf(exportCollector())?.snapshot();
export class ProgressReporter extends CapnWeb.Target implements Reporter {
  onProgress(percent: number): void {
    void percent;
  }
}
export const exportReporter = () => CapnWeb.export<Reporter>(root(), new ProgressReporter());
export const importWithProgress = () => root().jobs().startImport("file.csv", exportReporter());

export const tree = async () => CapnWeb.inspect(await startTree());
export const firstSession = async () => {
  const actor = (await tree()).children[0]?.actor;
  return actor?.kind === "session" ? actor : undefined;
};
export const serve = () => CapnWeb.serve({ port: 0, main: () => new ProgressReporter() });
export const handlers = new CapnWeb.CapnWebHandlers({ main: new ProgressReporter() });
export const connectTyped = () => CapnWeb.connect<Api>("ws://127.0.0.1:1/", { reconnect: "exponential" });

const machine = setup({}).createMachine({ id: "m", initial: "idle", states: { idle: {} } });
export const actorSpec = CapnWeb.Supervisor.actor(machine, { id: "worker" });
export const observed = () => CapnWeb.Supervisor.start([actorSpec], { inspect: { next: (event) => void event.type } });
export const exportMachine = () => CapnWeb.export<Reporter>(root(), machine);

// ---- proof that the installed types are the real ones, not any -----------------------------
// (Every mistake the types catch is in test/types/api-types.test.ts.)

export async function mistakes() {
  // @ts-expect-error: a method Api does not have
  root().nonexistent();
  const first = (await tree()).children[0]?.actor;
  // @ts-expect-error: inspection is a union: narrow on kind before reading a session's fields
  void first?.connects;
}
`;
