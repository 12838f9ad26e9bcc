// Telemetry on node:diagnostics_channel, named like the original's telemetry events:
//   capnweb:call:start            { path }
//   capnweb:call:stop             { path, duration }            (ms, when its answer arrived)
//   capnweb:call:exception        { path, duration, error }
//   capnweb:release:sent          { importId, refcount, reason }
//   capnweb:connection:up         { name, url }
//   capnweb:connection:down       { name, url, error }
//   capnweb:connection:reconnect  { name, url, attempt, delay }
//   capnweb:limit:exceeded        { limit, message, error, transport, address }  (session aborted)
// Publishing checks `hasSubscribers` first, so nobody listening costs a property read.

import diagnostics from "node:diagnostics_channel";
import { performance } from "node:perf_hooks";
import { onConfig } from "../config.js";
import { logger } from "../logging.js";
import type { CapnWebError } from "../protocol/errors.js";
import { type LimitBreach, observeLimits } from "../protocol/limits.js";
import { type ReleaseEvent, observeCalls, observeReleases } from "../protocol/ownership.js";

/** What each event's channel publishes. */
export interface TelemetryMessages {
  /** `path`: the method's path, dotted (`users.get`). */
  "call:start": { path: string };
  /** `duration`: ms from the call to its answer. */
  "call:stop": { path: string; duration: number };
  "call:exception": { path: string; duration: number; error: CapnWebError };
  "release:sent": ReleaseEvent;
  "connection:up": { name: string; url: string };
  "connection:down": { name: string; url: string; error: CapnWebError };
  /** `attempt` counts from 1 after each drop; `delay`: ms until the attempt. */
  "connection:reconnect": { name: string; url: string; attempt: number; delay: number };
  /** A new connection's restorables answered: how many were restored, how many failed, in ms. */
  "connection:restored": { name: string; url: string; restored: number; failed: number; duration: number };
  /** One restorable could not be restored; `error` (type `restore_failed`) carries the cause. */
  "restore:failed": { name: string; url: string; restorable: string; error: CapnWebError };
  /** A peer broke a limit (`limit` names it) and its session was aborted; `address`: the peer's. */
  "limit:exceeded": LimitBreach;
}

export type TelemetryEvent = keyof TelemetryMessages;

/** A message of one of `E`'s channels (a union when `E` is). */
export type TelemetryMessage<E extends TelemetryEvent = TelemetryEvent> = TelemetryMessages[E];

let prefix = "capnweb";
const channels = new Map<TelemetryEvent, diagnostics.Channel>();

/** The channel of an event under the current prefix ("capnweb" unless configured). */
export function channel(event: TelemetryEvent): diagnostics.Channel {
  let found = channels.get(event);
  if (!found) channels.set(event, (found = diagnostics.channel(`${prefix}:${event}`)));
  return found;
}

function setTelemetryPrefix(next: string): void {
  if (!/^[\w.-]+$/.test(next)) throw new RangeError(`Invalid telemetry prefix ${JSON.stringify(next)}`);
  prefix = next;
  channels.clear();
  callChannels = undefined;
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

let callChannels: { start: diagnostics.Channel; stop: diagnostics.Channel; exception: diagnostics.Channel } | undefined;

interface FollowedCall {
  path: string;
  startedAt: number;
}

observeCalls({
  start(path) {
    // Every call passes here: the three channels are looked up once per prefix, not per call.
    const { start, stop, exception } = (callChannels ??= {
      start: channel("call:start"),
      stop: channel("call:stop"),
      exception: channel("call:exception"),
    });
    // Followed only while somebody listens to a call channel: otherwise no object, no clock read.
    if (!start.hasSubscribers && !stop.hasSubscribers && !exception.hasSubscribers) return undefined;
    const call: FollowedCall = { path: path.join("."), startedAt: performance.now() };
    if (start.hasSubscribers) start.publish({ path: call.path });
    return call;
  },
  end(call, error) {
    const { path, startedAt } = call as FollowedCall;
    const duration = performance.now() - startedAt;
    if (error === undefined) publish("call:stop", { path, duration });
    else publish("call:exception", { path, duration, error });
  },
});

onConfig((settings) => {
  if (settings.telemetryPrefix !== prefix) setTelemetryPrefix(settings.telemetryPrefix);
});
