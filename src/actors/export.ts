// export(api, target): a target actor, child of the session `api` belongs to, and the capability
// to pass to the peer. The actor stops, releasing what it obtained, when the peer releases every
// export of it, when the session ends, when the application releases the returned capability,
// or when its handler crashes with onError "stop".

import { CapnWebError } from "../protocol/errors.js";
import { TargetHook } from "../protocol/hooks.js";
import { type RpcSession, sessionOfStub } from "../protocol/session.js";
import { newStub, stubViewOf } from "../protocol/stub.js";
import type { Stub } from "../protocol/types.js";
import { TargetActor } from "./target-actor.js";

const targetsOf = new WeakMap<RpcSession, Set<TargetActor>>();
const actorOf = new WeakMap<object, TargetActor>();

export interface ExportOptions {
  /** Shown in inspection and errors (default "target"). */
  label?: string;
}

export function exportTarget<T = any>(api: unknown, target: unknown, options: ExportOptions = {}): Stub<T> {
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
  actorOf.set(actor.facade, actor);
  return newStub(TargetHook.wrap(actor.facade));
}

/** The actor behind a capability returned by export(), for its state and inspection. */
export function targetActorOf(capability: unknown): TargetActor | undefined {
  const view = stubViewOf(capability);
  if (!view || view.isReleased) return undefined;
  const hook = view.liveHook();
  return hook instanceof TargetHook ? actorOf.get(hook.target) : undefined;
}

/** The target actors currently exported through a session. */
export function targetsOfSession(session: RpcSession): TargetActor[] {
  return [...(targetsOf.get(session) ?? [])];
}
