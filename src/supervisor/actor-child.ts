// Supervising any XState actor logic: an application's own state machines live in the same tree
// as its sessions. The actor's `done` status is a normal exit, its `error` status an abnormal one
// (XState has no supervision of its own: an errored actor is dead, and a restart is a new actor).

import { type AnyActorLogic, type AnyActorRef, type InputFrom, createActor } from "xstate";
import { type Child, type ChildSpec, type Inspection, type RestartType, type Shutdown, type StartContext, exitSignal } from "./child.js";

export interface ActorSpecOptions<TLogic extends AnyActorLogic> {
  id: string;
  input?: InputFrom<TLogic>;
  restart?: RestartType;
  shutdown?: Shutdown;
  /**
   * Called with each new actor once started (and after every restart), so the application can
   * keep a reference to the current one.
   */
  onStart?: (actor: AnyActorRef) => void;
  /** Runs when the actor ends for any reason, crash included: release what it held here. */
  onExit?: (actor: AnyActorRef) => void;
}

/** A child spec that runs `logic` as a supervised actor. */
export function actorSpec<TLogic extends AnyActorLogic>(logic: TLogic, options: ActorSpecOptions<TLogic>): ChildSpec {
  return {
    id: options.id,
    restart: options.restart ?? "permanent",
    shutdown: options.shutdown ?? 5_000,
    type: "worker",
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
    this.actor = createActor(logic, {
      input: options.input,
      ...(context.inspect ? { inspect: context.inspect } : {}),
    } as never);
    this.actor.subscribe({
      complete: () => this.end("normal"),
      error: (error: unknown) => this.end({ error }),
    });
    this.actor.start();
    options.onStart?.(this.actor);
  }

  private end(reason: "normal" | "shutdown" | { error: unknown }): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.options.onExit?.(this.actor);
    } finally {
      this.exit(reason);
    }
  }

  stop(): void {
    if (this.ended) return;
    this.actor.stop();
    this.end("shutdown");
  }

  kill(): void {
    this.stop();
  }

  inspect(): Inspection {
    const snapshot = this.actor.getSnapshot() as { status: string; value?: unknown; context?: unknown };
    return { kind: "actor", status: snapshot.status, id: this.actor.id, value: snapshot.value };
  }
}
