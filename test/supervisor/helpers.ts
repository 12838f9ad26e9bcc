// Test children for the supervisor tests: hand-written Child implementations with precise control
// (crash, finish, ignore a stop request) and small XState machines run through actorSpec, all
// writing to one event log so that start and stop orders can be asserted.

import { type AnyActorRef, assign, setup } from "xstate";
import { actorSpec } from "../../src/supervisor/actor-child.js";
import {
  type Child,
  type ChildSpec,
  type ExitReason,
  type Inspection,
  type RestartType,
  type Shutdown,
  type StartContext,
  exitSignal,
} from "../../src/supervisor/child.js";

/** How a test child answers a stop request. */
export type StopMode = "obey" | "ignore";

/** One incarnation of a hand-written child. */
export class TestChild implements Child {
  readonly exited: Promise<ExitReason>;
  private readonly exit: (reason: ExitReason) => void;
  stopCalls = 0;
  killCalls = 0;
  ended: ExitReason | undefined;

  constructor(
    readonly id: string,
    readonly incarnation: number,
    private readonly log: string[],
    private readonly stopMode: StopMode,
    readonly context: StartContext,
    private readonly stopReason: ExitReason = "shutdown",
    private readonly stopDelay = 0,
  ) {
    ({ exited: this.exited, exit: this.exit } = exitSignal());
  }

  /** Ends the child on its own (a crash with `{ error }`, or "normal"). */
  end(reason: ExitReason): void {
    if (this.ended) return;
    this.ended = reason;
    this.log.push(`exit:${this.id}`);
    this.exit(reason);
  }

  crash(error: unknown = new Error(`${this.id} crashed`)): void {
    this.end({ error });
  }

  finish(): void {
    this.end("normal");
  }

  stop(): void {
    this.stopCalls++;
    this.log.push(`stop:${this.id}`);
    if (this.stopMode !== "obey") return;
    if (this.stopDelay > 0) setTimeout(() => this.end(this.stopReason), this.stopDelay);
    else this.end(this.stopReason);
  }

  kill(): void {
    this.killCalls++;
    this.log.push(`kill:${this.id}`);
    // OTP's `killed` is an abnormal reason.
    this.end("killed");
  }

  get alive(): boolean {
    return this.ended === undefined;
  }

  inspect(): Inspection & { id: string; incarnation: number } {
    return { kind: "test", status: this.alive ? "running" : "exited", id: this.id, incarnation: this.incarnation };
  }
}

export interface TestSpecOptions {
  restart?: RestartType;
  shutdown?: Shutdown;
  stopMode?: StopMode;
  /** Makes start number `n` (1-based, per id) fail by throwing this (or returning it rejected). */
  failStart?: (n: number) => unknown;
  /** Milliseconds the start takes (async start), for start number `n`. */
  startDelay?: (n: number) => number;
  /** Called with the new child right after it is created, before start returns. */
  afterStart?: (child: TestChild) => void;
  /** Makes start number `n` return "ignore" (OTP's supervisor_1 start_child(ignore)). */
  ignoreStart?: (n: number) => boolean;
  /** The reason the child exits with when asked to stop (default "shutdown"; OTP's supervisor_4). */
  stopReason?: ExitReason;
  /** Milliseconds the child takes to exit once asked to stop (OTP's supervisor_2). */
  stopDelay?: number;
  type?: "worker" | "supervisor";
  significant?: boolean;
}

/** Builds hand-written children and remembers every incarnation of each id. */
export class Harness {
  readonly log: string[] = [];
  readonly incarnations = new Map<string, TestChild[]>();

  spec(id: string, options: TestSpecOptions = {}): ChildSpec {
    let starts = 0;
    return {
      id,
      ...(options.restart ? { restart: options.restart } : {}),
      ...(options.shutdown !== undefined ? { shutdown: options.shutdown } : {}),
      ...(options.type ? { type: options.type } : {}),
      ...(options.significant !== undefined ? { significant: options.significant } : {}),
      start: (context) => {
        const n = ++starts;
        const create = (): TestChild | "ignore" => {
          const failure = options.failStart?.(n);
          if (failure !== undefined) {
            this.log.push(`start_failed:${id}`);
            throw failure;
          }
          if (options.ignoreStart?.(n)) {
            this.log.push(`ignore:${id}`);
            return "ignore";
          }
          const child = new TestChild(id, n, this.log, options.stopMode ?? "obey", context, options.stopReason, options.stopDelay);
          const list = this.incarnations.get(id) ?? [];
          list.push(child);
          this.incarnations.set(id, list);
          this.log.push(`start:${id}`);
          options.afterStart?.(child);
          return child;
        };
        const delay = options.startDelay?.(n) ?? 0;
        if (delay > 0) return sleep(delay).then(create);
        return create();
      },
    };
  }

  /** The latest incarnation of `id`. */
  current(id: string): TestChild {
    const list = this.incarnations.get(id);
    if (!list || list.length === 0) throw new Error(`no child ${id} was ever started`);
    return list[list.length - 1]!;
  }

  startCount(id: string): number {
    return this.incarnations.get(id)?.length ?? 0;
  }

  /** The log entries with one of these prefixes (e.g. "start", "stop"). */
  events(...kinds: string[]): string[] {
    return this.log.filter((entry) => kinds.includes(entry.slice(0, entry.indexOf(":"))));
  }

  clear(): void {
    this.log.length = 0;
  }
}

// -------------------------------------------------------------------------------------------------
// XState

/**
 * A user actor: runs until FINISH (final state: a normal exit) or CRASH (an action throws: XState
 * puts the actor in error status, an abnormal exit). PING counts in the context.
 */
export const worker = setup({
  types: { context: {} as { pings: number }, events: {} as { type: "FINISH" } | { type: "CRASH" } | { type: "PING" } },
  actions: {
    boom: () => {
      throw new Error("boom");
    },
  },
}).createMachine({
  id: "worker",
  context: { pings: 0 },
  initial: "running",
  states: {
    running: {
      on: {
        FINISH: "done",
        CRASH: { actions: "boom" },
        PING: { actions: assign({ pings: ({ context }) => context.pings + 1 }) },
      },
    },
    done: { type: "final" },
  },
});

/** A machine whose first state's entry action throws: it errors as it starts. */
export const crashOnStart = setup({
  actions: {
    boom: () => {
      throw new Error("boom at start");
    },
  },
}).createMachine({ id: "crashOnStart", initial: "a", states: { a: { entry: "boom" } } });

/** Runs `worker` actors under actorSpec, logging start/exit per id and keeping the current actor. */
export class ActorHarness {
  readonly log: string[] = [];
  readonly actors = new Map<string, AnyActorRef>();
  readonly starts = new Map<string, number>();

  spec(id: string, options: { restart?: RestartType; shutdown?: Shutdown } = {}): ChildSpec {
    return actorSpec(worker, {
      id,
      ...options,
      onStart: (actor) => {
        this.actors.set(id, actor);
        this.starts.set(id, (this.starts.get(id) ?? 0) + 1);
        this.log.push(`start:${id}`);
      },
      onExit: () => {
        this.log.push(`exit:${id}`);
      },
    });
  }

  actor(id: string): AnyActorRef {
    const actor = this.actors.get(id);
    if (!actor) throw new Error(`no actor ${id}`);
    return actor;
  }

  send(id: string, type: "FINISH" | "CRASH" | "PING"): void {
    this.actor(id).send({ type });
  }
}

// -------------------------------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets pending promise chains and a few timer turns run. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Resolves with the promise's value, or with the marker "pending" if it has not settled in `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<"pending">((resolve) => (timer = setTimeout(() => resolve("pending"), ms))),
  ]);
}

/** The children entries of a supervisor's inspect(). */
export interface ChildInspection {
  id: string;
  type: string;
  restart: RestartType;
  status: string;
  restarts: number;
  uptimeMs: number;
  lastError?: string;
  actor?: Inspection;
}

export function childrenOf(inspection: Inspection): ChildInspection[] {
  return (inspection as Inspection & { children: ChildInspection[] }).children;
}
