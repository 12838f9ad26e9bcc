// The XState actor system that supervised sessions run in.
//
// A root actor brings a system of its own: a registry (two Maps and a WeakMap), a set of
// inspection observers, a scheduler and some twenty closures, 1.7 KB of heap measured. Sessions
// are many and alike, so outside an inspected tree they share one system (one per inspection
// observer, and one for the rest), under a passive stand-in that does nothing but stop a session
// on request: XState lets only an actor's parent stop it. In an inspected tree a session is a
// child of its supervisor's stand-in instead, so that inspectors show it in its place.

import type { AnyActorRef } from "xstate";
import { looseStandIn, stopTreeActor } from "../supervisor/inspection-actors.js";
import type { Inspector } from "../supervisor/inspection.js";
import type { StartContext } from "../supervisor/child.js";

let uninspected: AnyActorRef | undefined;
const inspected = new WeakMap<Inspector, AnyActorRef>();

/** The parent of a session's actor: its supervisor's stand-in, or the shared root of loose sessions. */
export function sessionParent(context: StartContext): AnyActorRef {
  if (context.inspectionParent) return context.inspectionParent;
  const inspect = context.inspect;
  if (inspect === undefined) return (uninspected ??= looseStandIn("sessions", undefined));
  let root = inspected.get(inspect);
  if (root === undefined) inspected.set(inspect, (root = looseStandIn("sessions", inspect)));
  return root;
}

/** Stops a session's actor: its timers are cancelled and it leaves the system. */
export function stopSessionActor(session: AnyActorRef): void {
  stopTreeActor(session);
}
