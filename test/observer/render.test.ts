// What the observer page draws from a snapshot (the pure drawing functions the page runs): the
// last error only while it matters, XState state values, the restart meter, the controls only
// when the application turned them on, and every capability entry with its refcount.

import { describe, expect, it } from "vitest";
import type { ObserverSnapshot } from "../../src/index.js";
import { renderCalls, renderLog, renderTree } from "../../src/observer/page/render.js";
import { stateValue } from "../../src/observer/page/format.js";

function session(status: string, lastError: string | undefined) {
  return {
    kind: "session" as const,
    status,
    url: "ws://127.0.0.1:1/",
    uptimeMs: 60_000,
    connectedForMs: status === "connected" ? 30_000 : 0,
    connects: 2,
    disconnects: 1,
    attempt: status === "connected" ? 0 : 3,
    nextAttemptAt: undefined,
    lastError,
    tables: { imports: 2, exports: 1 },
    callsInFlight: 0,
    queued: 0,
    targets: [],
    restorables: [],
  };
}

function snapshot(sessionStatus: string, controls: boolean): ObserverSnapshot {
  return {
    at: Date.now(),
    controls,
    calls: [],
    served: [],
    log: [],
    tables: {
      api: {
        imports: [
          { id: 0, refcount: 1, localRefs: 3, kind: "main", origin: "main", ageMs: 60_000 },
          { id: -4, refcount: 2, localRefs: 1, kind: "capability", origin: "answer to call users.get", owner: "scope", ageMs: 1_500 },
        ],
        exports: [{ id: 0, refcount: 1, kind: "main", origin: "main", ageMs: 60_000 }],
      },
    },
    tree: {
      kind: "supervisor",
      name: "app",
      status: "running",
      strategy: "one_for_one",
      autoShutdown: "never",
      restarts: { used: 2, max: 3, withinSeconds: 5 },
      uptimeMs: 60_000,
      counts: { specs: 2, active: 2, supervisors: 0, workers: 2 },
      children: [
        { id: "api", type: "worker", restart: "permanent", significant: false, status: "running", restarts: 1, uptimeMs: 60_000, lastError: "Error: boom", actor: session(sessionStatus, "connect ECONNREFUSED 127.0.0.1:1") },
        { id: "lights", type: "worker", restart: "permanent", significant: false, status: "running", restarts: 0, uptimeMs: 60_000, actor: { kind: "actor", status: "active", id: "lights", value: { walk: "blinking" } } },
      ],
    },
  };
}

describe("the observer page's drawing", () => {
  it("shows a session's last error only while it is not connected, and a running child's not at all", () => {
    const connected = renderTree(snapshot("connected", false), new Map());
    expect(connected).not.toContain("ECONNREFUSED");
    expect(connected).not.toContain("Error: boom");
    const down = renderTree(snapshot("backingOff", false), new Map());
    expect(down).toContain("connect ECONNREFUSED 127.0.0.1:1");
  });

  it("shows XState state values, the restart meter and the connect counts", () => {
    const html = renderTree(snapshot("connected", false), new Map());
    expect(html).toContain("walk.blinking");
    expect(html).toMatch(/<b>restarts<\/b> 2\/3 in 5s/);
    expect(html).toMatch(/<b>connects<\/b> 2 · <b>disconnects<\/b> 1/);
    expect(stateValue({ a: "x", b: { c: "y" } })).toBe("a.x | b.c.y");
  });

  it("draws the controls only when the application turned them on", () => {
    expect(renderTree(snapshot("connected", false), new Map())).not.toContain("data-action");
    const on = renderTree(snapshot("connected", true), new Map());
    expect(on).toContain(`data-action="restartChild" data-path="${'["api"]'.replace(/"/g, "&quot;")}"`);
    expect(on).toContain('data-action="dropConnection"');
  });

  it("lists every capability entry with its refcount, origin and owner; the operator's folding is kept", () => {
    const html = renderTree(snapshot("connected", false), new Map());
    expect(html).toContain("answer to call users.get");
    expect(html).toMatch(/<td class="num mono">-4<\/td><td>capability<\/td><td class="num">2<\/td>/);
    expect(html).toContain("<td>scope</td>");
    expect(html).toContain('<details data-key="caps:api" open>');
    expect(renderTree(snapshot("connected", false), new Map([["caps:api", false]]))).toContain('<details data-key="caps:api">');
  });

  it("escapes what it shows, and draws the calls and the log", () => {
    const hostile = snapshot("backingOff", false);
    (hostile.tree as { children: { actor: { lastError: string } }[] }).children[0]!.actor.lastError = "<img src=x onerror=alert(1)>";
    expect(renderTree(hostile, new Map())).not.toContain("<img");
    const calls = renderCalls("made <here>", [{ at: 0, calls: 10, errors: 1, meanMs: 2, maxMs: 5 }, { at: 1000, calls: 0, errors: 0, meanMs: 0, maxMs: 0 }]);
    expect(calls).toContain("<rect");
    expect(calls).toContain("made &lt;here&gt;");
    expect(renderLog([{ seq: 1, at: 0, kind: "restart", subject: "app/api", message: "restarted (1 so far)" }])).toContain("t-restart");
  });
});
