// How a client opens a WebSocket: with `ws` on Node, Bun and Deno (headers, pings), with the
// platform's WebSocket in browsers and workers. The entry point decides: the Node entry loads the
// `ws` transport, which installs itself here; the browser entry never loads `ws` at all.

import type { Transport } from "./transport.js";
import { openStandardWebSocket } from "./web-socket-standard.js";

export interface OpenWebSocketOptions {
  headers?: Record<string, string>;
  /** Milliseconds to wait for the upgrade to complete. */
  timeout?: number;
  maxPayload?: number;
}

/** A WebSocket transport as the client uses it. */
export interface ClientWebSocket extends Transport {
  /** Pings every `intervalMs` where the transport can (a dead network is noticed then). */
  startHeartbeat(intervalMs: number): void;
}

export type WebSocketOpener = (url: string, options: OpenWebSocketOptions) => Promise<ClientWebSocket>;

let opener: WebSocketOpener = openStandardWebSocket;

/** Called by the `ws` transport when it is loaded (the Node entry). */
export function installWebSocketOpener(next: WebSocketOpener): void {
  opener = next;
}

/** Connects to a Cap'n Web WebSocket endpoint; resolves once the socket is open. */
export function openClientWebSocket(url: string, options: OpenWebSocketOptions = {}): Promise<ClientWebSocket> {
  return opener(url, options);
}
