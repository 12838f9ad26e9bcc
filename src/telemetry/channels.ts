// Telemetry on node:diagnostics_channel, named like the original's telemetry events:
//   capnweb:release:sent          { importId, refcount, reason }
//   capnweb:connection:up         { name, url }
//   capnweb:connection:down       { name, url, error }
//   capnweb:connection:reconnect  { name, url, attempt, delay }
// Publishing checks `hasSubscribers` first, so nobody listening costs a property read.

import diagnostics from "node:diagnostics_channel";
import { observeReleases } from "../protocol/ownership.js";

export type TelemetryEvent = "release:sent" | "connection:up" | "connection:down" | "connection:reconnect";

let prefix = "capnweb";
const channels = new Map<TelemetryEvent, diagnostics.Channel>();

/** The channel of an event under the current prefix ("capnweb" unless configured). */
export function channel(event: TelemetryEvent): diagnostics.Channel {
  let found = channels.get(event);
  if (!found) channels.set(event, (found = diagnostics.channel(`${prefix}:${event}`)));
  return found;
}

export function setTelemetryPrefix(next: string): void {
  if (!/^[\w.-]+$/.test(next)) throw new RangeError(`Invalid telemetry prefix ${JSON.stringify(next)}`);
  prefix = next;
  channels.clear();
}

export function telemetryPrefix(): string {
  return prefix;
}

export function publish(event: TelemetryEvent, message: object): void {
  const target = channel(event);
  if (target.hasSubscribers) target.publish(message);
}

observeReleases((release) => publish("release:sent", release));
