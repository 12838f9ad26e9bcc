// configure(): validated application-wide settings; config() returns those in force.

import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import diagnostics from "node:diagnostics_channel";
import * as CapnWeb from "../../src/index.js";
import { FeatureApi, WAIT, type Api } from "./fixtures.js";

const DEFAULTS = {
  defaultTimeout: undefined,
  reconnectStrategy: "exponential",
  reconnectBaseDelay: 100,
  reconnectMaxDelay: 30_000,
  telemetryPrefix: "capnweb",
  logger: undefined,
};

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  CapnWeb.configure({ ...DEFAULTS } as Partial<CapnWeb.Config>);
});

function refusal(settings: unknown): CapnWeb.Error {
  try {
    CapnWeb.configure(settings as Partial<CapnWeb.Config>);
  } catch (error) {
    expect(error).toBeInstanceOf(CapnWeb.Error);
    expect(error).toBeInstanceOf(Error);
    return error as CapnWeb.Error;
  }
  throw new Error(`configure(${JSON.stringify(settings)}) was accepted`);
}

describe("config()", () => {
  it("returns the defaults before anything is configured", () => {
    expect({ ...CapnWeb.config() }).toEqual(DEFAULTS);
  });

  it("returns the settings in force after configure(), which returns them too", () => {
    const logger = pino({ level: "silent" });
    const returned = CapnWeb.configure({ defaultTimeout: 1500, reconnectStrategy: "constant", reconnectBaseDelay: 10, reconnectMaxDelay: 20, telemetryPrefix: "app", logger });
    const inForce = CapnWeb.config();
    expect(inForce).toEqual(returned);
    expect(inForce).toMatchObject({ defaultTimeout: 1500, reconnectStrategy: "constant", reconnectBaseDelay: 10, reconnectMaxDelay: 20, telemetryPrefix: "app" });
    expect(inForce.logger).toBe(logger);
  });

  it("configure() changes only the keys it is given", () => {
    CapnWeb.configure({ reconnectBaseDelay: 50 });
    CapnWeb.configure({ defaultTimeout: 900 });
    expect(CapnWeb.config()).toMatchObject({ reconnectBaseDelay: 50, defaultTimeout: 900, reconnectStrategy: "exponential" });
  });

  it("reconnectStrategy: false is accepted", () => {
    CapnWeb.configure({ reconnectStrategy: false });
    expect(CapnWeb.config().reconnectStrategy).toBe(false);
  });
});

describe("validation", () => {
  it("an unknown key is invalid_argument naming the key", () => {
    const error = refusal({ defaultTimeOut: 5 });
    expect(error.type).toBe("invalid_argument");
    expect(error.message).toContain("defaultTimeOut");
  });

  it("an unknown key among valid ones refuses the whole call (nothing changes)", () => {
    const error = refusal({ reconnectBaseDelay: 5, colour: "blue" });
    expect(error.type).toBe("invalid_argument");
    expect(error.message).toContain("colour");
    expect(CapnWeb.config().reconnectBaseDelay).toBe(100);
  });

  it.each([
    ["a negative base delay", { reconnectBaseDelay: -1 }, "reconnectBaseDelay"],
    ["a negative max delay", { reconnectMaxDelay: -5 }, "reconnectMaxDelay"],
    ["a NaN delay", { reconnectBaseDelay: NaN }, "reconnectBaseDelay"],
    ["an infinite delay", { reconnectMaxDelay: Infinity }, "reconnectMaxDelay"],
    ["a string delay", { reconnectBaseDelay: "100" }, "reconnectBaseDelay"],
    ['reconnectStrategy: "sometimes"', { reconnectStrategy: "sometimes" }, "reconnectStrategy"],
    ["reconnectStrategy: true", { reconnectStrategy: true }, "reconnectStrategy"],
    ["a negative defaultTimeout", { defaultTimeout: -1 }, "defaultTimeout"],
    ["a zero defaultTimeout", { defaultTimeout: 0 }, "defaultTimeout"],
    ["a string defaultTimeout", { defaultTimeout: "5s" }, "defaultTimeout"],
    ["a prefix with a space", { telemetryPrefix: "my app" }, "telemetryPrefix"],
    ["a prefix with a colon", { telemetryPrefix: "my:app" }, "telemetryPrefix"],
    ["an empty prefix", { telemetryPrefix: "" }, "telemetryPrefix"],
    ["a non-string prefix", { telemetryPrefix: 7 }, "telemetryPrefix"],
    ["a logger that is not a pino logger", { logger: { info() {} } }, "logger"],
  ])("%s is invalid_argument naming the setting", (_name, settings, key) => {
    const before = { ...CapnWeb.config() };
    const error = refusal(settings);
    expect(error.type).toBe("invalid_argument");
    expect(error.message).toContain(key);
    expect({ ...CapnWeb.config() }).toEqual(before);
  });

  it("base > max is invalid_argument, whether set together or one after the other", () => {
    expect(refusal({ reconnectBaseDelay: 500, reconnectMaxDelay: 100 }).type).toBe("invalid_argument");
    CapnWeb.configure({ reconnectMaxDelay: 200 });
    const error = refusal({ reconnectBaseDelay: 300 });
    expect(error.type).toBe("invalid_argument");
    expect(error.message).toMatch(/reconnectBaseDelay/);
    expect(CapnWeb.config()).toMatchObject({ reconnectBaseDelay: 100, reconnectMaxDelay: 200 });
    // Equal is fine.
    CapnWeb.configure({ reconnectBaseDelay: 200 });
    expect(CapnWeb.config().reconnectBaseDelay).toBe(200);
  });

  it("a bad prefix leaves the channels where they were", () => {
    refusal({ telemetryPrefix: "bad prefix" });
    expect(CapnWeb.telemetryChannel("call:start").name).toBe("capnweb:call:start");
  });

  it.each([[null], ["string"], [42]])("configure(%s) is invalid_argument", (value) => {
    expect(refusal(value).type).toBe("invalid_argument");
  });
});

describe("reconnect defaults reach sessions", () => {
  it("a supervised session without its own reconnect option uses reconnectStrategy / reconnectBaseDelay", async () => {
    CapnWeb.configure({ reconnectStrategy: "constant", reconnectBaseDelay: 40, reconnectMaxDelay: 1000 });
    const server = await CapnWeb.serve({ port: 0, main: () => new FeatureApi() });
    let closed = false;
    cleanups.push(() => (closed ? undefined : server.close()));
    const reconnects: { attempt: number; delay: number }[] = [];
    const listener = (message: unknown) => void reconnects.push(message as { attempt: number; delay: number });
    diagnostics.subscribe("capnweb:connection:reconnect", listener);
    cleanups.push(() => diagnostics.unsubscribe("capnweb:connection:reconnect", listener));
    const name = `configured-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ name, url: server.wsUrl })]);
    cleanups.push(() => root.close());
    expect(await CapnWeb.session<Api>(name).square(3)).toBe(9);
    await server.close();
    closed = true;
    await vi.waitFor(() => expect(reconnects.length).toBeGreaterThanOrEqual(2), WAIT);
    // "constant" around the configured 40 ms (jittered by default: within [20, 40]).
    for (const { delay } of reconnects.slice(0, 2)) {
      expect(delay).toBeGreaterThanOrEqual(20);
      expect(delay).toBeLessThanOrEqual(40);
    }
  });
});
