// Named sessions and pools: `CapnWeb.session(name)` finds what a spec registered under `name`
// (a plain name in the default registry, or `{ via: [registry, key] }`).

import { CapnWebError } from "../protocol/errors.js";
import { ErrorHook, type Hook } from "../protocol/hooks.js";
import { newBorrowedStub } from "../protocol/stub.js";
import type { Stub } from "../protocol/types.js";
import { type Name, Registry, nameToString, resolveName } from "../supervisor/registry.js";
import { type SessionActor, SessionRootHook } from "./session-actor.js";

/** What a name can stand for: one session, or a pool of them. */
export type NamedEndpoint =
  | {
      kind: "session";
      currentMain(): Hook;
      actor: SessionActor;
      /** The stub session(name) hands out while this registration lasts (made on first lookup). */
      root?: unknown;
    }
  /** A pool hands out the root stub of its least busy session: a pipeline stays on one connection. */
  | { kind: "pool"; pick(): unknown };

/** Where plain (string or symbol) names live. */
export const defaultRegistry = new Registry<NamedEndpoint>("sessions");

export function register(name: Name, endpoint: NamedEndpoint, ended: PromiseLike<unknown>): void {
  const { registry, key } = resolveName(name, defaultRegistry);
  registry.register(key, endpoint, ended);
  const waiting = registrationWaiters.get(registry)?.get(key);
  if (waiting) {
    registrationWaiters.get(registry)!.delete(key);
    for (const resolve of waiting) resolve(endpoint);
  }
}

// Who waits for a name to be taken (a dependent whose session is restarting), by registry and key.
const registrationWaiters = new Map<Registry<unknown>, Map<unknown, Set<(endpoint: NamedEndpoint) => void>>>();

/** Calls `found` once `name` is registered (now, if it is); returns the way to stop waiting. */
export function whenRegistered(name: Name, found: (endpoint: NamedEndpoint) => void): () => void {
  const now = whereis(name);
  if (now) {
    found(now);
    return () => {};
  }
  const { registry, key } = resolveName(name, defaultRegistry);
  let byKey = registrationWaiters.get(registry);
  if (!byKey) registrationWaiters.set(registry, (byKey = new Map()));
  let waiting = byKey.get(key);
  if (!waiting) byKey.set(key, (waiting = new Set()));
  waiting.add(found);
  return () => {
    waiting!.delete(found);
    if (waiting!.size === 0) byKey!.delete(key);
  };
}

export function whereis(name: Name): NamedEndpoint | undefined {
  const { registry, key } = resolveName(name, defaultRegistry);
  return registry.lookup(key) as NamedEndpoint | undefined;
}

/**
 * The root stub of the session (or of a session of the pool) registered as `name`. A session's
 * root looks the name up at every call, so it follows the session through reconnects and
 * through restarts by its supervisor. Throws `not_found` when nothing is registered now.
 */
export function session<Api = unknown>(name: Name): Stub<Api> {
  const found = findSession<Api>(name);
  if (!found) throw new CapnWebError("not_found", `No session is registered as ${nameToString(name)}.`);
  return found;
}

/** Like session(name), but undefined instead of throwing when the name is free. */
export function findSession<Api = unknown>(name: Name): Stub<Api> | undefined {
  const endpoint = whereis(name);
  if (!endpoint) return undefined;
  if (endpoint.kind === "pool") return endpoint.pick() as Stub<Api>;
  return (endpoint.root ??= namedRoot(name)) as Stub<Api>;
}

/**
 * A root that finds the session by name at each call, so that it survives restarts of the
 * session. Unowned: releasing or dropping it does nothing. It is kept with the registration
 * (so session(name) gives the same stub while the session runs), not in a cache of its own,
 * which would hold one for every name ever looked up.
 */
function namedRoot(name: Name): unknown {
  const { registry, key } = resolveName(name, defaultRegistry);
  return newBorrowedStub(
    new SessionRootHook({
      currentMain(): Hook {
        const endpoint = registry.lookup(key) as NamedEndpoint | undefined;
        if (endpoint?.kind === "session") return endpoint.currentMain();
        return new ErrorHook(new CapnWebError("not_found", `No session is registered as ${nameToString(name)}.`));
      },
      sessionActor(): SessionActor | undefined {
        const endpoint = registry.lookup(key) as NamedEndpoint | undefined;
        return endpoint?.kind === "session" ? endpoint.actor : undefined;
      },
    }),
  );
}
