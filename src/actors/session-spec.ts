// Session.spec(): a supervised, named, reconnecting session as a child of a supervisor.

import { CapnWebError } from "../protocol/errors.js";
import type { ChildSpec, RestartType, Shutdown } from "../supervisor/child.js";
import { type Name, nameToString } from "../supervisor/registry.js";
import { register, whereis } from "./names.js";
import { SessionActor, type SessionOptions } from "./session-actor.js";

export interface SessionSpecOptions<Api = unknown> extends SessionOptions<Api> {
  /** Registers the session, so that `CapnWeb.session(name)` finds it. */
  name?: Name;
  /** Child id among its siblings (default: the name, or the URL). */
  id?: string;
  restart?: RestartType;
  shutdown?: Shutdown;
}

/** A supervised session as a child spec; `Api` types the root that `onConnect` receives. */
export function spec<Api = unknown>(options: SessionSpecOptions<Api>): ChildSpec {
  const id = options.id ?? (options.name !== undefined ? nameToString(options.name) : options.url);
  return {
    id,
    type: "worker",
    restart: options.restart ?? "permanent",
    shutdown: options.shutdown ?? 5_000,
    start: async (context) => {
      const name = options.name;
      if (name !== undefined && whereis(name)) {
        throw new CapnWebError("invalid_argument", `A session named ${nameToString(name)} is already running.`);
      }
      const session = new SessionActor({ label: id, ...(options as SessionSpecOptions<unknown>) }, context);
      if (name !== undefined) register(name, { kind: "session", currentMain: () => session.currentMain(), actor: session }, session.exited);
      await session.started();
      return session;
    },
  };
}
