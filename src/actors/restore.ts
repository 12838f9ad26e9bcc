// restorable() and ready(): the public face of a supervised session's restores.

import { CapnWebError } from "../protocol/errors.js";
import { newStub } from "../protocol/stub.js";
import type { Stub, StubMembers } from "../protocol/types.js";
import type { Name } from "../supervisor/registry.js";
import { nameToString } from "../supervisor/registry.js";
import { whereis } from "./names.js";
import type { RestorableOptions } from "./restorables.js";
import { restorableOf } from "./restorables.js";
import { SessionActor } from "./session-actor.js";

/**
 * A capability derived from a supervised session's root (or from another restorable) that
 * follows reconnects: `derive` runs again on every new connection, all restorables of the
 * session pipelined together in one round trip, before queued calls are released and before
 * `onConnect`. `derive` may read application state (a cursor) each time it runs.
 *
 *   const authed = CapnWeb.restorable(CapnWeb.session<Api>("api"), (root) => root.authenticate(token));
 *   const feed = CapnWeb.restorable(authed, (session) => session.subscribe(bridge, cursor()));
 *
 * The stub belongs to whoever holds it, like any: releasing it (or the end of the scope or actor
 * that obtained it) releases it on the peer and stops restoring it.
 */
export function restorable<B, T>(base: StubMembers<B>, derive: (base: Stub<B>) => StubMembers<T>, options: RestorableOptions = {}): Stub<T> {
  if (typeof derive !== "function") throw new CapnWebError("invalid_argument", "restorable() takes a stub and a derivation function.");
  const session = SessionActor.of(base);
  if (!session) {
    throw new CapnWebError(
      "invalid_argument",
      "restorable() needs a stub of a supervised session (CapnWeb.session(name), a connect() with reconnect, or a restorable of one).",
    );
  }
  const parent = restorableOf(base);
  const restorable = session.restorables.add(derive as (base: unknown) => unknown, parent, options, session.root, session.isConnected);
  return newStub(restorable.reference()) as Stub<T>;
}

export interface ReadyOptions {
  /** Milliseconds to wait; then the promise rejects with type `timeout`. */
  timeout?: number;
}

/** Resolves once the session (by name, or the session of a stub) is connected and restored. */
export function ready(session: Name | StubMembers<unknown>, options: ReadyOptions = {}): Promise<void> {
  const actor = typeof session === "function" ? SessionActor.of(session) : sessionByName(session as Name);
  if (!actor) return Promise.reject(new CapnWebError("not_found", `No supervised session for ${describe(session)}.`));
  return actor.whenReady(options.timeout);
}

function sessionByName(name: Name): SessionActor | undefined {
  const endpoint = whereis(name);
  return endpoint?.kind === "session" ? endpoint.actor : undefined;
}

function describe(session: unknown): string {
  return typeof session === "function" ? "this stub" : nameToString(session as Name);
}
