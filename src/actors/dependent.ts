// Session.dependent(name, spec): a supervised child that depends on a session, the OTP way.
//
// The child starts once the session is connected and restored, and is started again after every
// reconnect: the session healed and nothing crashed, so its supervisor never sees these restarts
// and they cost no restart intensity. A child that crashes while its session is up crashes the
// dependent (its supervisor decides, as for any crash); one that crashes while the session is
// down waits for the connection instead of burning its supervisor's intensity. When the session
// ends, the child is stopped, and starts again once a session under the name is ready again (a
// session restarted by its supervisor).

import type { Child, ChildSpec, ExitReason, StartContext } from "../supervisor/child.js";
import { exitSignal, isAbnormal } from "../supervisor/child.js";
import type { Inspection } from "../supervisor/inspection.js";
import { type Name, nameToString } from "../supervisor/registry.js";
import { logger } from "../logging.js";
import { whenRegistered } from "./names.js";
import type { SessionActor, SessionEvent } from "./session-actor.js";

export type DependentStatus = "waiting" | "running" | "stopping" | "stopped";

/** A dependent child as inspection sees it; `child` is the dependent's own child while it runs. */
export interface DependentInspection<C extends Inspection = Inspection> extends Inspection {
  kind: "dependent";
  status: DependentStatus;
  /** The session it depends on, by name. */
  session: string;
  /** Restarts after a reconnect (not counted by any supervisor). */
  reconnectRestarts: number;
  child?: C;
}

/** Wraps `spec` so that its child lives by the connection of the session registered as `session`. */
export function dependent(session: Name, spec: ChildSpec): ChildSpec {
  return { ...spec, start: (context) => new DependentChild(session, spec, context) };
}

export class DependentChild implements Child {
  readonly exited: Promise<ExitReason>;
  private readonly exit: (reason: ExitReason) => void;
  private status: DependentStatus = "waiting";
  private child: Child | undefined;
  private starting: Promise<void> | undefined;
  private session: SessionActor | undefined;
  private unwatch: () => void = noop;
  private reconnectRestarts = 0;
  private ended = false;

  constructor(
    private readonly name: Name,
    private readonly spec: ChildSpec,
    private readonly context: StartContext,
  ) {
    ({ exited: this.exited, exit: this.exit } = exitSignal());
    this.findSession();
  }

  private findSession(): void {
    this.unwatch = whenRegistered(this.name, (endpoint) => {
      if (this.ended || endpoint.kind !== "session") return;
      this.attach(endpoint.actor);
    });
  }

  private attach(session: SessionActor): void {
    this.session = session;
    this.unwatch = session.watch((event) => this.onSession(event));
    if (session.isReady) this.onSession("ready");
  }

  private onSession(event: SessionEvent): void {
    if (this.ended) return;
    if (event === "ready") {
      if (this.child) {
        this.reconnectRestarts++;
        void this.restartChild();
      } else if (!this.starting) {
        void this.startChild();
      }
    } else if (event === "ended") {
      this.unwatch();
      this.session = undefined;
      void this.stopChild().then(() => {
        if (!this.ended) this.findSession();
      });
    }
  }

  private startChild(): Promise<void> {
    this.starting = (async () => {
      try {
        const child = await this.spec.start(this.context);
        // An ignored start leaves nothing to run: it waits for the next connection.
        if (child === "ignore") return;
        if (this.ended) {
          child.stop();
          return;
        }
        this.child = child;
        this.status = "running";
        void child.exited.then((reason) => this.childExited(child, reason));
      } catch (error) {
        // A start that fails while the session is up is a crash like any other.
        if (!this.ended) this.finish({ error });
      } finally {
        this.starting = undefined;
      }
    })();
    return this.starting;
  }

  private async restartChild(): Promise<void> {
    await this.stopChild();
    if (!this.ended && this.session?.isConnected) await this.startChild();
  }

  private async stopChild(): Promise<void> {
    await this.starting;
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    this.status = this.ended ? "stopping" : "waiting";
    child.stop();
    await child.exited;
  }

  private childExited(child: Child, reason: ExitReason): void {
    if (this.child !== child || this.ended) return;
    this.child = undefined;
    this.status = "waiting";
    if (!isAbnormal(reason)) {
      this.finish(reason);
      return;
    }
    if (this.session?.isConnected) {
      this.finish(reason);
      return;
    }
    const err = reason === "killed" ? reason : reason.error;
    logger({ dependent: this.spec.id }).warn({ err, session: nameToString(this.name) }, "crashed while its session was down; waiting for the connection");
  }

  private finish(reason: ExitReason): void {
    if (this.ended) return;
    this.ended = true;
    this.status = "stopped";
    this.unwatch();
    this.exit(reason);
  }

  stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.unwatch();
    this.status = "stopping";
    void this.stopChild().then(() => {
      this.status = "stopped";
      this.exit("shutdown");
    });
  }

  kill(): void {
    const child = this.child;
    this.child = undefined;
    child?.kill();
    if (!this.ended) this.finish("killed");
  }

  /** The child running now, if any. */
  get current(): Child | undefined {
    return this.child;
  }

  inspect(): DependentInspection {
    return {
      kind: "dependent",
      status: this.status,
      session: nameToString(this.name),
      reconnectRestarts: this.reconnectRestarts,
      ...(this.child ? { child: this.child.inspect() } : {}),
    };
  }
}

function noop(): void {}
