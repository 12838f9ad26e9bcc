// telemetry.attach(id, events, handler): the original's :telemetry.attach, over the channels.
// Attached handlers follow the channels when the prefix is configured anew.

import { diagnostics } from "../platform/diagnostics.js";
import { onConfig } from "../config.js";
import { CapnWebError } from "../protocol/errors.js";
import { TELEMETRY_EVENTS, type TelemetryEvent, type TelemetryMessages, telemetryPrefix } from "./channels.js";

/**
 * Called with the event's name and its message (see `TelemetryMessages`). The two are one
 * union of pairs, so checking `event` narrows `message`.
 */
export type TelemetryHandler<E extends TelemetryEvent = TelemetryEvent> = (...args: TelemetryPair<E>) => void;

/** One event with its message, for each event of `E`. */
export type TelemetryPair<E extends TelemetryEvent> = E extends TelemetryEvent ? [event: E, message: TelemetryMessages[E]] : never;

interface Subscription {
  event: TelemetryEvent;
  name: string;
  listener: (message: unknown) => void;
}

const attached = new Map<string, Subscription[]>();

const EVENTS: readonly TelemetryEvent[] = TELEMETRY_EVENTS;

/** Calls `handler` for each of `events` until `detach(id)`. An id can be attached once. */
export function attach<E extends TelemetryEvent>(id: string, events: readonly E[], handler: TelemetryHandler<NoInfer<E>>): void {
  if (attached.has(id)) throw new CapnWebError("invalid_argument", `A telemetry handler is already attached as ${id}.`);
  for (const event of events) {
    if (!EVENTS.includes(event)) throw new CapnWebError("invalid_argument", `Unknown telemetry event ${event} (one of ${EVENTS.join(", ")}).`);
  }
  const subscriptions = events.map((event): Subscription => {
    const listener = (message: unknown) => {
      try {
        (handler as (event: TelemetryEvent, message: unknown) => void)(event, message);
      } catch {
        // A failing telemetry handler must not fail the call it observes.
      }
    };
    const name = `${telemetryPrefix()}:${event}`;
    diagnostics.subscribe(name, listener);
    return { event, name, listener };
  });
  attached.set(id, subscriptions);
}

/** Removes a handler attached as `id`; false if there was none. */
export function detach(id: string): boolean {
  const subscriptions = attached.get(id);
  if (!subscriptions) return false;
  for (const { name, listener } of subscriptions) diagnostics.unsubscribe(name, listener);
  attached.delete(id);
  return true;
}

export const events = EVENTS;

onConfig((settings) => {
  for (const subscriptions of attached.values()) {
    for (const subscription of subscriptions) {
      const name = `${settings.telemetryPrefix}:${subscription.event}`;
      if (name === subscription.name) continue;
      diagnostics.unsubscribe(subscription.name, subscription.listener);
      diagnostics.subscribe(name, subscription.listener);
      subscription.name = name;
    }
  }
});
