// serve(): a ready-made server with WebSocket and HTTP batch on one port.

import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CapnWebHandlers, type CloseOptions, type HandlerOptions } from "./handlers.js";

export interface ServeOptions extends HandlerOptions {
  /** Interface to listen on (default 127.0.0.1; "0.0.0.0" or "::" for all). */
  host?: string;
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
}

export interface Server {
  /** `http://host:port/`: HTTP batch endpoint. */
  readonly url: string;
  /** `ws://host:port/`: WebSocket endpoint. */
  readonly wsUrl: string;
  readonly host: string;
  readonly port: number;
  readonly handlers: CapnWebHandlers;
  readonly http: HttpServer;
  /**
   * Stops accepting, closes every session, and resolves when the port is free; connections still
   * open at the deadline (peers that do not complete the closing handshake) are dropped.
   */
  close(options?: CloseOptions): Promise<void>;
}

export async function serve(options: ServeOptions): Promise<Server> {
  const handlers = new CapnWebHandlers(options);
  const { handshakeTimeout, bodyTimeout } = handlers.limits;
  // Slow headers are cut at handshakeTimeout (Node checks every connectionsCheckingInterval);
  // a request, headers and body, at both. Mounted handlers leave these to their own server.
  const http = createServer(
    {
      headersTimeout: handshakeTimeout,
      requestTimeout: handshakeTimeout + bodyTimeout,
      connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(handshakeTimeout / 4))),
    },
    handlers.handleRequest,
  );
  http.on("upgrade", handlers.handleUpgrade);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 0, host, () => {
      http.off("error", reject);
      resolve();
    });
  });
  const address = http.address() as AddressInfo;
  const authority = address.family === "IPv6" ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${authority}/`,
    wsUrl: `ws://${authority}/`,
    host: address.address,
    port: address.port,
    handlers,
    http,
    close(closeOptions?: CloseOptions) {
      closed ??= handlers.close(closeOptions).then(
        () =>
          new Promise<void>((resolve) => {
            http.close(() => resolve());
            http.closeAllConnections();
          }),
      );
      return closed;
    },
  };
}
