// Telemetry on node:diagnostics_channel: call start/stop/exception, releases, connection
// up/down/reconnect; telemetry.attach/detach; the configurable prefix; no cost when nobody listens.

import diagnostics from "node:diagnostics_channel";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { FeatureApi, WAIT, startOurServer, type Api, type OurServer } from "./fixtures.js";

let ours: OurServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  ours = await startOurServer();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  CapnWeb.configure({ telemetryPrefix: "capnweb" });
});
afterAll(async () => {
  await ours.server.close();
});

const CALL_CHANNELS = ["call:start", "call:stop", "call:exception", "serve:start", "serve:stop", "serve:exception", "release:sent"] as const;
const ALL_EVENTS = [...CALL_CHANNELS, "connection:up", "connection:down", "connection:reconnect"] as const;

async function open(url = ours.server.wsUrl): Promise<CapnWeb.Stub<Api>> {
  const api = await CapnWeb.connect<Api>(url);
  cleanups.push(() => CapnWeb.close(api));
  return api;
}

/** Subscribes to `name` until the end of the test; returns the messages received. */
function listen(name: string): any[] {
  const messages: any[] = [];
  const listener = (message: unknown) => void messages.push(message);
  diagnostics.subscribe(name, listener);
  cleanups.push(() => diagnostics.unsubscribe(name, listener));
  return messages;
}

describe("no cost when nobody listens", () => {
  it("no channel has subscribers, nothing is published, and calls still work", async () => {
    for (const event of ALL_EVENTS) expect(diagnostics.channel(`capnweb:${event}`).hasSubscribers).toBe(false);
    const publish = vi.spyOn(diagnostics.Channel.prototype, "publish");
    cleanups.push(() => publish.mockRestore());
    const api = await open();
    expect(await api.square(3)).toBe(9);
    expect(await api.users().get(2).profile().name()).toBe("user-2");
    const counter = await api.makeCounter(1);
    expect(await counter.increment(1)).toBe(2);
    CapnWeb.release(counter);
    expect((await CapnWeb.await(api.throwWithType())).ok).toBe(false);
    expect(publish).not.toHaveBeenCalled();
    for (const event of ALL_EVENTS) expect(diagnostics.channel(`capnweb:${event}`).hasSubscribers).toBe(false);
    // The spy does see a publish on a channel without subscribers (the measurement works).
    diagnostics.channel("capnweb:feature-test-probe").publish({ probe: true });
    expect(publish).toHaveBeenCalledTimes(1);
  });
});

describe("call channels", () => {
  it("call:start { path } and call:stop { path, duration } for an awaited call", async () => {
    const api = await open();
    const starts = listen("capnweb:call:start");
    const stops = listen("capnweb:call:stop");
    expect(await api.square(3)).toBe(9);
    expect(starts).toEqual([{ path: "square" }]);
    expect(stops).toHaveLength(1);
    expect(Object.keys(stops[0]).sort()).toEqual(["duration", "path"]);
    expect(stops[0].path).toBe("square");
    expect(typeof stops[0].duration).toBe("number");
    expect(stops[0].duration).toBeGreaterThanOrEqual(0);
  });

  it("every call of a pipeline starts; the awaited one stops", async () => {
    const api = await open();
    const starts = listen("capnweb:call:start");
    const stops = listen("capnweb:call:stop");
    expect(await api.users().get(4).profile().name()).toBe("user-4");
    expect(starts.map((m) => m.path)).toEqual(["users", "get", "profile", "name"]);
    expect(stops.map((m) => m.path)).toContain("name");
  });

  it("a property path is joined with dots", async () => {
    const api = (await open()) as CapnWeb.Stub<any>;
    const starts = listen("capnweb:call:start");
    await CapnWeb.await(api.some.nested.method(1));
    expect(starts).toEqual([{ path: "some.nested.method" }]);
  });

  it("call:exception { path, duration, error } for a failed call; no call:stop for it", async () => {
    const api = await open();
    const exceptions = listen("capnweb:call:exception");
    const stops = listen("capnweb:call:stop");
    const result = await CapnWeb.await(api.throwWithType());
    expect(result.ok).toBe(false);
    expect(exceptions).toHaveLength(1);
    expect(exceptions[0].path).toBe("throwWithType");
    expect(typeof exceptions[0].duration).toBe("number");
    expect(exceptions[0].error).toBeInstanceOf(CapnWeb.Error);
    expect(exceptions[0].error.type).toBe("quota_exceeded");
    expect(stops).toEqual([]);
  });

  it("a timed-out call ends with call:exception of type timeout", async () => {
    const api = await open();
    const exceptions = listen("capnweb:call:exception");
    const result = await CapnWeb.await(api.slow(100), { timeout: 10 });
    expect(!result.ok && result.error.type).toBe("timeout");
    await vi.waitFor(() => expect(exceptions.map((m) => m.path)).toEqual(["slow"]), WAIT);
  });
});

describe("serve channels: the peer's calls our server answers", () => {
  it("serve:start { path } and serve:stop { path, duration } when our server answers a call", async () => {
    const api = await open();
    const starts = listen("capnweb:serve:start");
    const stops = listen("capnweb:serve:stop");
    expect(await api.square(3)).toBe(9);
    await vi.waitFor(() => expect(stops).toHaveLength(1), WAIT);
    expect(starts).toEqual([{ path: "square" }]);
    expect(Object.keys(stops[0]).sort()).toEqual(["duration", "path"]);
    expect(stops[0].path).toBe("square");
    expect(stops[0].duration).toBeGreaterThanOrEqual(0);
  });

  it("of a pipeline only the answered call is served; the steps leading to it are not pulled", async () => {
    const api = await open();
    const stops = listen("capnweb:serve:stop");
    expect(await api.users().get(4).profile().name()).toBe("user-4");
    await vi.waitFor(() => expect(stops.map((m) => m.path)).toEqual(["name"]), WAIT);
  });

  it("serve:exception { path, duration, error } when the method throws; no serve:stop for it", async () => {
    const api = await open();
    const exceptions = listen("capnweb:serve:exception");
    const stops = listen("capnweb:serve:stop");
    expect((await CapnWeb.await(api.throwWithType())).ok).toBe(false);
    await vi.waitFor(() => expect(exceptions).toHaveLength(1), WAIT);
    expect(exceptions[0].path).toBe("throwWithType");
    expect(exceptions[0].error).toBeInstanceOf(CapnWeb.Error);
    expect(exceptions[0].error.type).toBe("quota_exceeded");
    expect(stops).toEqual([]);
  });

  it("a call is served until its answer: a pending method has started and not stopped", async () => {
    const api = await open();
    const starts = listen("capnweb:serve:start");
    const stops = listen("capnweb:serve:stop");
    const answer = api.slow(200).then((value) => value); // then() pulls it
    await vi.waitFor(() => expect(starts.map((m) => m.path)).toEqual(["slow"]), WAIT);
    expect(stops).toEqual([]);
    await answer;
    await vi.waitFor(() => expect(stops.map((m) => m.path)).toEqual(["slow"]), WAIT);
  });
});

describe("release:sent", () => {
  it("reason 'resolved' when an answer arrives", async () => {
    const api = await open();
    await api.square(1);
    const releases = listen("capnweb:release:sent");
    await api.square(2);
    expect(releases).toHaveLength(1);
    expect(releases[0]).toEqual({ importId: expect.any(Number), refcount: 1, reason: "resolved" });
    expect(releases[0].importId).toBeGreaterThan(0);
  });

  it("reason 'explicit' for CapnWeb.release of a capability", async () => {
    const api = await open();
    const counter = await api.makeCounter(1);
    const releases = listen("capnweb:release:sent");
    CapnWeb.release(counter);
    expect(releases).toEqual([{ importId: expect.any(Number), refcount: 1, reason: "explicit" }]);
    expect(releases[0].importId).toBeLessThan(0);
  });

  it("a supervised session's releases carry its name; a server session's, its child id", async () => {
    const name = `release-name-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ name, url: ours.server.wsUrl })]);
    cleanups.push(() => root.close());
    const api = CapnWeb.session<Api>(name);
    const counter = await api.makeCounter(1);
    const releases = listen("capnweb:release:sent");
    CapnWeb.release(counter);
    expect(releases).toEqual([{ importId: expect.any(Number), refcount: 1, reason: "explicit", name }]);
    // The server lets go of a callback passed to it once the call is done: its session releases it.
    const echoed = await api.echo((i: number) => i + 1);
    CapnWeb.release(echoed);
    await vi.waitFor(() => expect(releases.map((m) => m.name)).toContainEqual(expect.stringMatching(/^session-\d+$/)), WAIT);
  });

  it("reason 'timeout' when the caller stops waiting", async () => {
    const api = await open();
    await api.square(1);
    const releases = listen("capnweb:release:sent");
    await CapnWeb.await(api.slow(100), { timeout: 10 });
    expect(releases.map((m) => m.reason)).toContain("timeout");
  });
});

describe("connection channels of a supervised session", () => {
  it("connection:up, :down and :reconnect with name, url, error, attempt and delay", async () => {
    const server = await CapnWeb.serve({ port: 0, main: () => new FeatureApi() });
    const port = server.port;
    let current = server;
    cleanups.push(() => current.close());
    const up = listen("capnweb:connection:up");
    const down = listen("capnweb:connection:down");
    const reconnect = listen("capnweb:connection:reconnect");
    const name = `telemetry-session-${Math.random()}`;
    const root = await CapnWeb.Supervisor.start([
      CapnWeb.Session.spec({ name, url: server.wsUrl, reconnect: { baseDelay: 20, maxDelay: 50, jitter: 0 } }),
    ]);
    cleanups.push(() => root.close());
    const api = CapnWeb.session<Api>(name);
    expect(await api.square(2)).toBe(4);
    expect(up).toEqual([{ name, url: server.wsUrl }]);

    await server.close();
    await vi.waitFor(() => expect(down).toHaveLength(1), WAIT);
    expect(down[0].name).toBe(name);
    expect(down[0].url).toBe(server.wsUrl);
    expect(down[0].error).toBeInstanceOf(CapnWeb.Error);
    expect(down[0].error.type).toBe("disconnected");
    await vi.waitFor(() => expect(reconnect.length).toBeGreaterThanOrEqual(1), WAIT);
    expect(reconnect[0]).toEqual({ name, url: server.wsUrl, attempt: 1, delay: 20 });

    current = await CapnWeb.serve({ port, main: () => new FeatureApi() });
    await vi.waitFor(() => expect(up).toHaveLength(2), { timeout: 5000, interval: 10 });
    expect(await api.square(3)).toBe(9);
  });
});

describe("telemetry.attach / detach", () => {
  it("calls the handler with (event, message) for the events attached, until detached", async () => {
    const api = await open();
    const seen: [string, any][] = [];
    CapnWeb.telemetry.attach("feature-test", ["call:start", "call:stop"], (event, message) => void seen.push([event, message]));
    cleanups.push(() => CapnWeb.telemetry.detach("feature-test"));
    await api.square(4);
    expect(seen.map(([event]) => event)).toEqual(["call:start", "call:stop"]);
    expect(seen[0]![1]).toEqual({ path: "square" });
    expect(seen[1]![1].path).toBe("square");
    expect(CapnWeb.telemetry.detach("feature-test")).toBe(true);
    expect(CapnWeb.telemetry.detach("feature-test")).toBe(false);
    await api.square(5);
    expect(seen).toHaveLength(2);
    expect(diagnostics.channel("capnweb:call:start").hasSubscribers).toBe(false);
  });

  it("attaching the same id twice throws invalid_argument", () => {
    CapnWeb.telemetry.attach("twice", ["call:stop"], () => {});
    cleanups.push(() => CapnWeb.telemetry.detach("twice"));
    let caught: unknown;
    try {
      CapnWeb.telemetry.attach("twice", ["call:start"], () => {});
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CapnWeb.Error);
    expect((caught as CapnWeb.Error).type).toBe("invalid_argument");
  });

  it("an unknown event name throws invalid_argument, and attaches nothing", () => {
    let caught: unknown;
    try {
      CapnWeb.telemetry.attach("bad-events", ["call:start", "call:nope" as CapnWeb.TelemetryEvent], () => {});
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CapnWeb.Error);
    expect((caught as CapnWeb.Error).type).toBe("invalid_argument");
    expect((caught as Error).message).toMatch(/call:nope/);
    expect(diagnostics.channel("capnweb:call:start").hasSubscribers).toBe(false);
    // The id is still free.
    CapnWeb.telemetry.attach("bad-events", ["call:start"], () => {});
    expect(CapnWeb.telemetry.detach("bad-events")).toBe(true);
  });

  it("a throwing handler does not fail the call it observes", async () => {
    const api = await open();
    CapnWeb.telemetry.attach("thrower", ["call:start", "call:stop"], () => {
      throw new Error("handler failure");
    });
    cleanups.push(() => CapnWeb.telemetry.detach("thrower"));
    expect(await api.square(6)).toBe(36);
  });

  it("release and connection events reach attached handlers too", async () => {
    const api = await open();
    const seen: string[] = [];
    CapnWeb.telemetry.attach("releases", ["release:sent"], (event, message) => void seen.push(`${event}:${message.reason}`));
    cleanups.push(() => CapnWeb.telemetry.detach("releases"));
    const counter = await api.makeCounter(0);
    CapnWeb.release(counter);
    expect(seen).toContain("release:sent:explicit");
  });
});

describe("configure({ telemetryPrefix })", () => {
  it("moves the channels to myapp:call:start etc.; reset to capnweb afterwards", async () => {
    const api = await open();
    const ours_ = listen("myapp:call:start");
    const stops = listen("myapp:call:stop");
    const releases = listen("myapp:release:sent");
    const default_ = listen("capnweb:call:start");
    CapnWeb.configure({ telemetryPrefix: "myapp" });
    expect(CapnWeb.config().telemetryPrefix).toBe("myapp");
    expect(CapnWeb.telemetryChannel("call:start").name).toBe("myapp:call:start");
    await api.square(7);
    expect(ours_).toEqual([{ path: "square" }]);
    expect(stops.map((m) => m.path)).toEqual(["square"]);
    expect(releases.map((m) => m.reason)).toEqual(["resolved"]);
    expect(default_).toEqual([]);

    CapnWeb.configure({ telemetryPrefix: "capnweb" });
    await api.square(8);
    expect(ours_).toHaveLength(1);
    expect(default_).toEqual([{ path: "square" }]);
  });

  it("telemetry.attach after the change listens under the new prefix", async () => {
    const api = await open();
    CapnWeb.configure({ telemetryPrefix: "other.app-1" });
    const seen: string[] = [];
    CapnWeb.telemetry.attach("prefixed", ["call:start"], (_event, message) => void seen.push(message.path));
    cleanups.push(() => CapnWeb.telemetry.detach("prefixed"));
    expect(diagnostics.channel("other.app-1:call:start").hasSubscribers).toBe(true);
    expect(diagnostics.channel("capnweb:call:start").hasSubscribers).toBe(false);
    await api.square(1);
    expect(seen).toEqual(["square"]);
  });
});

describe("attached handlers and the prefix", () => {
  it("follow the channels when the telemetry prefix changes after attach", () => {
    const seen: string[] = [];
    CapnWeb.telemetry.attach("follows-prefix", ["release:sent"], (event) => void seen.push(event));
    try {
      CapnWeb.configure({ telemetryPrefix: "renamed" });
      diagnostics.channel("renamed:release:sent").publish({ importId: 1, refcount: 1, reason: "explicit" });
      diagnostics.channel("capnweb:release:sent").publish({ importId: 2, refcount: 1, reason: "explicit" });
      expect(seen).toEqual(["release:sent"]);
    } finally {
      CapnWeb.configure({ telemetryPrefix: "capnweb" });
      CapnWeb.telemetry.detach("follows-prefix");
    }
  });
});
