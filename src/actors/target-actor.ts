// Exported targets as actors. A target actor is what the peer calls: it has an owner (the
// capabilities its handlers obtain are released when it stops), a status (a stopped target
// refuses calls with `released`), and, for stateful and XState targets, a mailbox that delivers
// calls one at a time in arrival order.
//
// Three forms:
//   a Target instance            stateless handlers; calls run as they arrive
//   CapnWeb.target({ init, handlers })   state threaded through handlers, one call at a time
//   XState actor logic           a call is an event { type: method, args, reply, fail }

import { type AnyActorLogic, type AnyActorRef, createActor } from "xstate";
import { CapnWebError } from "../protocol/errors.js";
import { isBlockedName } from "../protocol/limits.js";
import { Target, isTarget, referencesOf } from "../protocol/target.js";
import { logger } from "../logging.js";
import { inspectedChild, stopTreeActor } from "../supervisor/inspection-actors.js";
import { Owner, setTargetOwner } from "./owner.js";

export type TargetStatus = "running" | "stopped";

/** Where an XState target's actor goes in an inspected tree: under its session's actor. */
export interface TargetPlace {
  parent: AnyActorRef;
  path: readonly string[];
  id: string;
}

/** An exported target actor as inspection sees it. */
export interface TargetInspection {
  kind: "target:target" | "target:stateful" | "target:xstate";
  label: string;
  status: TargetStatus;
  stopReason?: TargetStopReason;
  /** Calls delivered so far. */
  calls: number;
  /** Capabilities the actor obtained and still holds. */
  holding: number;
  /** What refers to it now: the application's capability and every export of it on a connection. */
  references: number;
  /** A stateful target's state. */
  state?: unknown;
  /** An XState target's state value. */
  value?: unknown;
  /** Calls delivered and not finished yet: the one running and those waiting behind it. */
  mailbox: number;
}

/** Why a target actor stopped. */
export type TargetStopReason = "released" | "session-ended" | "crashed" | "stopped";

/** What a stateful handler returns: the reply to the caller and the actor's next state. */
export type HandlerResult<S, R = unknown> = undefined extends R ? { reply?: R; state: S } : { reply: R; state: S };

/**
 * A stateful handler for the method `M`: `(args, state) → { reply, state }`, possibly async. The
 * arguments arrive as the tuple of `M`'s parameters; the reply must be what `M` returns.
 */
export type StatefulHandler<S, M = (...args: unknown[]) => unknown> = M extends (...args: infer A) => infer R
  ? (args: A, state: S) => HandlerResult<S, Awaited<R>> | Promise<HandlerResult<S, Awaited<R>>>
  : never;

/** An interface that says nothing of its methods: any name, any arguments, any reply. */
export type UntypedInterface = Record<string, (...args: unknown[]) => unknown>;

/** One handler per method of `I`: a missing or misspelt handler fails to compile. */
export type StatefulHandlers<S, I> = {
  [K in keyof I as K extends string ? K : never]: StatefulHandler<S, I[K]>;
};

/**
 * A stateful target (the original GenServer with `handle_rpc/3`): `init` makes the state, each
 * handler answers one call and returns the next state. `I` is the interface the peer calls.
 */
export interface StatefulTarget<S, I = UntypedInterface> {
  init: () => S | Promise<S>;
  handlers: StatefulHandlers<S, I>;
  /**
   * What a throwing handler does after replying with the error: "keep" the state (default),
   * "restart" from `init`, or "stop" the target.
   */
  onError?: "keep" | "restart" | "stop";
  /** Runs once when the target stops, with its last state. */
  dispose?: (state: S) => void;
}

declare const statefulDefinition: unique symbol;

/**
 * Any definition made by `CapnWeb.target` whose handlers implement `I`, whatever its state: what
 * `CapnWeb.export<I>(api, definition)` accepts when only the interface is named.
 */
export interface StatefulTargetOf<I> {
  /** Type-level only: the interface the handlers implement (covariant, so a wider `I` fits). */
  readonly [statefulDefinition]: { readonly implements?: I };
}

/** What `CapnWeb.target(...)` returns: a definition to pass to `CapnWeb.export`. */
export interface StatefulTargetDefinition<S, I = UntypedInterface> extends StatefulTarget<S, I>, StatefulTargetOf<I> {}

const STATEFUL: unique symbol = Symbol("capnweb-otp.stateful-target");

/**
 * Declares a stateful callback target. `CapnWeb.target<State, Api>({ init, handlers })` checks the
 * handlers against the interface `Api` (one per method, arguments and replies typed);
 * `CapnWeb.target<State>({...})` leaves them untyped.
 */
export function target<S, I extends object = UntypedInterface>(definition: StatefulTarget<S, I>): StatefulTargetDefinition<S, I> {
  for (const name of Object.keys(definition.handlers)) {
    if (isBlockedName(name)) throw new CapnWebError("invalid_argument", `A handler cannot be named ${name}.`);
  }
  return { ...definition, [STATEFUL]: true } as unknown as StatefulTargetDefinition<S, I>;
}

export function isStatefulTarget(value: unknown): value is StatefulTargetDefinition<unknown> {
  return typeof value === "object" && value !== null && STATEFUL in value;
}

export function isActorLogic(value: unknown): value is AnyActorLogic {
  return typeof value === "object" && value !== null && typeof (value as AnyActorLogic).transition === "function" && !isTarget(value);
}

/** The actor behind an exported target; `S` is what `snapshot()` returns. */
export class TargetActor<S = unknown> {
  readonly owner: Owner;
  private status: TargetStatus = "running";
  private stopReason: TargetStopReason | undefined;
  private readonly stopListeners: ((reason: TargetStopReason) => void)[] = [];
  /** The object exported to the peer: its methods route calls through this actor. */
  readonly facade: object;
  private mailbox: Promise<unknown> = Promise.resolve();
  private mailboxLength = 0;
  private calls = 0;
  private state: unknown;
  private ready: Promise<void> = Promise.resolve();
  private xstate: AnyActorRef | undefined;

  constructor(
    readonly kind: "target" | "stateful" | "xstate",
    readonly label: string,
    private readonly source: unknown,
    place?: TargetPlace,
  ) {
    this.owner = new Owner(`${label} (target actor)`);
    this.facade = this.makeFacade();
    setTargetOwner(this.facade, this.owner);
    if (kind === "stateful") this.ready = this.initState();
    if (kind === "xstate") {
      // In an inspected tree, a child of its session's actor, named by its place in the tree.
      this.xstate = place ? inspectedChild(source as AnyActorLogic, place.parent, place.path, place.id) : createActor(source as AnyActorLogic);
      this.xstate.subscribe({ error: () => this.stop("crashed"), complete: () => this.stop("stopped") });
      this.xstate.start();
    }
  }

  static for(value: unknown, label = "target", place?: TargetPlace): TargetActor {
    if (isStatefulTarget(value)) return new TargetActor("stateful", label, value);
    if (isTarget(value) || typeof value === "function") return new TargetActor("target", label, value);
    if (isActorLogic(value)) return new TargetActor("xstate", label, value, place);
    throw new CapnWebError("invalid_argument", "export() takes a CapnWeb.Target, a function, CapnWeb.target({...}) or XState actor logic.");
  }

  get isRunning(): boolean {
    return this.status === "running";
  }

  /**
   * The current state of a stateful target, the XState snapshot of an XState target, and
   * undefined for a plain Target (its state is its own).
   */
  snapshot(): S {
    if (this.xstate) return this.xstate.getSnapshot() as S;
    return this.state as S;
  }

  onStop(listener: (reason: TargetStopReason) => void): void {
    if (this.stopReason) listener(this.stopReason);
    else this.stopListeners.push(listener);
  }

  /**
   * Set for an actor exported through a supervised session: it lives as long as the session, so
   * the end of a connection's exports (the peer forgot them) does not stop it.
   */
  outlivesConnections = false;

  /** Every export of the target was released (by the peer, or with its connection). */
  exportsReleased(): void {
    if (!this.outlivesConnections) this.stop("released");
  }

  /** Stops the actor: later calls are refused, and everything it obtained is released. */
  stop(reason: TargetStopReason = "stopped"): void {
    if (this.status === "stopped") return;
    this.status = "stopped";
    this.stopReason = reason;
    this.owner.end();
    if (this.kind === "stateful") {
      try {
        (this.source as StatefulDefinitionAtRunTime).dispose?.(this.state);
      } catch {
        // A failing dispose hook must not keep the actor from stopping.
      }
    } else if (this.kind === "target") {
      const dispose = (this.source as { [Symbol.dispose]?: () => void })[Symbol.dispose];
      try {
        dispose?.call(this.source);
      } catch {
        // as above
      }
    } else {
      if (this.xstate) stopTreeActor(this.xstate);
    }
    for (const listener of this.stopListeners.splice(0)) listener(reason);
  }

  inspect(): TargetInspection {
    return {
      kind: `target:${this.kind}`,
      label: this.label,
      status: this.status,
      ...(this.stopReason ? { stopReason: this.stopReason } : {}),
      calls: this.calls,
      mailbox: this.mailboxLength,
      holding: this.owner.holding,
      references: referencesOf(this.facade),
      ...(this.kind === "stateful" ? { state: this.state } : {}),
      ...(this.xstate ? { value: (this.xstate.getSnapshot() as { value?: unknown }).value } : {}),
    };
  }

  // ---------------------------------------------------------------------------------------------

  /** Every call enters here: refused once stopped; its argument stubs become this actor's. */
  private deliver<T>(args: unknown[], call: () => T): T {
    if (!this.isRunning) this.refuse();
    this.calls++;
    this.owner.adoptAll(args);
    return this.owner.run(call);
  }

  private refuse(): never {
    throw new CapnWebError("released", `The target ${this.label} has stopped (${this.stopReason}); it takes no more calls.`);
  }

  /** Runs `init`; a synchronous one sets the state at once, so that snapshot() sees it right away. */
  private initState(): Promise<void> {
    let initial: unknown;
    try {
      initial = this.owner.run(() => (this.source as StatefulDefinitionAtRunTime).init());
    } catch (error) {
      return Promise.reject(error);
    }
    if (initial instanceof Promise) return initial.then((state) => void (this.state = state));
    this.state = initial;
    return Promise.resolve();
  }

  /** Queues work behind every earlier call (the mailbox), in arrival order. */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    this.mailboxLength++;
    const run = this.mailbox.then(() => this.ready).then(work);
    this.mailbox = run.then(this.leaveMailbox, this.leaveMailbox);
    return run;
  }

  private readonly leaveMailbox = (): void => {
    this.mailboxLength--;
  }

  private callStateful(method: string, args: unknown[]): Promise<unknown> {
    const definition = this.source as StatefulDefinitionAtRunTime;
    const handler = definition.handlers[method];
    if (!handler) return Promise.reject(new CapnWebError("not_found", `${this.label} has no handler ${method}.`));
    return this.enqueue(async () => {
      if (!this.isRunning) this.refuse();
      try {
        const { reply, state } = await this.owner.run(() => handler(args, this.state));
        this.state = state;
        return reply;
      } catch (error) {
        const policy = definition.onError ?? "keep";
        logger({ target: this.label }).warn({ err: error, method, policy }, "handler failed");
        if (policy === "restart") this.ready = this.initState();
        else if (policy === "stop") queueMicrotask(() => this.stop("crashed"));
        throw error;
      }
    });
  }

  private callXState(method: string, args: unknown[]): Promise<unknown> {
    return this.enqueue(
      () =>
        new Promise((reply, fail) => {
          if (!this.isRunning || !this.xstate) this.refuse();
          const event = { type: method, args, reply, fail };
          if (!this.xstate.getSnapshot().can(event)) {
            fail(new CapnWebError("not_found", `${this.label} does not handle ${method} in its current state.`));
            return;
          }
          this.owner.run(() => this.xstate!.send(event));
        }),
    );
  }

  private makeFacade(): object {
    const actor = this;
    if (this.kind === "target") {
      const original = this.source as object;
      if (typeof original === "function") {
        const fn = function (this: unknown, ...args: unknown[]) {
          return actor.deliver(args, () => Reflect.apply(original as Function, this, args));
        };
        Object.defineProperty(fn, Symbol.dispose, { value: () => actor.exportsReleased() });
        return fn;
      }
      // The instance itself stays untouched; its methods are reached through a guard.
      return new Proxy(original, {
        get(target, prop, receiver) {
          if (prop === Symbol.dispose) return () => actor.exportsReleased();
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== "function" || typeof prop === "symbol") return value;
          return function (...args: unknown[]) {
            return actor.deliver(args, () => Reflect.apply(value, target, args));
          };
        },
      });
    }
    // Stateful and XState targets: every method name goes through the mailbox.
    const facade = new Target();
    return new Proxy(facade, {
      get(target, prop, receiver) {
        if (prop === Symbol.dispose) return () => actor.exportsReleased();
        if (typeof prop === "symbol" || isBlockedName(prop)) return Reflect.get(target, prop, receiver);
        return (...args: unknown[]) =>
          actor.deliver(args, () => (actor.kind === "stateful" ? actor.callStateful(prop, args) : actor.callXState(prop, args)));
      },
    });
  }
}

function noop(): void {}

/** A stateful definition as the actor sees it: handlers by name, state untyped. */
interface StatefulDefinitionAtRunTime {
  init: () => unknown;
  handlers: Record<string, ((args: unknown[], state: unknown) => HandlerResult<unknown> | Promise<HandlerResult<unknown>>) | undefined>;
  onError?: "keep" | "restart" | "stop";
  dispose?: (state: unknown) => void;
}
