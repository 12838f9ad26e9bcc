// Logging through pino: configure({ logger }) with an in-memory destination. A supervised session
// logs "connected" / "disconnected" (warn) / "reconnecting" with its label; a hostile frame on
// our server logs "session aborted".

import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import * as CapnWeb from "../../src/index.js";
import { FeatureApi, LineCollector, WAIT, startOurServer, type Api } from "./fixtures.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  CapnWeb.configure({ logger: undefined });
});

const INFO = 30;
const WARN = 40;

function collectLogs(): LineCollector {
  const collector = new LineCollector();
  CapnWeb.configure({ logger: pino({ level: "debug" }, collector) });
  return collector;
}

describe("a supervised session", () => {
  it('logs "connected" with its session binding, "disconnected" at warn when the server goes away, then "reconnecting" with the attempt', async () => {
    const logs = collectLogs();
    const server = await CapnWeb.serve({ port: 0, main: () => new FeatureApi() });
    const port = server.port;
    let current = server;
    cleanups.push(() => current.close());
    const label = `logged-api-${Math.random().toString(36).slice(2)}`;
    const root = await CapnWeb.Supervisor.start([
      CapnWeb.Session.spec({ name: label, url: server.wsUrl, reconnect: { baseDelay: 20, maxDelay: 50, jitter: 0 } }),
    ]);
    cleanups.push(() => root.close());
    const api = CapnWeb.session<Api>(label);
    expect(await api.square(2)).toBe(4);

    const connected = logs.lines.filter((l) => l.msg === "connected");
    expect(connected).toHaveLength(1);
    expect(connected[0]).toMatchObject({ level: INFO, session: label, url: server.wsUrl });

    await server.close();
    await vi.waitFor(() => expect(logs.lines.some((l) => l.msg === "disconnected")).toBe(true), WAIT);
    const disconnected = logs.lines.find((l) => l.msg === "disconnected")!;
    expect(disconnected).toMatchObject({ level: WARN, session: label, url: server.wsUrl });
    expect(typeof disconnected.reason).toBe("string");

    await vi.waitFor(() => expect(logs.lines.some((l) => l.msg === "reconnecting")).toBe(true), WAIT);
    const reconnecting = logs.lines.find((l) => l.msg === "reconnecting")!;
    expect(reconnecting).toMatchObject({ session: label, attempt: 1 });
    expect(reconnecting.level).toBeGreaterThanOrEqual(INFO);

    current = await CapnWeb.serve({ port, main: () => new FeatureApi() });
    await vi.waitFor(() => expect(logs.lines.filter((l) => l.msg === "connected")).toHaveLength(2), { timeout: 5000, interval: 10 });
    expect(await api.square(3)).toBe(9);
  });

  it("a session with an explicit id logs under that label", async () => {
    const logs = collectLogs();
    const { server } = await startOurServer();
    cleanups.push(() => server.close());
    const root = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ id: "billing", url: server.wsUrl, reconnect: false, restart: "temporary" })]);
    cleanups.push(() => root.close());
    await vi.waitFor(() => expect(logs.lines.find((l) => l.msg === "connected")).toMatchObject({ session: "billing" }), WAIT);
  });
});

describe("our server", () => {
  it.each([
    ["a frame that is not JSON", "this is { not json"],
    ["a message that is not a tagged array", '{"push": 1}'],
    ["a pull of an export that does not exist", '["pull", 12345]'],
  ])('logs "session aborted" at warn for %s, and carries on', async (_name, frame) => {
    const logs = collectLogs();
    const { server } = await startOurServer();
    cleanups.push(() => server.close());
    const socket = new WebSocket(server.wsUrl);
    cleanups.push(() => socket.terminate());
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.send(frame);
    await closed;
    await vi.waitFor(() => expect(logs.lines.some((l) => l.msg === "session aborted")).toBe(true), WAIT);
    const aborted = logs.lines.find((l) => l.msg === "session aborted")!;
    expect(aborted.level).toBe(WARN);
    expect(aborted.type).toBe("protocol");
    expect(typeof aborted.reason).toBe("string");
    expect(aborted).toHaveProperty("peer");
    // The server still serves others.
    const api = await CapnWeb.connect<Api>(server.wsUrl);
    cleanups.push(() => CapnWeb.close(api));
    expect(await api.square(4)).toBe(16);
  });
});

describe("our client", () => {
  it('logs "session aborted" when a hostile server sends a malformed frame', async () => {
    const logs = collectLogs();
    const hostile = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    cleanups.push(() => new Promise<void>((resolve) => hostile.close(() => resolve())));
    hostile.on("connection", (socket) => {
      cleanups.push(() => socket.terminate());
      socket.send('["resolve", "not-an-id", 1]');
    });
    await new Promise((resolve) => hostile.once("listening", resolve));
    const url = `ws://127.0.0.1:${(hostile.address() as AddressInfo).port}/`;
    const api = await CapnWeb.connect<Api>(url);
    cleanups.push(() => CapnWeb.close(api));
    await vi.waitFor(() => expect(logs.lines.some((l) => l.msg === "session aborted")).toBe(true), WAIT);
    const aborted = logs.lines.find((l) => l.msg === "session aborted")!;
    expect(aborted).toMatchObject({ level: WARN, type: "protocol", connection: url });
    const result = await CapnWeb.await(api.square(1));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBeInstanceOf(CapnWeb.Error);
  });
});

describe("configure({ logger })", () => {
  it("is silent by default, and configure({ logger: undefined }) silences it again", async () => {
    const logs = collectLogs();
    CapnWeb.configure({ logger: undefined });
    expect(CapnWeb.config().logger).toBeUndefined();
    const { server } = await startOurServer();
    cleanups.push(() => server.close());
    const socket = new WebSocket(server.wsUrl);
    cleanups.push(() => socket.terminate());
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send("garbage");
    await new Promise((resolve) => socket.once("close", resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(logs.lines).toEqual([]);
  });

  it("a logger configured after the server started is used at once", async () => {
    const { server } = await startOurServer();
    cleanups.push(() => server.close());
    const logs = collectLogs();
    const socket = new WebSocket(server.wsUrl);
    cleanups.push(() => socket.terminate());
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send("garbage");
    await vi.waitFor(() => expect(logs.lines.map((l) => l.msg)).toContain("session aborted"), WAIT);
  });

  it("a level above warn filters the warnings out (the logger's own level applies)", async () => {
    const collector = new LineCollector();
    CapnWeb.configure({ logger: pino({ level: "error" }, collector) });
    const { server } = await startOurServer();
    cleanups.push(() => server.close());
    const socket = new WebSocket(server.wsUrl);
    cleanups.push(() => socket.terminate());
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send("garbage");
    await new Promise((resolve) => socket.once("close", resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(collector.lines.filter((l) => l.msg === "session aborted")).toEqual([]);
  });
});
