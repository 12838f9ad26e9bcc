// connect() as the public API sees it: a plain connection, or, with `reconnect`, a session actor
// of its own (outside any supervision tree) whose root stub survives reconnects.

import { type ConnectOptions, connect as connectOnce, registerEndpoint } from "../client/connect.js";
import { CapnWebError } from "../protocol/errors.js";
import type { Stub } from "../protocol/types.js";
import type { BackoffOptions } from "../supervisor/backoff.js";
import { SessionActor } from "./session-actor.js";

export interface ReconnectingConnectOptions extends ConnectOptions {
  /** Reconnect when the connection drops: "exponential", "constant", or a full schedule. */
  reconnect?: "exponential" | "constant" | false | BackoffOptions;
  /** Reconnect attempts before giving up (default Infinity). */
  maxAttempts?: number;
}

export async function connect<Api = unknown>(url: string | URL, options: ReconnectingConnectOptions = {}): Promise<Stub<Api>> {
  const { reconnect, maxAttempts, ...plain } = options;
  if (reconnect === undefined || reconnect === false) return connectOnce<Api>(url, plain);
  if (options.transport === "http") {
    throw new CapnWebError("invalid_argument", "reconnect applies to WebSocket sessions; HTTP batch has no connection to keep.");
  }
  const session = new SessionActor(
    {
      url: String(url),
      reconnect,
      ...(maxAttempts !== undefined ? { maxAttempts } : {}),
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
      main: options.main,
      limits: options.limits,
      onSendError: options.onSendError,
    },
    { path: ["connect"] },
  );
  await session.started();
  registerEndpoint(session.root, {
    stats: () => session.stats(),
    close: () => session.stop(),
  });
  return session.root as Stub<Api>;
}
