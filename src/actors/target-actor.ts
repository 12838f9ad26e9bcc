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
import { Target, isTarget } from "../protocol/target.js";
import { logger } from "../logging.js";
import { Owner, setTargetOwner } from "./owner.js";

export type TargetStatus = "running" | "stopped";

/** Why a target actor stopped. */
export type TargetStopReason = "released" | "session-ended" | "crashed" | "stopped";

/** The handlers of a stateful target: `(args, state) → { reply, state }`, possibly async. */
export type Handler<S> = (args: any[], state: S) => { reply?: unknown; state: S } | Promise<{ reply?: unknown; state: S }>;

export interface StatefulTarget<S> {
  init: () => S | Promise<S>;
  handlers: Record<string, Handler<S>>;
  /**
   * What a throwing handler does after replying with the error: "keep" the state (default),
   * "restart" from `init`, or "stop" the target.
   */
  onError?: "keep" | "restart" | "stop";
  /** Runs once when the target stops, with its last state. */
  dispose?: (state: S) => void;
}

const STATEFUL: unique symbol = Symbol("capnweb-otp.stateful-target");

export interface StatefulTargetDefinition<S> extends StatefulTarget<S> {
  readonly [STATEFUL]: true;
}

/** Declares a stateful callback target (the original `handle_rpc/3` returning `{:reply, v, state}`). */
export function target<S>(definition: StatefulTarget<S>): StatefulTargetDefinition<S> {
  for (const name of Object.keys(definition.handlers)) {
    if (isBlockedName(name)) throw new CapnWebError("invalid_argument", `A handler cannot be named ${name}.`);
  }
  return { ...definition, [STATEFUL]: true };
}

export function isStatefulTarget(value: unknown): value is StatefulTargetDefinition<unknown> {
  return typeof value === "object" && value !== null && STATEFUL in value;
}

export function isActorLogic(value: unknown): value is AnyActorLogic {
  return typeof value === "object" && value !== null && typeof (value as AnyActorLogic).transition === "function" && !isTarget(value);
}

export class TargetActor {
  readonly owner: Owner;
  private status: TargetStatus = "running";
  private stopReason: TargetStopReason | undefined;
  private readonly stopListeners: ((reason: TargetStopReason) => void)[] = [];
  /** The object exported to the peer: its methods route calls through this actor. */
  readonly facade: object;
  private mailbox: Promise<unknown> = Promise.resolve();
  private calls = 0;
  private state: unknown;
  private ready: Promise<void> = Promise.resolve();
  private xstate: AnyActorRef | undefined;

  constructor(
    readonly kind: "target" | "stateful" | "xstate",
    readonly label: string,
    private readonly source: unknown,
  ) {
    this.owner = new Owner(label);
    this.facade = this.makeFacade();
    setTargetOwner(this.facade, this.owner);
    if (kind === "stateful") this.ready = this.initState();
    if (kind === "xstate") {
      this.xstate = createActor(source as AnyActorLogic);
      this.xstate.subscribe({ error: () => this.stop("crashed"), complete: () => this.stop("stopped") });
      this.xstate.start();
    }
  }

  static for(value: unknown, label = "target"): TargetActor {
    if (isStatefulTarget(value)) return new TargetActor("stateful", label, value);
    if (isTarget(value) || typeof value === "function") return new TargetActor("target", label, value);
    if (isActorLogic(value)) return new TargetActor("xstate", label, value);
    throw new CapnWebError("invalid_argument", "export() takes a CapnWeb.Target, a function, CapnWeb.target({...}) or XState actor logic.");
  }

  get isRunning(): boolean {
    return this.status === "running";
  }

  /** The current state of a stateful target (its XState snapshot for an XState target). */
  snapshot(): unknown {
    if (this.xstate) return this.xstate.getSnapshot();
    return this.state;
  }

  onStop(listener: (reason: TargetStopReason) => void): void {
    if (this.stopReason) listener(this.stopReason);
    else this.stopListeners.push(listener);
  }

  /** Stops the actor: later calls are refused, and everything it obtained is released. */
  stop(reason: TargetStopReason = "stopped"): void {
    if (this.status === "stopped") return;
    this.status = "stopped";
    this.stopReason = reason;
    this.owner.end();
    if (this.kind === "stateful") {
      try {
        (this.source as StatefulTarget<unknown>).dispose?.(this.state);
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
      this.xstate?.stop();
    }
    for (const listener of this.stopListeners.splice(0)) listener(reason);
  }

  inspect(): Record<string, unknown> {
    return {
      kind: `target:${this.kind}`,
      label: this.label,
      status: this.status,
      ...(this.stopReason ? { stopReason: this.stopReason } : {}),
      calls: this.calls,
      holding: this.owner.holding,
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

  private async initState(): Promise<void> {
    this.state = await this.owner.run(() => (this.source as StatefulTarget<unknown>).init());
  }

  /** Queues work behind every earlier call (the mailbox), in arrival order. */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.mailbox.then(() => this.ready).then(work);
    this.mailbox = run.then(noop, noop);
    return run;
  }

  private callStateful(method: string, args: unknown[]): Promise<unknown> {
    const definition = this.source as StatefulTarget<unknown>;
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
        Object.defineProperty(fn, Symbol.dispose, { value: () => actor.stop("released") });
        return fn;
      }
      // The instance itself stays untouched; its methods are reached through a guard.
      return new Proxy(original, {
        get(target, prop, receiver) {
          if (prop === Symbol.dispose) return () => actor.stop("released");
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
        if (prop === Symbol.dispose) return () => actor.stop("released");
        if (typeof prop === "symbol" || isBlockedName(prop)) return Reflect.get(target, prop, receiver);
        return (...args: unknown[]) =>
          actor.deliver(args, () => (actor.kind === "stateful" ? actor.callStateful(prop, args) : actor.callXState(prop, args)));
      },
    });
  }
}

function noop(): void {}
