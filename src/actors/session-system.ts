// The XState actor system that supervised sessions run in.
//
// A root actor brings a system of its own: a registry (two Maps and a WeakMap), a set of
// inspection observers, a scheduler and some twenty closures, 1.7 KB of heap measured. Sessions
// are many and alike, so they share one system per inspection observer (one per supervision
// tree that asked to be inspected, and one for the rest), under a passive root that does nothing
// but stop a session on request: XState lets only an actor's parent stop it.

import { type AnyActorRef, createActor, fromTransition } from "xstate";
import type { Inspector } from "../supervisor/inspection.js";
import { logger } from "../logging.js";

type Inspect = Inspector;
type SystemEvent = { type: "capnweb.session.stop"; session: AnyActorRef };

const systemRootLogic = fromTransition<null, SystemEvent, any, any>((state, event, scope) => {
  if (event.type !== "capnweb.session.stop") return state;
  try {
    scope.stopChild(event.session);
  } catch (error) {
    // A throw here would end the root, and with it the stopping of every other session.
    logger({ actor: "sessions" }).error({ err: error }, "could not stop a session actor");
  }
  return state;
}, null);

let uninspected: AnyActorRef | undefined;
const inspected = new WeakMap<Inspect, AnyActorRef>();

/** The root of the system for sessions inspected by `inspect` (or by nobody). */
export function sessionSystemRoot(inspect?: Inspect): AnyActorRef {
  if (inspect === undefined) return (uninspected ??= createActor(systemRootLogic, { id: "sessions" }).start());
  let root = inspected.get(inspect);
  if (root === undefined) {
    root = createActor(systemRootLogic, { id: "sessions", inspect }).start();
    inspected.set(inspect, root);
  }
  return root;
}

/** Stops a session's actor (a child of `root`): its timers are cancelled and it leaves the system. */
export function stopSessionActor(root: AnyActorRef, session: AnyActorRef): void {
  root.send({ type: "capnweb.session.stop", session });
}
