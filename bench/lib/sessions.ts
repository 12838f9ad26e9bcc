// Opening many idle sessions of one kind (for the heap workload): each is open and has answered
// one call, then sits idle.

import { WebSocket } from "ws";
import { newWebSocketRpcSession } from "capnweb";
import { CapnWeb } from "./library.js";
import { RAW_SMALL_MESSAGE } from "./clients.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

export type SessionKind = "capnweb" | "ours" | "supervised" | "raw";
export const SESSION_KINDS: SessionKind[] = ["capnweb", "ours", "supervised", "raw"];

/** The server a kind of session talks to (a supervised session is our client). */
export function serverFor(kind: SessionKind): "capnweb" | "ours" | "raw" {
  return kind === "supervised" ? "ours" : kind;
}

export interface OpenSessions {
  count: number;
  close(): Promise<void>;
}

let tags = 0;

async function inBatches(n: number, size: number, open: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += size) {
    await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => open(i + j)));
  }
}

export async function openSessions(kind: SessionKind, wsUrl: string, n: number): Promise<OpenSessions> {
  const tag = `${process.pid}-${++tags}`;
  switch (kind) {
    case "capnweb": {
      const apis: any[] = [];
      await inBatches(n, 50, async (i) => {
        const api: any = newWebSocketRpcSession(wsUrl);
        apis[i] = api;
        await api.square(i);
      });
      return {
        count: n,
        async close() {
          for (const api of apis) api[Symbol.dispose]();
        },
      };
    }
    case "ours": {
      const apis: any[] = [];
      await inBatches(n, 50, async (i) => {
        const api: any = await CapnWeb.connect<any>(wsUrl);
        apis[i] = api;
        await api.square(i);
      });
      return {
        count: n,
        async close() {
          for (const api of apis) CapnWeb.close(api);
        },
      };
    }
    case "supervised": {
      const supervisor = await CapnWeb.DynamicSupervisor.create({ name: `heap-${tag}` });
      await inBatches(n, 50, async (i) => {
        const name = `heap-${tag}-${i}`;
        await supervisor.startChild(CapnWeb.Session.spec({ id: name, name, url: wsUrl }));
        await CapnWeb.session<any>(name).square(i);
      });
      return { count: n, close: () => supervisor.close() };
    }
    case "raw": {
      const sockets: WebSocket[] = [];
      await inBatches(n, 50, async (i) => {
        const socket = new WebSocket(wsUrl, { perMessageDeflate: false });
        sockets[i] = socket;
        await new Promise<void>((resolve, reject) => {
          socket.once("open", resolve);
          socket.once("error", reject);
        });
        await new Promise<void>((resolve) => {
          socket.once("message", () => resolve());
          socket.send(RAW_SMALL_MESSAGE);
        });
      });
      return {
        count: n,
        async close() {
          for (const socket of sockets) socket.close();
        },
      };
    }
  }
}
