// Types of the public API beyond stubs: the mistakes a user makes with sessions, exports,
// stateful targets, inspection and telemetry must fail to compile, and what they get back must
// be typed. Checked by `tsc --noEmit` over test/: `@ts-expect-error` lines must NOT compile,
// `expectTypeOf` asserts what must. The functions are type-checked, never called.

import { describe, expect, expectTypeOf, it } from "vitest";
import type { AnyActorRef, InspectionEvent, Observer } from "xstate";
import { setup } from "xstate";
import * as CapnWeb from "../../src/index.js";

interface Row {
  id: number;
  name: string;
}
interface Collector {
  onItem(item: Row): null;
  onDone(): number;
}
type CollectorState = { rows: Row[] };
interface Reporter {
  onProgress(percent: number): void;
}
interface Api {
  square(x: number): number;
  collect(collector: CapnWeb.Stub<Collector>): void;
}

/** Session.spec<Api> types the root onConnect receives; without a type, it offers no methods. */
function sessionSpecs() {
  CapnWeb.Session.spec<Api>({
    url: "ws://127.0.0.1:1/",
    onConnect: async (api) => {
      expectTypeOf(api).toEqualTypeOf<CapnWeb.Stub<Api>>();
      expectTypeOf(await api.square(2)).toEqualTypeOf<number>();
    },
  });
  CapnWeb.Session.spec<Api>({
    url: "ws://127.0.0.1:1/",
    // @ts-expect-error: onConnect's root is typed: Api has no such method
    onConnect: (api) => void api.nonexistent(),
  });
  CapnWeb.Session.spec({
    url: "ws://127.0.0.1:1/",
    // @ts-expect-error: an untyped root is not any
    onConnect: (api) => void api.square(1),
  });
  CapnWeb.Pool.spec<Api>({ name: "pool", url: "ws://127.0.0.1:1/", onConnect: (api) => void expectTypeOf(api).toEqualTypeOf<CapnWeb.Stub<Api>>() });
}

/** session<Api>() is typed; session() without a type argument is not any. */
function sessionLookups() {
  expectTypeOf(CapnWeb.session<Api>("api")).toEqualTypeOf<CapnWeb.Stub<Api>>();
  expectTypeOf(CapnWeb.findSession<Api>("api")).toEqualTypeOf<CapnWeb.Stub<Api> | undefined>();
  expectTypeOf(CapnWeb.session("api")).toEqualTypeOf<CapnWeb.Stub<unknown>>();
  expectTypeOf(CapnWeb.session("api")).not.toBeAny();
  // @ts-expect-error: no type, no methods
  CapnWeb.session("api").square(2);
  // @ts-expect-error: no type, no methods (findSession too)
  CapnWeb.findSession("api")?.square(2);
}

class ProgressReporter extends CapnWeb.Target implements Reporter {
  onProgress(percent: number): void {
    void percent;
  }
}

/** export<T>(api, target) checks the target against T, whichever form the target takes. */
function exports(api: CapnWeb.Stub<Api>) {
  expectTypeOf(CapnWeb.export<Reporter>(api, new ProgressReporter())).toMatchTypeOf<CapnWeb.Stub<Reporter>>();
  expectTypeOf(CapnWeb.export(api, new ProgressReporter())).toMatchTypeOf<CapnWeb.Stub<ProgressReporter>>();
  expectTypeOf(CapnWeb.export(api, (x: number) => x * 2)).toMatchTypeOf<CapnWeb.Stub<(x: number) => number>>();
  // @ts-expect-error: 42 is no target
  CapnWeb.export<Reporter>(api, 42);
  // @ts-expect-error: a plain object is not a Target (only a Target's prototype methods are callable)
  CapnWeb.export<Reporter>(api, { onProgress() {} });
  // @ts-expect-error: a Target that does not implement Reporter
  CapnWeb.export<Reporter>(api, new (class extends CapnWeb.Target {})());
  // @ts-expect-error: the first argument must be a stub of a session
  CapnWeb.export<Reporter>("api", new ProgressReporter());
}

const collector = CapnWeb.target<CollectorState, Collector>({
  init: () => ({ rows: [] }),
  handlers: {
    onItem: ([row], state) => {
      expectTypeOf(row).toEqualTypeOf<Row>();
      return { reply: null, state: { rows: [...state.rows, row] } };
    },
    onDone: (args, state) => {
      expectTypeOf(args).toEqualTypeOf<[]>();
      return { reply: state.rows.length, state };
    },
  },
});

/** Stateful handlers typed from an interface: a misspelt, missing or mistyped handler fails. */
function statefulTargets(api: CapnWeb.Stub<Api>) {
  CapnWeb.target<CollectorState, Collector>({
    init: () => ({ rows: [] }),
    handlers: {
      // @ts-expect-error: a misspelt handler (onItems for onItem)
      onItems: (_args: unknown, state: CollectorState) => ({ reply: null, state }),
      onDone: (_args, state) => ({ reply: state.rows.length, state }),
    },
  });
  CapnWeb.target<CollectorState, Collector>({
    init: () => ({ rows: [] }),
    // @ts-expect-error: a missing handler (onDone)
    handlers: { onItem: (_args, state) => ({ reply: null, state }) },
  });
  CapnWeb.target<CollectorState, Collector>({
    init: () => ({ rows: [] }),
    handlers: {
      onItem: (_args, state) => ({ reply: null, state }),
      // @ts-expect-error: the reply must be what the interface's method returns (a number)
      onDone: (_args, state) => ({ reply: "done", state }),
    },
  });
  CapnWeb.target<CollectorState, Collector>({
    init: () => ({ rows: [] }),
    handlers: {
      // @ts-expect-error: the next state must be the state type
      onItem: (_args, _state) => ({ reply: null, state: 42 }),
      onDone: (_args, state) => ({ reply: 0, state }),
    },
  });
  // The exported capability is a stub of the interface, and the actor's snapshot is the state.
  const cap = CapnWeb.export(api, collector);
  expectTypeOf(cap).toMatchTypeOf<CapnWeb.Stub<Collector>>();
  expectTypeOf(CapnWeb.targetActorOf(cap)!.snapshot()).toEqualTypeOf<CollectorState>();
  api.collect(cap);
  // Naming only the interface works too; the state is then not known at the export.
  expectTypeOf(CapnWeb.targetActorOf(CapnWeb.export<Collector>(api, collector))!.snapshot()).toEqualTypeOf<unknown>();
  // @ts-expect-error: the definition implements Collector, not Reporter
  CapnWeb.export<Reporter>(api, collector);
  // Untyped handlers take any method name; their arguments are unknown, not any.
  CapnWeb.target({
    init: () => 0,
    handlers: {
      anything: ([x], state) => {
        expectTypeOf(x).toEqualTypeOf<unknown>();
        return { reply: x, state };
      },
    },
  });
}

/** XState targets: the snapshot is the logic's. */
function xstateTargets(api: CapnWeb.Stub<Api>) {
  const machine = setup({ types: { context: {} as { count: number } } }).createMachine({ context: { count: 0 } });
  const cap = CapnWeb.export(api, machine);
  expectTypeOf(CapnWeb.targetActorOf(cap)!.snapshot().context).toEqualTypeOf<{ count: number }>();
}

/** inspect() returns a union by kind; supervisors give their tree. */
async function inspection() {
  const app = await CapnWeb.Supervisor.start([]);
  const tree = CapnWeb.inspect(app);
  expectTypeOf(tree).toEqualTypeOf<CapnWeb.SupervisorInspection<CapnWeb.TreeInspection>>();
  const node = tree.children[0]?.actor;
  // @ts-expect-error: a session's field, before narrowing to a session
  void node?.connects;
  if (node?.kind === "session") {
    expectTypeOf(node).toEqualTypeOf<CapnWeb.SessionInspection>();
    expectTypeOf(node.connects).toEqualTypeOf<number>();
    expectTypeOf(node.targets).toEqualTypeOf<CapnWeb.TargetInspection[]>();
  } else if (node?.kind === "pool") {
    expectTypeOf(node.overflow).toEqualTypeOf<{ max: number; running: number }>();
  } else if (node?.kind === "actor") {
    expectTypeOf(node.value).toEqualTypeOf<unknown>();
  }
  expectTypeOf(tree.children[0]!.status).toEqualTypeOf<CapnWeb.ChildStatus>();
  const server = await CapnWeb.serve({ port: 0, main: () => new ProgressReporter() });
  expectTypeOf(CapnWeb.inspect(server.handlers)).toEqualTypeOf<CapnWeb.SupervisorInspection<CapnWeb.TreeInspection>>();
}

/** The supervisor's `inspect` option takes a function or an XState Observer (as @statelyai/inspect gives). */
async function inspectors(observer: Observer<InspectionEvent>) {
  await CapnWeb.Supervisor.start([], { inspect: observer });
  await CapnWeb.Supervisor.start([], { inspect: (event) => expectTypeOf(event).toEqualTypeOf<InspectionEvent>() });
  await CapnWeb.Supervisor.start([], { inspect: { next: (event: InspectionEvent) => void event.actorRef } });
  // @ts-expect-error: neither a function nor an Observer
  await CapnWeb.Supervisor.start([], { inspect: 42 });
  void (null as unknown as AnyActorRef);
}

/** Telemetry: checking the event narrows its message; unknown events are refused. */
function telemetry() {
  CapnWeb.telemetry.attach("metrics", ["call:stop", "call:exception", "connection:up"], (event, message) => {
    if (event === "connection:up") expectTypeOf(message).toEqualTypeOf<{ name: string; url: string }>();
    else expectTypeOf(message.duration).toEqualTypeOf<number>();
    if (event === "call:exception") expectTypeOf(message.error).toEqualTypeOf<CapnWeb.Error>();
  });
  // @ts-expect-error: no such event
  CapnWeb.telemetry.attach("typo", ["call:stopp"], () => {});
}

/** restorable() is typed from the derivation; ready() takes a name or a stub. */
async function restorables() {
  interface Session extends CapnWeb.Target {
    whoami(): string;
  }
  interface Root {
    authenticate(token: string): Session;
  }
  const root = CapnWeb.session<Root>("api");
  const authed = CapnWeb.restorable(root, (api) => api.authenticate("t"));
  expectTypeOf(authed).toEqualTypeOf<CapnWeb.Stub<Session>>();
  expectTypeOf(await authed.whoami()).toEqualTypeOf<string>();
  const derived = CapnWeb.restorable(authed, (session) => session.whoami());
  expectTypeOf(derived).toEqualTypeOf<CapnWeb.Stub<string>>();
  // @ts-expect-error: the derivation's root is typed
  CapnWeb.restorable(root, (api) => api.nonexistent());
  // @ts-expect-error: a derivation must return a stub or a pipelined call
  CapnWeb.restorable(root, () => 42);
  await CapnWeb.ready("api", { timeout: 10 });
  await CapnWeb.ready(root);
}

/** Child specs and supervisor options refuse typos at compile time; the OTP calls are typed. */
async function supervision() {
  const start = (): CapnWeb.StartResult => "ignore";
  // @ts-expect-error: an unknown restart type
  void CapnWeb.Supervisor.start([{ id: "a", start, restart: "prmanent" }]);
  // @ts-expect-error: an unknown child type
  void CapnWeb.Supervisor.start([{ id: "a", start, type: "wrker" }]);
  // @ts-expect-error: an unknown autoShutdown
  void CapnWeb.Supervisor.start([], { autoShutdown: "sometimes" });
  // @ts-expect-error: a dynamic supervisor has no autoShutdown
  void CapnWeb.DynamicSupervisor.create({ autoShutdown: "any_significant" });
  const sup = await CapnWeb.Supervisor.start([{ id: "a", start, restart: "transient", significant: true }], { autoShutdown: "any_significant" });
  expectTypeOf(await sup.startChild({ id: "b", start })).toEqualTypeOf<CapnWeb.Child | undefined>();
  expectTypeOf(await sup.restartChild("a")).toEqualTypeOf<CapnWeb.Child | undefined>();
  expectTypeOf(sup.whichChildren()[0]!.child).toEqualTypeOf<CapnWeb.Child | "restarting" | undefined>();
  expectTypeOf(sup.countChildren()).toEqualTypeOf<CapnWeb.ChildCounts>();
  expectTypeOf(sup.getChildSpec("a")).toEqualTypeOf<CapnWeb.ResolvedChildSpec | undefined>();
  expectTypeOf(sup.exitCause).toEqualTypeOf<CapnWeb.SupervisorError | undefined>();
  expectTypeOf(await sup.exited).toEqualTypeOf<CapnWeb.ExitReason>();
  CapnWeb.telemetry.attach("reports", ["supervisor:crash", "supervisor:give_up"], (event, report) => {
    if (event === "supervisor:crash") expectTypeOf(report).toEqualTypeOf<CapnWeb.ChildCrashReport>();
    else expectTypeOf(report).toEqualTypeOf<CapnWeb.GiveUpReport>();
  });
}

/** A remote error's own properties, typed as what they are: unknown until checked. */
function errorDetails(error: CapnWeb.Error) {
  expectTypeOf(error.details).toEqualTypeOf<Readonly<Record<string, unknown>>>();
}

describe("public API types (checked by tsc)", () => {
  it("the type-level checks compile", () => {
    for (const fn of [sessionSpecs, sessionLookups, exports, statefulTargets, xstateTargets, inspection, inspectors, telemetry, restorables, supervision, errorDetails]) {
      expect(typeof fn).toBe("function");
    }
  });
});
