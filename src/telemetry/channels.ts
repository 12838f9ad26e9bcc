// Telemetry on node:diagnostics_channel, named like the original's telemetry events:
//   capnweb:call:start            { path }
//   capnweb:call:stop             { path, duration }            (ms, when its answer arrived)
//   capnweb:call:exception        { path, duration, error }
//   capnweb:serve:start           { path }                      (a peer's call to our export)
//   capnweb:serve:stop            { path, duration }            (ms, when we sent its answer)
//   capnweb:serve:exception       { path, duration, error }
//   capnweb:release:sent          { importId, refcount, reason }
//   capnweb:connection:up         { name, url }
//   capnweb:connection:down       { name, url, error }
//   capnweb:connection:reconnect  { name, url, attempt, delay }
//   capnweb:supervisor:crash        { supervisor, path, childId, reason, restart }
//   capnweb:supervisor:start_error  { supervisor, path, childId, error }
//   capnweb:supervisor:restart      { supervisor, path, childId, restarts }
//   capnweb:supervisor:give_up      { supervisor, path, childId, cause, maxRestarts, maxSeconds }
//   capnweb:limit:exceeded          { limit, message, error, transport, address }  (session aborted)
// The supervisor reports are also logged (OTP's crash and supervisor reports): crash, start_error
// and give_up at error level, restart at info.
// Publishing checks `hasSubscribers` first, so nobody listening costs a property read. Where the
// runtime has no node:diagnostics_channel (a browser), a stand-in with the same surface carries
// them, and `telemetry.attach` works the same.

import { type Channel, diagnostics } from "../platform/diagnostics.js";
import { config, onConfig } from "../config.js";
import { logger } from "../logging.js";
import type { CapnWebError } from "../protocol/errors.js";
import { type LimitBreach, observeLimits } from "../protocol/limits.js";
import { type CallObserver, type ReleaseEvent, observeCalls, observeReleases, observeServedCalls } from "../protocol/ownership.js";
import { type ExitReason, describeReason } from "../supervisor/child.js";
import {
  type ChildCrashReport,
  type GiveUpReport,
  type RestartReport,
  type StartErrorReport,
  type SupervisorReport,
  observeSupervisorReports,
} from "../supervisor/reports.js";

/** What each event's channel publishes. */
export interface TelemetryMessages {
  /** `path`: the method's path, dotted (`users.get`). */
  "call:start": { path: string };
  /** `duration`: ms from the call to its answer. */
  "call:stop": { path: string; duration: number };
  "call:exception": { path: string; duration: number; error: CapnWebError };
  /** A peer's call (or property read) of one of our exports, pulled: `path` as in call:start. */
  "serve:start": { path: string };
  /** `duration`: ms from its pull to the answer we sent. */
  "serve:stop": { path: string; duration: number };
  /** The method threw or rejected, or its result could not be sent; `error` says why. */
  "serve:exception": { path: string; duration: number; error: CapnWebError };
  "release:sent": ReleaseEvent;
  "connection:up": { name: string; url: string };
  "connection:down": { name: string; url: string; error: CapnWebError };
  /** `attempt` counts from 1 after each drop; `delay`: ms until the attempt. */
  "connection:reconnect": { name: string; url: string; attempt: number; delay: number };
  /** A new connection's restorables answered: how many were restored, how many failed, in ms. */
  "connection:restored": { name: string; url: string; restored: number; failed: number; duration: number };
  /** One restorable could not be restored; `error` (type `restore_failed`) carries the cause. */
  "restore:failed": { name: string; url: string; restorable: string; error: CapnWebError };
  /** A child ended abnormally, or a permanent child ended at all (OTP: child_terminated). */
  "supervisor:crash": ChildCrashReport;
  /** A restart failed to start the child; it is tried again (OTP: start_error). */
  "supervisor:start_error": StartErrorReport;
  "supervisor:restart": RestartReport;
  /** Max restart intensity: the supervisor stopped its children and exited with shutdown. */
  "supervisor:give_up": GiveUpReport;
  /** A peer broke a limit (`limit` names it) and its session was aborted; `address`: the peer's. */
  "limit:exceeded": LimitBreach;
}

export type TelemetryEvent = keyof TelemetryMessages;

/** A message of one of `E`'s channels (a union when `E` is). */
export type TelemetryMessage<E extends TelemetryEvent = TelemetryEvent> = TelemetryMessages[E];

/** Every event (a record, so that adding one to TelemetryMessages without listing it fails to compile). */
const EVENT_SET: Record<TelemetryEvent, true> = {
  "call:start": true,
  "call:stop": true,
  "call:exception": true,
  "serve:start": true,
  "serve:stop": true,
  "serve:exception": true,
  "release:sent": true,
  "connection:up": true,
  "connection:down": true,
  "connection:reconnect": true,
  "connection:restored": true,
  "restore:failed": true,
  "supervisor:crash": true,
  "supervisor:start_error": true,
  "supervisor:restart": true,
  "supervisor:give_up": true,
  "limit:exceeded": true,
};
export const TELEMETRY_EVENTS = Object.keys(EVENT_SET) as TelemetryEvent[];

let prefix = "capnweb";
const channels = new Map<TelemetryEvent, Channel>();

/**
 * Opens every channel of the current prefix now and holds it: a runtime that keeps a channel
 * only as long as something refers to it (Bun) would otherwise lose an application's early
 * subscription before the first publish.
 */
function openChannels(): void {
  for (const event of TELEMETRY_EVENTS) channel(event);
}

/** The channel of an event under the current prefix ("capnweb" unless configured). */
export function channel(event: TelemetryEvent): Channel {
  let found = channels.get(event);
  if (!found) channels.set(event, (found = diagnostics.channel(`${prefix}:${event}`)));
  return found;
}

function setTelemetryPrefix(next: string): void {
  if (!/^[\w.-]+$/.test(next)) throw new RangeError(`Invalid telemetry prefix ${JSON.stringify(next)}`);
  prefix = next;
  channels.clear();
  madeCalls.forget();
  servedCalls.forget();
  openChannels();
}

export function telemetryPrefix(): string {
  return prefix;
}

export function publish<E extends TelemetryEvent>(event: E, message: TelemetryMessages[E]): void {
  const target = channel(event);
  if (target.hasSubscribers) target.publish(message);
}

observeReleases((release) => {
  if (release.reason === "finalized") {
    // The safety net caught a leak: say so, the leak is the application's to fix.
    logger({ component: "capabilities" }).warn(release, "a stub was garbage-collected without release; released it");
  }
  publish("release:sent", release);
});

observeLimits((breach) => {
  const { error, ...fields } = breach;
  logger({ component: "limits" }).warn(fields, "a peer broke a limit; its session was aborted");
  publish("limit:exceeded", breach);
});

interface FollowedCall {
  path: string;
  startedAt: number;
}

/** The call:* or serve:* channels as a CallObserver: a call is followed only while somebody listens. */
class CallChannels implements CallObserver {
  private opened: { start: Channel; stop: Channel; exception: Channel } | undefined;

  constructor(private readonly events: { start: TelemetryEvent; stop: TelemetryEvent; exception: TelemetryEvent }) {}

  /** The prefix changed: the channels are looked up again. */
  forget(): void {
    this.opened = undefined;
  }

  /** Every call passes here: the three channels are looked up once per prefix, not per call. */
  private channels(): { start: Channel; stop: Channel; exception: Channel } {
    return (this.opened ??= {
      start: channel(this.events.start),
      stop: channel(this.events.stop),
      exception: channel(this.events.exception),
    });
  }

  start(path: readonly (string | number)[]): object | undefined {
    const { start, stop, exception } = this.channels();
    // Otherwise no object and no clock read.
    if (!start.hasSubscribers && !stop.hasSubscribers && !exception.hasSubscribers) return undefined;
    const call: FollowedCall = { path: path.join("."), startedAt: performance.now() };
    if (start.hasSubscribers) start.publish({ path: call.path });
    return call;
  }

  end(call: object, error?: CapnWebError): void {
    const { path, startedAt } = call as FollowedCall;
    const duration = performance.now() - startedAt;
    const { stop, exception } = this.channels();
    if (error === undefined) {
      if (stop.hasSubscribers) stop.publish({ path, duration });
    } else if (exception.hasSubscribers) exception.publish({ path, duration, error });
  }
}

const madeCalls = new CallChannels({ start: "call:start", stop: "call:stop", exception: "call:exception" });
const servedCalls = new CallChannels({ start: "serve:start", stop: "serve:stop", exception: "serve:exception" });
observeCalls(madeCalls);
observeServedCalls(servedCalls);

const SUPERVISOR_EVENTS = {
  crash: "supervisor:crash",
  start_error: "supervisor:start_error",
  restart: "supervisor:restart",
  give_up: "supervisor:give_up",
} as const satisfies Record<SupervisorReport["event"], TelemetryEvent>;

observeSupervisorReports({
  // Reports are built only for a configured logger or a subscribed channel.
  wants: (event) => config().logger !== undefined || channel(SUPERVISOR_EVENTS[event]).hasSubscribers,
  report(event) {
    publish(SUPERVISOR_EVENTS[event.event], event);
    if (config().logger) logReport(event);
  },
});

function logReport(event: SupervisorReport): void {
  const log = logger({ component: "supervisor", supervisor: event.path.join("/") });
  switch (event.event) {
    case "crash":
      log.error({ child: event.childId, restart: event.restart, reason: describeReason(event.reason), err: errorOf(event.reason) }, "child terminated");
      break;
    case "start_error":
      log.error({ child: event.childId, err: event.error }, "restart failed to start the child; trying again");
      break;
    case "restart":
      log.info({ child: event.childId, restarts: event.restarts }, "child restarted");
      break;
    case "give_up":
      log.error(
        { child: event.childId, err: event.cause, maxRestarts: event.maxRestarts, maxSeconds: event.maxSeconds },
        "reached max restart intensity; shutting down",
      );
      break;
  }
}

function errorOf(reason: ExitReason): unknown {
  return typeof reason === "object" && "error" in reason ? reason.error : undefined;
}

onConfig((settings) => {
  if (settings.telemetryPrefix !== prefix) setTelemetryPrefix(settings.telemetryPrefix);
});

openChannels();
