// A supervised session against a real server that is killed and restarted on the same port while
// the client runs: both against capnweb's own server and against ours.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { RpcTarget, newWebSocketRpcSession } from "capnweb";
import { WebSocket, WebSocketServer } from "ws";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";

// capnweb 0.12 needs a global WebSocket on Node 20 (our library does not).
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

interface Api {
  square(i: number): number;
}

/** A server that can be stopped and started again on the same port. */
interface RestartableServer {
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function capnwebServer(port = 0): Promise<RestartableServer & { port: number }> {
  class CapnwebApi extends RpcTarget {
    square(i: number) {
      return i * i;
    }
  }
  let http_: http.Server | undefined;
  let wss: WebSocketServer | undefined;
  let boundPort = port;
  const start = async () => {
    http_ = http.createServer();
    wss = new WebSocketServer({ server: http_ });
    wss.on("connection", (ws) => newWebSocketRpcSession(ws as never, new CapnwebApi()));
    await new Promise<void>((resolve) => http_!.listen(boundPort, "127.0.0.1", resolve));
    boundPort = (http_.address() as AddressInfo).port;
  };
  await start();
  return {
    get port() {
      return boundPort;
    },
    get url() {
      return `ws://127.0.0.1:${boundPort}/`;
    },
    start,
    async stop() {
      for (const client of wss!.clients) client.terminate();
      wss!.close();
      await new Promise<void>((resolve) => http_!.close(() => resolve()));
    },
  };
}

async function ourServer(): Promise<RestartableServer> {
  class OurApi extends CapnWeb.Target {
    square(i: number) {
      return i * i;
    }
  }
  let server = await CapnWeb.serve({ port: 0, main: new OurApi() });
  const port = server.port;
  return {
    url: server.wsUrl,
    start: async () => {
      server = await CapnWeb.serve({ port, main: new OurApi() });
    },
    stop: () => server.close(),
  };
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each([
  ["capnweb's server", capnwebServer],
  ["our server", ourServer],
])("a supervised session against %s", (_label, makeServer) => {
  it("backs off while the server is down, fails calls fast with `disconnected`, and heals through the same root stub", async () => {
    const server = await makeServer();
    const events: string[] = [];
    const name = `api-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start(
      [
        CapnWeb.Session.spec({
          name,
          url: server.url,
          reconnect: { strategy: "exponential", baseDelay: 20, maxDelay: 200, jitter: 0 },
          onConnect: () => void events.push("connect"),
          onDisconnect: (reason) => void events.push(`disconnect:${reason.type}`),
        }),
      ],
      { name: "root" },
    );
    cleanups.push(() => root.close());
    const api = CapnWeb.session<Api>(name);
    expect(await api.square(3)).toBe(9);

    await server.stop();
    await vi.waitFor(() => expect(sessionState(root)).toBe("backingOff"));
    const during = await CapnWeb.await(api.square(4));
    expect(during.ok).toBe(false);
    expect(!during.ok && during.error.type).toBe("disconnected");
    expect(nextAttemptAt(root)).toBeDefined();

    await server.start();
    cleanups.push(() => server.stop());
    await vi.waitFor(() => expect(sessionState(root)).toBe("connected"), { timeout: 5_000 });
    expect(await api.square(5)).toBe(25);
    expect(events).toEqual(["connect", "disconnect:disconnected", "connect"]);
  });

  it("rejects the calls in flight when the connection drops, and marks old capabilities broken", async () => {
    const server = await makeServer();
    const name = `api-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([
      CapnWeb.Session.spec({ name, url: server.url, reconnect: { baseDelay: 20, jitter: 0 } }),
    ]);
    cleanups.push(() => root.close());
    cleanups.push(() => server.stop().catch(() => {}));
    const api = CapnWeb.session<Api & { never(): Promise<void> }>(name);
    expect(await api.square(2)).toBe(4);
    const squareStub = api.square;
    await server.stop();
    await vi.waitFor(() => expect(sessionState(root)).toBe("backingOff"));
    const later = await CapnWeb.await(squareStub(3));
    expect(!later.ok && later.error.type).toBe("disconnected");
  });
});

describe("reconnect policy", () => {
  it("gives up after maxAttempts: the session exits abnormally and its supervisor restarts it", async () => {
    const server = await capnwebServer();
    const url = server.url;
    await server.stop();
    const root = await CapnWeb.Supervisor.start(
      [CapnWeb.Session.spec({ id: "flaky", url, reconnect: { baseDelay: 10, jitter: 0 }, maxAttempts: 2 })],
      { maxRestarts: 100, maxSeconds: 60 },
    );
    cleanups.push(() => root.close());
    await vi.waitFor(() => {
      const child = (root.inspect().children as any[])[0];
      expect(child.restarts).toBeGreaterThanOrEqual(1);
      expect(child.lastError).toMatch(/gave up/);
    });
  });

  it("with reconnect: false a dropped session fails and, being temporary, is not restarted", async () => {
    const server = await capnwebServer();
    const name = `once-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([
      CapnWeb.Session.spec({ name, url: server.url, reconnect: false, restart: "temporary" }),
    ]);
    cleanups.push(() => root.close());
    expect(await CapnWeb.session<Api>(name).square(6)).toBe(36);
    await server.stop();
    await vi.waitFor(() => expect(root.size).toBe(0));
    expect(CapnWeb.findSession(name)).toBeUndefined();
  });

  it("a connection that stays up resets the attempt count", () => {
    const backoff = new CapnWeb.Backoff({ baseDelay: 100, factor: 2, jitter: 0, maxDelay: 10_000 });
    expect([1, 2, 3, 4].map((n) => backoff.delay(n))).toEqual([100, 200, 400, 800]);
  });
});

describe("a session whose machine crashes", () => {
  it("closes its transport and leaves nothing exported on the server (no orphan), then restarts", async () => {
    class Api extends CapnWeb.Target {
      square(i: number) {
        return i * i;
      }
    }
    const server = await CapnWeb.serve({ port: 0, main: () => new Api() });
    cleanups.push(() => server.close());
    let connects = 0;
    const root = await CapnWeb.Supervisor.start(
      [
        CapnWeb.Session.spec({
          id: "crashy",
          url: server.wsUrl,
          main: new Api(),
          reconnect: { baseDelay: 10, jitter: 0 },
          onConnect: () => {
            connects++;
            // The hook throws on the second connection: XState puts the machine in its error state.
            if (connects === 2) throw new Error("onConnect failed");
          },
        }),
      ],
      { maxRestarts: 5, maxSeconds: 10 },
    );
    cleanups.push(() => root.close());
    // Drop the connection from the server side: the session reconnects, and its hook crashes it.
    for (const live of server.handlers.sessions) live.session.close();
    await vi.waitFor(() => expect(connects).toBe(3));
    // The crashed machine's connection was closed by the actor, not left behind: one session and
    // only the baseline tables remain on the server.
    await vi.waitFor(() => expect(server.handlers.stats()).toEqual({ sessions: 1, imports: 1, exports: 1 }));
    const child = (root.inspect().children as any[])[0];
    expect(child.restarts).toBe(1);
    expect(child.lastError).toMatch(/onConnect failed/);
  });
});

function sessionState(root: CapnWeb.Supervisor): string {
  return ((root.inspect().children as any[])[0].actor as any)?.status;
}

function nextAttemptAt(root: CapnWeb.Supervisor): string | undefined {
  return ((root.inspect().children as any[])[0].actor as any)?.nextAttemptAt;
}

describe("backoff schedule and the call queue", () => {
  it("retries follow the configured exponential schedule, and give up after maxAttempts", async () => {
    const server = await capnwebServer();
    const url = server.url;
    await server.stop();
    const delays: number[] = [];
    const states: string[] = [];
    const root = await CapnWeb.Supervisor.start(
      [CapnWeb.Session.spec({ id: "sched", url, reconnect: { baseDelay: 20, factor: 2, maxDelay: 50, jitter: 0 }, maxAttempts: 4 })],
      {
        maxRestarts: 0,
        maxSeconds: 60,
        inspect: (event: any) => {
          // Only the session machine's own snapshots (its context holds the backoff schedule).
          if (event.type !== "@xstate.snapshot" || !event.snapshot?.context?.backoff) return;
          const value = String(event.snapshot.value);
          if (states.at(-1) === value) return;
          states.push(value);
          if (value === "backingOff") delays.push(event.snapshot.context.delay);
        },
      },
    );
    cleanups.push(() => root.close().catch(() => {}));
    await root.exited;
    // Doubling from 20 ms, capped at 50: the schedule the machine chose for each retry.
    expect(delays).toEqual([20, 40, 50, 50]);
    expect(states).toEqual(["connecting", "backingOff", "connecting", "backingOff", "connecting", "backingOff", "connecting", "backingOff", "connecting", "failed"]);
  });

  it("with a queue, calls made while disconnected wait for the next connection", async () => {
    const server = await ourServer();
    const name = `queued-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([
      CapnWeb.Session.spec({ name, url: server.url, reconnect: { baseDelay: 30, jitter: 0 }, queue: { max: 10, timeout: 5_000 } }),
    ]);
    cleanups.push(() => root.close());
    const api = CapnWeb.session<Api>(name);
    await server.stop();
    await vi.waitFor(() => expect(sessionState(root)).toBe("backingOff"));
    const queued = api.square(7);
    await server.start();
    cleanups.push(() => server.stop());
    expect(await queued).toBe(49);
  });

  it("a full queue, or one that waits too long, fails with a typed error", async () => {
    const server = await capnwebServer();
    const url = server.url;
    await server.stop();
    const name = `queued-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([
      CapnWeb.Session.spec({ name, url, reconnect: { baseDelay: 1_000, jitter: 0 }, queue: { max: 1, timeout: 50 } }),
    ]);
    cleanups.push(() => root.close());
    const api = CapnWeb.session<Api>(name);
    const first = CapnWeb.await(api.square(1));
    const second = await CapnWeb.await(api.square(2));
    expect(!second.ok && second.error.type).toBe("disconnected");
    const firstResult = await first;
    expect(!firstResult.ok && firstResult.error.type).toBe("timeout");
  });
});

describe("a dead network", () => {
  it("is noticed by the heartbeat (nothing closes by itself), and the session heals when the path returns", async () => {
    const { createServer, connect: tcpConnect } = await import("node:net");
    class Api extends CapnWeb.Target {
      square(i: number) {
        return i * i;
      }
    }
    const server = await CapnWeb.serve({ port: 0, main: new Api() });
    cleanups.push(() => server.close());
    // A TCP relay that can go silent: it keeps the sockets open but forwards nothing.
    let silent = false;
    const sockets = new Set<import("node:net").Socket>();
    const relay = createServer((client) => {
      const upstream = tcpConnect(server.port, "127.0.0.1");
      sockets.add(client).add(upstream);
      client.on("data", (chunk) => void (!silent && upstream.write(chunk)));
      upstream.on("data", (chunk) => void (!silent && client.write(chunk)));
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("close", end).on("error", end);
      upstream.on("close", end).on("error", end);
    });
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => relay.close(() => resolve()));
    });
    const port = (relay.address() as import("node:net").AddressInfo).port;
    const name = `blackhole-${Math.random()}`;
    const drops: string[] = [];
    const root = await CapnWeb.Supervisor.start([
      CapnWeb.Session.spec({
        name,
        url: `ws://127.0.0.1:${port}/`,
        heartbeat: 50,
        reconnect: { baseDelay: 20, jitter: 0 },
        onDisconnect: (reason) => void drops.push(reason.message),
      }),
    ]);
    cleanups.push(() => root.close());
    const api = CapnWeb.session<Api>(name);
    expect(await api.square(2)).toBe(4);

    silent = true;
    const stuck = CapnWeb.await(api.square(3));
    await vi.waitFor(() => expect(drops).toHaveLength(1), { timeout: 3_000 });
    expect(drops[0]).toMatch(/No answer to a WebSocket ping/);
    const result = await stuck;
    expect(!result.ok && result.error.type).toBe("disconnected");

    silent = false;
    await vi.waitFor(() => expect(sessionState(root)).toBe("connected"), { timeout: 3_000 });
    expect(await api.square(5)).toBe(25);
  });
});
