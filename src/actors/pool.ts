// A pool of supervised sessions to one URL: `size` permanent ones, and up to `overflow`
// temporary ones started when every session is busy and stopped again after they have been idle
// for `idleTimeout`. `CapnWeb.session(poolName)` hands out the root stub of the least busy
// connected session; everything done through that stub (a whole pipeline) stays on it.

import { CapnWebError } from "../protocol/errors.js";
import type { Child, ChildSpec, ExitReason, RestartType, StartContext } from "../supervisor/child.js";
import type { SupervisorInspection } from "../supervisor/inspection.js";
import { type Name, nameToString } from "../supervisor/registry.js";
import { Supervisor } from "../supervisor/supervisor.js";
import { register, whereis } from "./names.js";
import { SessionActor, type SessionInspection, type SessionOptions } from "./session-actor.js";

/** A pool: the supervisor of its sessions, with its size and overflow. */
export interface PoolInspection extends Omit<SupervisorInspection<SessionInspection>, "kind"> {
  kind: "pool";
  size: number;
  overflow: { max: number; running: number };
}

export interface PoolSpecOptions<Api = unknown> extends SessionOptions<Api> {
  name: Name;
  /** Permanent sessions (default 4). */
  size?: number;
  /** Extra sessions allowed under load (default 0). */
  overflow?: number;
  /** A session with at least this many calls in flight counts as busy (default 1). */
  busyAt?: number;
  /** An overflow session idle this long is stopped, ms (default 10,000). */
  idleTimeout?: number;
  id?: string;
  restart?: RestartType;
}

/** A pool of supervised sessions as a child spec; `Api` types the root that `onConnect` receives. */
export function spec<Api = unknown>(specOptions: PoolSpecOptions<Api>): ChildSpec {
  const options = specOptions as PoolSpecOptions<unknown>;
  const id = options.id ?? nameToString(options.name);
  return {
    id,
    type: "supervisor",
    restart: options.restart ?? "permanent",
    shutdown: "infinity",
    start: async (context) => {
      if (whereis(options.name)) throw new CapnWebError("invalid_argument", `A session named ${id} is already running.`);
      const pool = await Pool.start(id, options, context);
      register(options.name, { kind: "pool", pick: () => pool.pick() }, pool.exited);
      return pool;
    },
  };
}

export class Pool implements Child {
  private readonly members: SessionActor[] = [];
  private overflowCount = 0;
  private nextOverflowId = 0;
  private readonly idleSince = new Map<string, number>();
  private reaper: NodeJS.Timeout | undefined;

  /** Set once the member sessions have started (members adopt themselves as they start). */
  private supervisor!: Supervisor;

  private constructor(
    readonly id: string,
    private readonly options: PoolSpecOptions,
  ) {}

  static async start(id: string, options: PoolSpecOptions, context: StartContext): Promise<Pool> {
    const size = options.size ?? 4;
    const overflow = options.overflow ?? 0;
    if (!(Number.isInteger(size) && size >= 1)) throw new CapnWebError("invalid_argument", `Pool size must be an integer >= 1, got ${size}`);
    if (!(Number.isInteger(overflow) && overflow >= 0)) throw new CapnWebError("invalid_argument", `Pool overflow must be an integer >= 0, got ${overflow}`);
    const pool = new Pool(id, options);
    const members = Array.from({ length: size }, (_, i) => pool.memberSpec(String(i), "permanent"));
    pool.supervisor = await Supervisor.start(members, { name: id, strategy: "one_for_one", maxRestarts: size * 3, maxSeconds: 5 }, context);
    const idle = options.idleTimeout ?? 10_000;
    pool.reaper = setInterval(() => pool.reapIdle(idle), Math.max(50, idle / 2));
    pool.reaper.unref();
    pool.supervisor.exited.then(() => clearInterval(pool.reaper));
    return pool;
  }

  /** A member session: permanent for the pool's size, temporary for overflow. */
  private memberSpec(memberId: string, restart: RestartType): ChildSpec {
    return {
      id: memberId,
      restart,
      shutdown: 5_000,
      start: async (memberContext) => {
        const member = new SessionActor({ ...this.options, label: `${this.id}#${memberId}` }, memberContext);
        await member.started();
        this.adopt(member);
        return member;
      },
    };
  }

  private adopt(member: SessionActor): void {
    this.members.push(member);
    member.exited.then(() => {
      const index = this.members.indexOf(member);
      if (index >= 0) this.members.splice(index, 1);
    });
  }

  /** The supervisor of the member sessions (their ids are "0", "1", ..., "overflow-N"). */
  get memberSupervisor(): Supervisor {
    return this.supervisor;
  }

  get exited(): Promise<ExitReason> {
    return this.supervisor.exited;
  }

  /** The root stub of the least busy connected session; starts an overflow session if all are busy. */
  pick(): unknown {
    let best: SessionActor | undefined;
    for (const member of this.members) {
      if (!member.isConnected) continue;
      if (!best || member.callsInFlight < best.callsInFlight) best = member;
    }
    const busyAt = this.options.busyAt ?? 1;
    if ((!best || best.callsInFlight >= busyAt) && this.overflowCount < (this.options.overflow ?? 0) && this.supervisor.isRunning) {
      this.overflowCount++;
      const overflowId = `overflow-${this.nextOverflowId++}`;
      this.supervisor.startChild(this.memberSpec(overflowId, "temporary")).then(
        (child) => (child ? child.exited.then(() => this.overflowCount--) : this.overflowCount--),
        () => this.overflowCount--,
      );
    }
    // With nobody connected, any member's root fails fast with `disconnected` (or queues).
    return (best ?? this.members[0])?.root ?? failingRoot(this.id);
  }

  private reapIdle(idleTimeout: number): void {
    const now = Date.now();
    for (const member of this.members) {
      const label = member.label;
      if (!label.includes("#overflow-")) continue;
      if (member.callsInFlight > 0) {
        this.idleSince.delete(label);
        continue;
      }
      const since = this.idleSince.get(label) ?? now;
      this.idleSince.set(label, since);
      if (now - since >= idleTimeout) {
        this.idleSince.delete(label);
        this.supervisor.terminateChild(label.slice(label.indexOf("#") + 1)).catch(() => {});
      }
    }
  }

  stop(): void {
    clearInterval(this.reaper);
    this.supervisor.stop();
  }

  kill(): void {
    clearInterval(this.reaper);
    this.supervisor.kill();
  }

  inspect(): PoolInspection {
    return {
      ...(this.supervisor.inspect() as SupervisorInspection<SessionInspection>),
      kind: "pool",
      size: this.options.size ?? 4,
      overflow: { max: this.options.overflow ?? 0, running: this.overflowCount },
    };
  }
}

function failingRoot(id: string): never {
  throw new CapnWebError("disconnected", `Pool ${id} has no sessions.`);
}
