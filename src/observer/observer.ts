// observe(root): a live observer page for a supervision tree, like OTP's observer. The HTTP
// server serves the page and its script; the page then opens a Cap'n Web WebSocket session of
// its own at /rpc and receives each update as the answer to its `next()` call (service.ts).
//
// Safe by default: it binds 127.0.0.1, its WebSocket accepts browser pages from its own origin
// only (another site open in the same browser cannot reach the controls), and the controls are
// refused unless the application passes `controls: true`.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Inspectable } from "../actors/inspect.js";
import { CapnWebHandlers } from "../server/handlers.js";
import { observerPage } from "./page-html.js";
import { PAGE_BUNDLE_NAME, pageScript } from "./page-script.js";
import { ObserverService } from "./service.js";

export interface ObserverOptions {
  /** Where to listen (default 127.0.0.1: only this machine can open the page). */
  host?: string;
  /** Default 0: a free port (see `url`). */
  port?: number;
  /** Milliseconds between updates while a page is open (default 1,000; events push sooner). */
  intervalMs?: number;
  /**
   * Lets the page restart and stop children and drop sessions' connections (default false:
   * those calls are refused with a `forbidden` error). Turn it on only where whoever can open
   * the page may operate the application.
   */
  controls?: boolean;
  /** Seconds of call rates and latencies kept and drawn (default 300). */
  historySeconds?: number;
  /** Log entries kept (default 500). */
  logSize?: number;
}

export interface Observer {
  /** The page's address. */
  readonly url: string;
  /** Pages connected now. The observer listens to telemetry and runs a timer only while there is one. */
  readonly pages: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * The page runs its own script only, talks to its own origin only, and may not be framed: another
 * site cannot lay it under a decoy and have the operator press its buttons.
 */
const PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export async function observe(root: Inspectable, options: ObserverOptions = {}): Promise<Observer> {
  const host = options.host ?? "127.0.0.1";
  const service = new ObserverService(root, {
    intervalMs: options.intervalMs,
    controls: options.controls,
    seconds: options.historySeconds,
    logSize: options.logSize,
  });
  let port = 0;
  const sameOrigin = (origin: string): boolean => {
    try {
      const url = new URL(origin);
      return url.protocol === "http:" && url.port === String(port) && (LOOPBACK.has(url.hostname) || url.hostname === host);
    } catch {
      return false;
    }
  };
  const handlers = new CapnWebHandlers({ main: () => service.openPage(), allowedOrigins: sameOrigin, untraced: true });
  const page = observerPage(`/${PAGE_BUNDLE_NAME}`);
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/" || path === "/index.html") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "content-security-policy": PAGE_POLICY });
      response.end(page);
    } else if (path === `/${PAGE_BUNDLE_NAME}`) {
      pageScript().then(
        (script) => {
          response.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" });
          response.end(script);
        },
        (error: Error) => {
          response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
          response.end(error.message);
        },
      );
    } else if (path === "/favicon.ico") {
      // The page declares its icon inline; a browser asking anyway gets "nothing", not an error.
      response.writeHead(204).end();
    } else {
      response.writeHead(404, { "content-type": "text/plain" });
      response.end("not found");
    }
  });
  server.on("upgrade", (request, socket, head) => {
    if ((request.url ?? "").split("?")[0] === "/rpc") handlers.handleUpgrade(request, socket, head);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  port = address.port;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${port}/`,
    get pages() {
      return service.pageCount;
    },
    async close() {
      service.close();
      await handlers.close({ deadline: 1_000 });
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
