// Named channels for telemetry: node:diagnostics_channel where the runtime has it (so that APM
// tools and `diagnostics.subscribe("capnweb:call:stop", ...)` see our events), and a small
// stand-in with the same surface elsewhere (browsers, Web Workers).

import { nodeBuiltin } from "./builtins.js";

export type ChannelListener = (message: unknown, name: string | symbol) => void;

export interface Channel {
  readonly hasSubscribers: boolean;
  readonly name: string | symbol;
  publish(message: unknown): void;
  subscribe(listener: ChannelListener): void;
  unsubscribe(listener: ChannelListener): boolean;
}

interface Diagnostics {
  channel(name: string): Channel;
  subscribe(name: string, listener: ChannelListener): void;
  unsubscribe(name: string, listener: ChannelListener): boolean;
}

class LocalChannel implements Channel {
  private readonly listeners = new Set<ChannelListener>();
  constructor(readonly name: string) {}
  get hasSubscribers(): boolean {
    return this.listeners.size > 0;
  }
  publish(message: unknown): void {
    for (const listener of this.listeners) {
      try {
        listener(message, this.name);
      } catch (error) {
        // As node:diagnostics_channel does: a failing subscriber does not fail the publisher.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
  subscribe(listener: ChannelListener): void {
    this.listeners.add(listener);
  }
  unsubscribe(listener: ChannelListener): boolean {
    return this.listeners.delete(listener);
  }
}

function localDiagnostics(): Diagnostics {
  const channels = new Map<string, LocalChannel>();
  const channel = (name: string): LocalChannel => {
    let found = channels.get(name);
    if (!found) channels.set(name, (found = new LocalChannel(name)));
    return found;
  };
  return {
    channel,
    subscribe: (name, listener) => channel(name).subscribe(listener),
    unsubscribe: (name, listener) => channel(name).unsubscribe(listener),
  };
}

/** node:diagnostics_channel, or the stand-in where the runtime has none. */
export const diagnostics: Diagnostics = nodeBuiltin<Diagnostics>("node:diagnostics_channel") ?? localDiagnostics();
