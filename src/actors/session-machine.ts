// The lifecycle of one supervised session, as an XState machine:
//
//   connecting ──ok──▶ connected ──dropped──▶ backingOff ──delay──▶ connecting ...
//        │                 │                      │
//        └─fail─▶ backingOff, or failed when the reconnect policy has no attempt left
//   any state ──STOP──▶ stopping ──▶ stopped
//
// The machine holds only plain data (attempt count, next attempt time, last error); the
// connection itself and the application's hooks live in the SessionActor that provides the
// runtime. `failed` is an abnormal exit for the supervisor to decide on.
//
// An attempt is an entry action that reports back with CONNECTED or CONNECT_FAILED, not an
// invoked promise actor: invoking spawned a child actor (with its own AbortController) per
// attempt, which was 40 % of the machine's cost of starting a session (measured: 50 → 30 µs).
// Only `connecting` listens for those events, and it is left only through them or STOP, so an
// outcome always belongs to the attempt of the current `connecting` state.

import { type AnyActorRef, assign, setup, stopChild } from "xstate";
import type { Backoff } from "../supervisor/backoff.js";

export interface SessionMachineContext {
  name: string;
  url: string;
  backoff: Backoff;
  /** Retries since the last connection that lasted (1 = the first retry). */
  attempt: number;
  /** Delay chosen for the pending retry, ms. */
  delay: number;
  /** When the next connection attempt starts (epoch ms), while backing off. */
  nextAttemptAt: number | undefined;
  /** The connection's owner: one machine definition serves every session, each with its runtime. */
  runtime: SessionRuntime;
  /** When the current connection came up (epoch ms). */
  connectedAt: number | undefined;
  lastError: string | undefined;
  connects: number;
  disconnects: number;
}

export type SessionMachineEvent =
  | { type: "CONNECTED" }
  | { type: "CONNECT_FAILED"; error: unknown }
  | { type: "DROPPED"; reason: string }
  | { type: "STOP" }
  /** Stops one of the session's own XState children (an exported XState target, in an inspected tree). */
  | { type: "capnweb.stop"; child: AnyActorRef };

/** What the machine asks of the actor that owns the connection (SessionActor). */
export interface SessionRuntime {
  openConnection(): Promise<void>;
  announceConnected(): void;
  announceDisconnected(reason: string): void;
  closeConnection(): void;
}

export interface SessionMachineInput {
  name: string;
  url: string;
  backoff: Backoff;
  runtime: SessionRuntime;
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionMachineContext,
    events: {} as SessionMachineEvent,
    input: {} as SessionMachineInput,
  },
  actions: {
    openConnection: ({ context, self }) => {
      context.runtime.openConnection().then(
        () => report(self, { type: "CONNECTED" }),
        (error: unknown) => report(self, { type: "CONNECT_FAILED", error }),
      );
    },
    // The runtime runs the application's onConnect / onDisconnect hooks (a throw there is a crash).
    announceConnected: ({ context }) => context.runtime.announceConnected(),
    announceDisconnected: ({ context }, params: { reason: string }) => context.runtime.announceDisconnected(params.reason),
    closeConnection: ({ context }) => context.runtime.closeConnection(),
  },
  delays: {
    backoff: ({ context }) => context.delay,
  },
  guards: {
    /** A retry is allowed; a connection that stayed up `resetAfter` ms starts the count anew. */
    mayRetry: ({ context }) => context.backoff.allows(effectiveAttempt(context) + 1),
  },
}).createMachine({
  id: "session",
  context: ({ input }) => ({
    name: input.name,
    url: input.url,
    backoff: input.backoff,
    runtime: input.runtime,
    attempt: 0,
    delay: 0,
    nextAttemptAt: undefined,
    connectedAt: undefined,
    lastError: undefined,
    connects: 0,
    disconnects: 0,
  }),
  initial: "connecting",
  on: {
    "capnweb.stop": { actions: stopChild(({ event }) => event.child) },
  },
  states: {
    connecting: {
      entry: "openConnection",
      on: {
        CONNECTED: {
          target: "connected",
          actions: assign({ connectedAt: () => Date.now(), nextAttemptAt: undefined, connects: ({ context }) => context.connects + 1 }),
        },
        CONNECT_FAILED: [
          {
            guard: "mayRetry",
            target: "backingOff",
            actions: assign(({ context, event }) => scheduleRetry(context, describe(event.error))),
          },
          { target: "failed", actions: assign({ lastError: ({ event }) => describe(event.error) }) },
        ],
        STOP: "stopping",
      },
    },
    connected: {
      entry: "announceConnected",
      on: {
        DROPPED: [
          {
            guard: "mayRetry",
            target: "backingOff",
            actions: [
              { type: "announceDisconnected", params: ({ event }) => ({ reason: event.reason }) },
              assign(({ context, event }) => ({ ...scheduleRetry(context, event.reason), disconnects: context.disconnects + 1 })),
            ],
          },
          {
            target: "failed",
            actions: [
              { type: "announceDisconnected", params: ({ event }) => ({ reason: event.reason }) },
              assign(({ context, event }) => ({ lastError: event.reason, disconnects: context.disconnects + 1 })),
            ],
          },
        ],
        STOP: "stopping",
      },
    },
    backingOff: {
      after: { backoff: "connecting" },
      on: { STOP: "stopping" },
    },
    stopping: {
      entry: "closeConnection",
      always: "stopped",
    },
    stopped: { type: "final" },
    failed: { type: "final", entry: "closeConnection" },
  },
});

function effectiveAttempt(context: SessionMachineContext): number {
  const lasted = context.connectedAt !== undefined && Date.now() - context.connectedAt >= context.backoff.resetAfter;
  return lasted ? 0 : context.attempt;
}

function scheduleRetry(context: SessionMachineContext, reason: string): Partial<SessionMachineContext> {
  const attempt = effectiveAttempt(context) + 1;
  const delay = context.backoff.delay(attempt);
  return { attempt, delay, nextAttemptAt: Date.now() + delay, connectedAt: undefined, lastError: reason };
}

/** A stopped machine takes no events (and XState warns about them): an outcome after STOP is dropped. */
function report(self: AnyActorRef, event: SessionMachineEvent): void {
  if (self.getSnapshot().status === "active") self.send(event);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
