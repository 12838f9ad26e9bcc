// Supervisor reports (OTP's crash and supervisor reports): a crash, each restart, a restart that
// fails to start and a give-up are logged through the configured pino logger and published on
// node:diagnostics_channel (`capnweb:supervisor:*`, under the configured prefix).

import diagnostics from "node:diagnostics_channel";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { LineCollector } from "../features/fixtures.js";
import { Harness } from "./helpers.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  CapnWeb.configure({ logger: undefined, telemetryPrefix: "capnweb" });
});

const INFO = 30;
const ERROR = 50;

describe("supervisor reports", () => {
  it("are logged: crash, restart, start_error and give_up, with the supervisor's path and the child", async () => {
    const logs = new LineCollector();
    CapnWeb.configure({ logger: pino({ level: "debug" }, logs) });
    const h = new Harness();
    const root = await CapnWeb.Supervisor.start([h.spec("worker", { failStart: (n) => (n >= 3 ? new Error("cannot start") : undefined) })], {
      name: "reports_root",
      maxRestarts: 2,
      maxSeconds: 60,
    });
    cleanups.push(() => root.kill());
    h.current("worker").crash(new Error("first crash"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    h.current("worker").crash(new Error("second crash"));
    expect(await root.exited).toBe("shutdown");
    const lines = logs.lines.filter((l) => l["component"] === "supervisor");
    expect(lines.map((l) => [l["level"], l["msg"]])).toEqual([
      [ERROR, "child terminated"],
      [INFO, "child restarted"],
      [ERROR, "child terminated"],
      [ERROR, "restart failed to start the child; trying again"],
      [ERROR, "reached max restart intensity; shutting down"],
    ]);
    expect(lines[0]).toMatchObject({ supervisor: "reports_root", child: "worker", restart: "permanent", reason: "Error: first crash" });
    expect(lines[1]).toMatchObject({ child: "worker", restarts: 1 });
    expect(lines[4]).toMatchObject({ child: "worker", maxRestarts: 2, maxSeconds: 60, err: { message: "cannot start" } });
  });

  it("are published on diagnostics_channel under the configured prefix, and reach telemetry.attach handlers", async () => {
    CapnWeb.configure({ telemetryPrefix: "myapp" });
    const seen: [string, Record<string, unknown>][] = [];
    const names = ["crash", "restart", "start_error", "give_up"].map((e) => `myapp:supervisor:${e}`);
    const listeners = names.map((name) => {
      const listener = (message: unknown) => seen.push([name, message as Record<string, unknown>]);
      diagnostics.subscribe(name, listener);
      return () => diagnostics.unsubscribe(name, listener);
    });
    cleanups.push(() => listeners.forEach((off) => off()));
    const attached: string[] = [];
    CapnWeb.telemetry.attach("supervisor-reports-test", ["supervisor:crash", "supervisor:give_up"], (event, _report) => void attached.push(event));
    cleanups.push(() => CapnWeb.telemetry.detach("supervisor-reports-test"));

    const h = new Harness();
    // The first restart fails to start, the retry works; later, with no intensity left, a give-up.
    const root = await CapnWeb.Supervisor.start([h.spec("worker", { failStart: (n) => (n === 2 ? new Error("not now") : undefined) })], {
      name: "reports_root",
      maxRestarts: 2,
      maxSeconds: 60,
    });
    cleanups.push(() => root.kill());
    h.current("worker").crash(new Error("crashed"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    await vi.waitFor(() => expect(h.startCount("worker")).toBe(2));
    h.current("worker").crash(new Error("crashed again"));
    expect(await root.exited).toBe("shutdown");
    expect(seen.map(([name]) => name)).toEqual([
      "myapp:supervisor:crash",
      "myapp:supervisor:start_error",
      "myapp:supervisor:restart",
      "myapp:supervisor:crash",
      "myapp:supervisor:give_up",
    ]);
    expect(seen[0]![1]).toMatchObject({ event: "crash", supervisor: "reports_root", path: ["reports_root"], childId: "worker", restart: "permanent" });
    expect(seen[1]![1]).toMatchObject({ event: "start_error", childId: "worker", error: new Error("not now") });
    expect(seen[4]![1]).toMatchObject({ event: "give_up", cause: new Error("crashed again"), maxRestarts: 2, maxSeconds: 60 });
    expect(attached).toEqual(["supervisor:crash", "supervisor:crash", "supervisor:give_up"]);
  });
});
