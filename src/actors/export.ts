// export(api, target): a target actor, child of the session `api` belongs to, and the capability
// to pass to the peer. The actor stops, releasing what it obtained, when the peer releases every
// export of it, when the session ends, when the application releases the returned capability,
// or when its handler crashes with onError "stop".

import { CapnWebError } from "../protocol/errors.js";
import { TargetHook } from "../protocol/hooks.js";
import { type RpcSession, sessionOfStub } from "../protocol/session.js";
import { newStub, stubViewOf } from "../protocol/stub.js";
import type { Target } from "../protocol/target.js";
import type { Stub, StubMembers } from "../protocol/types.js";
import type { AnyActorLogic, SnapshotFrom } from "xstate";
import { SessionActor } from "./session-actor.js";
import { type StatefulTargetDefinition, type StatefulTargetOf, TargetActor } from "./target-actor.js";

const targetsOf = new WeakMap<RpcSession, Set<TargetActor>>();
const actorOf = new WeakMap<object, TargetActor>();

export interface ExportOptions {
  /** Shown in inspection and errors (default "target"). */
  label?: string;
}

declare const actorState: unique symbol;

/**
 * The capability export() returns: a stub of `T` that also remembers, in its type only, what its
 * target actor's `snapshot()` holds, so that `targetActorOf(cap).snapshot()` is typed `S`.
 */
export type ExportedStub<T, S> = Stub<T> & { readonly [actorState]?: S };

/** Any stub of a session (its root, or a capability obtained on it): the first argument of export(). */
export type SessionStub = Pick<StubMembers<unknown>, typeof Symbol.dispose>;

// The three forms of export(); each checks the target against the interface `T` the peer calls.
/** A stateful target made with `CapnWeb.target<State, T>({ init, handlers })`. */
export function exportTarget<T, S>(api: SessionStub, target: StatefulTargetDefinition<S, T>, options?: ExportOptions): ExportedStub<T, S>;
/** A stateful target, when only the interface is named (`export<T>(api, definition)`): its state is not known here. */
export function exportTarget<T>(api: SessionStub, target: StatefulTargetOf<T>, options?: ExportOptions): ExportedStub<T, unknown>;
/** XState actor logic: a call `cap.method(...args)` arrives as the event `{ type: method, args, reply, fail }`. */
export function exportTarget<T = unknown, L extends AnyActorLogic = AnyActorLogic>(api: SessionStub, logic: L, options?: ExportOptions): ExportedStub<T, SnapshotFrom<L>>;
/** A `CapnWeb.Target` (its prototype methods) or a function, which must implement `T`. */
export function exportTarget<T extends object>(api: SessionStub, target: T & (Target | ((...args: never[]) => unknown)), options?: ExportOptions): ExportedStub<T, undefined>;
export function exportTarget(api: SessionStub, target: unknown, options: ExportOptions = {}): unknown {
  // Through a supervised session, the actor lives as long as the session, not one connection:
  // a drop ends its exports (the peer forgot them), and passing it again exports it again.
  const supervised = SessionActor.of(api);
  if (supervised) {
    const label = options.label ?? "target";
    const actor = TargetActor.for(target, label, supervised.targetPlace(label));
    actor.outlivesConnections = true;
    supervised.adoptTarget(actor);
    // The application's capability is what keeps it: its release stops the actor.
    actorOf.set(actor.facade, actor);
    return newStub(TargetHook.wrap(actor.facade, () => actor.stop("released"), false));
  }
  const session = sessionOfStub(api);
  if (!session || session.isEnded) {
    throw new CapnWebError("invalid_argument", "export() needs a stub of a live session as its first argument.");
  }
  const actor = TargetActor.for(target, options.label);
  let children = targetsOf.get(session);
  if (!children) {
    const created = new Set<TargetActor>();
    targetsOf.set(session, (children = created));
    session.onEnded(() => {
      for (const child of [...created]) child.stop("session-ended");
    });
  }
  children.add(actor);
  actor.onStop(() => children!.delete(actor));
  return capabilityOf(actor);
}

function capabilityOf(actor: TargetActor): unknown {
  actorOf.set(actor.facade, actor);
  return newStub(TargetHook.wrap(actor.facade));
}

/**
 * How a capability table names an exported target: by its actor, which also owns it (its stop
 * releases the exports), when it is one export() made.
 */
export function describeExportedTarget(target: object): { label: string; owner: string } | undefined {
  const actor = actorOf.get(target);
  return actor && { label: actor.label, owner: actor.owner.label };
}

/** The actor behind a capability returned by export(), for its state and inspection. */
export function targetActorOf<S>(capability: { readonly [actorState]?: S }): TargetActor<S> | undefined;
export function targetActorOf(capability: unknown): TargetActor | undefined;
export function targetActorOf(capability: unknown): TargetActor | undefined {
  const view = stubViewOf(capability);
  if (!view || view.isReleased) return undefined;
  const hook = view.liveHook();
  return hook instanceof TargetHook ? actorOf.get(hook.target) : undefined;
}
