// The XState actors that stand for a supervision tree in XState's inspection. A supervisor is not
// an XState actor, so where the tree is inspected each supervisor gets a passive stand-in with a
// `systemId` taken from its path, and the actors of the tree (sessions, supervised XState actors,
// target actors) are created as children of their supervisor's stand-in. An inspector such as
// `@statelyai/inspect` then shows the tree as it is, each actor under its supervisor.
//
// The stand-ins do nothing but stop a child on request (XState lets only an actor's parent stop
// it). Nothing of this exists when nobody inspects: an uninspected tree creates no stand-in.

import { type AnyActorLogic, type AnyActorRef, type ActorSystem, createActor, fromTransition } from "xstate";
import type { Inspector } from "./inspection.js";

type StandInEvent = { type: "capnweb.stop"; child: AnyActorRef };

const standInLogic = fromTransition<null, StandInEvent, ActorSystem<any>, undefined>((state, event, scope) => {
  if (event.type !== "capnweb.stop") return state;
  try {
    scope.stopChild(event.child);
  } catch {
    // Already stopped (a crashed child stops itself); nothing is left to stop.
  }
  return state;
}, null);

/** The stand-in of a supervisor whose path is `path`: a root with `inspect`, or a child of `parent`. */
export function supervisorStandIn(path: readonly string[], inspect: Inspector, parent: AnyActorRef | undefined): AnyActorRef {
  const systemId = path.join("/");
  const actor = parent ? createActor(standInLogic, { parent, systemId, id: path.at(-1) ?? systemId }) : createActor(standInLogic, { inspect, systemId, id: systemId });
  return actor.start();
}

/** A stand-in that belongs to no tree: the parent of actors created outside one (a reconnecting connect()). */
export function looseStandIn(id: string, inspect: Inspector | undefined): AnyActorRef {
  return createActor(standInLogic, inspect ? { id, inspect } : { id }).start();
}

/** Creates `logic` as an inspected child of `parent`, named by its place in the tree. */
export function inspectedChild<L extends AnyActorLogic>(logic: L, parent: AnyActorRef, path: readonly string[], id: string, options: { input?: unknown } = {}): AnyActorRef {
  return createActor(logic, { ...options, parent, id, systemId: [...path, id].join("/") } as never) as AnyActorRef;
}

/** Stops an actor of the tree: through its parent when it has one, else itself. */
export function stopTreeActor(actor: AnyActorRef): void {
  const parent = (actor as { _parent?: AnyActorRef })._parent;
  if (parent) parent.send({ type: "capnweb.stop", child: actor });
  else actor.stop();
}
