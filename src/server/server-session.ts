// An accepted connection as a supervised child: the server's sessions live under a dynamic
// supervisor (temporary children: a client that leaves is not brought back), so that they show
// in inspection and stop in order when the server does.

import { CapnWebError } from "../protocol/errors.js";
import type { RpcSession, SessionStats } from "../protocol/session.js";
import type { CapabilityTables, TargetDescriber } from "../protocol/tables.js";
import { type Child, type ChildSpec, exitSignal } from "../supervisor/child.js";
import type { Inspection } from "../supervisor/inspection.js";

/** A connection the server accepted, as inspection sees it. */
export interface ServerSessionInspection extends Inspection {
  kind: "server-session";
  status: "open" | "ended";
  /** "websocket", "http-batch", ... */
  transport: string;
  remoteAddress: string | undefined;
  uptimeMs: number;
  tables: SessionStats;
  callsInFlight: number;
}

let shuttingDown: CapnWebError | undefined;

export class ServerSessionChild implements Child {
  readonly exited;
  private readonly exit;
  private readonly startedAt = Date.now();

  constructor(
    private readonly session: RpcSession,
    private readonly transport: string,
    private readonly remoteAddress: string | undefined,
  ) {
    ({ exited: this.exited, exit: this.exit } = exitSignal());
    // A client that went away is a normal end; a broken protocol or limit is not.
    session.onEnded((reason) => this.exit(reason.type === "protocol" || reason.type === "aborted" || reason.type === "limit" ? { error: reason } : "normal"));
  }

  static spec(id: string, session: RpcSession, transport: string, remoteAddress: string | undefined): ChildSpec {
    return {
      id,
      restart: "temporary",
      shutdown: 5_000,
      start: () => new ServerSessionChild(session, transport, remoteAddress),
    };
  }

  stop(): void {
    this.session.close((shuttingDown ??= new CapnWebError("disconnected", "The server is shutting down.")));
  }

  kill(): void {
    // Reported first, so that the end the close causes does not pass for a normal one.
    this.exit("killed");
    this.stop();
  }

  /** Every import and export of the connection, described. */
  capabilityTables(describeTarget?: TargetDescriber): CapabilityTables {
    return this.session.isEnded ? { imports: [], exports: [] } : this.session.capabilityTables(describeTarget);
  }

  /** Closes the connection (the client may come back; this child is not restarted). */
  dropConnection(): boolean {
    if (this.session.isEnded) return false;
    this.stop();
    return true;
  }

  inspect(): ServerSessionInspection {
    return {
      kind: "server-session",
      status: this.session.isEnded ? "ended" : "open",
      transport: this.transport,
      remoteAddress: this.remoteAddress,
      uptimeMs: Date.now() - this.startedAt,
      tables: this.session.isEnded ? { imports: 0, exports: 0 } : this.session.stats(),
      callsInFlight: this.session.callsInFlight,
    };
  }
}
