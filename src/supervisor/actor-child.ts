// Supervising any XState actor logic: an application's own state machines live in the same tree
// as its sessions. The actor's `done` status is a normal exit, its `error` status an abnormal one
// (XState has no supervision of its own: an errored actor is dead, and a restart is a new actor).

import { type AnyActorLogic, type AnyActorRef, type InputFrom, createActor } from "xstate";
import type { ActorInspection } from "./inspection.js";
import { type Child, type ChildSpec, type ExitReason, type RestartType, type Shutdown, type StartContext, exitSignal } from "./child.js";

/**
 * Something an actor's whole life runs inside (its start, every event sent to it) and that ends
 * with it, crash included. The supervisor knows nothing of what it is; the capability layer
 * installs one that owns the capabilities the actor obtains.
 */
export interface ActorScope {
  run<T>(fn: () => T): T;
  end(): void;
}

let defaultScope: ((id: string) => ActorScope) | undefined;

/** Installs the scope every supervised actor gets unless its spec names one. */
export function setDefaultActorScope(factory: ((id: string) => ActorScope) | undefined): void {
  defaultScope = factory;
}

export interface ActorSpecOptions<TLogic extends AnyActorLogic> {
  id: string;
  input?: InputFrom<TLogic>;
  restart?: RestartType;
  shutdown?: Shutdown;
  /** Whether its end can stop its supervisor (see SupervisorOptions.autoShutdown). */
  significant?: boolean;
  /**
   * Called with each new actor once started (and after every restart), so the application can
   * keep a reference to the current one.
   */
  onStart?: (actor: AnyActorRef) => void;
  /** Runs when the actor ends for any reason, crash included: release what it held here. */
  onExit?: (actor: AnyActorRef) => void;
  /** A scope per incarnation of the actor (default: the installed one, if any). */
  scope?: (id: string) => ActorScope;
}

/** A child spec that runs `logic` as a supervised actor. */
export function actorSpec<TLogic extends AnyActorLogic>(logic: TLogic, options: ActorSpecOptions<TLogic>): ChildSpec {
  return {
    id: options.id,
    restart: options.restart ?? "permanent",
    shutdown: options.shutdown ?? 5_000,
    type: "worker",
    ...(options.significant !== undefined ? { significant: options.significant } : {}),
    start: (context) => new ActorChild(logic, options, context),
  };
}

export class ActorChild implements Child {
  readonly actor: AnyActorRef;
  readonly exited;
  private readonly exit;
  private ended = false;

  constructor(logic: AnyActorLogic, private readonly options: ActorSpecOptions<any>, context: StartContext) {
    ({ exited: this.exited, exit: this.exit } = exitSignal());
    const scope = (options.scope ?? defaultScope)?.(options.id);
    this.scope = scope;
    const actor = createActor(logic, {
      input: options.input,
      ...(context.inspect ? { inspect: context.inspect } : {}),
    } as never) as AnyActorRef;
    if (scope) {
      // Everything the actor does runs inside its scope: what it starts, and what it is sent.
      const send = actor.send.bind(actor);
      actor.send = (event) => scope.run(() => send(event));
    }
    this.actor = actor;
    actor.subscribe({
      complete: () => this.end(this.killed ? "killed" : this.stopping ? "shutdown" : "normal"),
      error: (error: unknown) => this.end({ error }),
    });
    if (scope) scope.run(() => actor.start());
    else actor.start();
    const started = actor.getSnapshot() as { status: string; error?: unknown };
    // Crashing while starting is a start failure (OTP's init crashing), not a later exit.
    if (started.status === "error") throw started.error;
    options.onStart?.(actor);
  }

  private readonly scope: ActorScope | undefined;

  private end(reason: ExitReason): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.options.onExit?.(this.actor);
    } finally {
      try {
        this.scope?.end();
      } finally {
        this.exit(reason);
      }
    }
  }

  private stopping = false;
  private killed = false;

  stop(): void {
    if (this.ended) return;
    this.stopping = true;
    this.actor.stop();
    this.end("shutdown");
  }

  kill(): void {
    if (this.ended) return;
    this.killed = true;
    this.actor.stop();
    this.end("killed");
  }

  inspect(): ActorInspection {
    const snapshot = this.actor.getSnapshot() as { status: string; value?: unknown; context?: unknown };
    return { kind: "actor", status: snapshot.status, id: this.actor.id, value: snapshot.value };
  }
}
