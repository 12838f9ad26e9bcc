// CapnWeb.observe(root) over real sockets: the page and its script are served, a Cap'n Web client
// of the observer's /rpc session receives the updates (pushed as answers to `next`), the
// capability tables are the real tables of real sessions, the controls are refused unless the
// application turned them on and work when it did, and nothing listens while no page is open.

import diagnostics from "node:diagnostics_channel";
import { WebSocket } from "ws";
import { afterEach, describe, expect, it } from "vitest";
import * as CapnWeb from "../../src/index.js";
import type { ObserverSnapshot } from "../../src/index.js";
import { type ObserverPage, ObservedApi, Reporter, openPageSession } from "../shared/observed-api.js";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function world(options: CapnWeb.ObserverOptions = {}) {
  const apis: ObservedApi[] = [];
  const server = await CapnWeb.serve({ host: "127.0.0.1", port: 0, main: () => apis[apis.push(new ObservedApi()) - 1] });
  cleanups.push(() => server.close());
  const app = await CapnWeb.Supervisor.start(
    [CapnWeb.Session.spec({ name: "api", url: server.wsUrl, reconnect: { strategy: "constant", baseDelay: 20, jitter: 0 } })],
    { name: "app", maxRestarts: 5, maxSeconds: 60 },
  );
  cleanups.push(() => app.close());
  const observer = await CapnWeb.observe(app, { intervalMs: 100, ...options });
  cleanups.push(() => observer.close());
  return { server, app, observer, apis, api: CapnWeb.session<ObservedApi>("api") };
}

async function openPage(observer: CapnWeb.Observer): Promise<CapnWeb.Stub<ObserverPage>> {
  const page = await openPageSession(observer);
  cleanups.push(() => CapnWeb.close(page));
  return page;
}

function sessionNode(snapshot: ObserverSnapshot): CapnWeb.SessionInspection {
  const tree = snapshot.tree as CapnWeb.SupervisorInspection<CapnWeb.TreeInspection>;
  return tree.children[0]!.actor as CapnWeb.SessionInspection;
}

/** Asks for updates until one satisfies `check`. */
async function nextUntil(page: CapnWeb.Stub<ObserverPage>, check: (snapshot: ObserverSnapshot) => boolean, cursor = 0): Promise<ObserverSnapshot> {
  for (let i = 0; i < 200; i++) {
    const snapshot = await page.next(cursor);
    cursor = snapshot.log.at(-1)?.seq ?? cursor;
    if (check(snapshot)) return snapshot;
  }
  throw new Error("no such update came");
}

describe("CapnWeb.observe", () => {
  it("serves the page, its script and an empty favicon, on 127.0.0.1 by default", async () => {
    const { observer } = await world();
    expect(new URL(observer.url).hostname).toBe("127.0.0.1");
    const response = await fetch(observer.url);
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    const page = await response.text();
    expect(page).toContain('<link rel="icon" href="data:,">');
    expect(page).toContain('<script type="module" src="/observer-page.js">');
    const script = await fetch(new URL("observer-page.js", observer.url));
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("javascript");
    expect((await script.text()).length).toBeGreaterThan(10_000);
    expect((await fetch(new URL("favicon.ico", observer.url))).status).toBe(204);
    expect((await fetch(new URL("tree.json", observer.url))).status).toBe(404);
  }, 30_000);

  it("listens to nothing until a page connects, and stops when the last one leaves", async () => {
    const { observer } = await world();
    const callStop = diagnostics.channel("capnweb:call:stop");
    const crash = diagnostics.channel("capnweb:supervisor:crash");
    expect(callStop.hasSubscribers).toBe(false);
    expect(crash.hasSubscribers).toBe(false);
    expect(observer.pages).toBe(0);

    const page = await openPage(observer);
    const first = await page.next(0);
    expect(first.tree.kind).toBe("supervisor");
    expect(observer.pages).toBe(1);
    expect(callStop.hasSubscribers).toBe(true);
    expect(crash.hasSubscribers).toBe(true);

    CapnWeb.close(page);
    await expect.poll(() => observer.pages).toBe(0);
    expect(callStop.hasSubscribers).toBe(false);
    expect(crash.hasSubscribers).toBe(false);
  });

  it("pushes updates: the first at once, then what happened (a crash and the restart, in the log and the tree)", async () => {
    const { observer, app } = await world({ controls: true });
    const page = await openPage(observer);
    const first = await page.next(0);
    expect(sessionNode(first)).toMatchObject({ kind: "session", status: "connected", connects: 1 });
    const cursor = first.log.at(-1)?.seq ?? 0;

    (app.child("api") as { kill(): void }).kill();
    const after = await nextUntil(page, (s) => s.log.some((e) => e.kind === "restart"), cursor);
    const kinds = after.log.map((e) => e.kind);
    expect(kinds).toContain("restart");
    const restarted = await nextUntil(page, (s) => (s.tree as CapnWeb.SupervisorInspection).children[0]!.restarts === 1 && sessionNode(s)?.status === "connected");
    expect((restarted.tree as CapnWeb.SupervisorInspection).restarts).toMatchObject({ used: 1, max: 5, withinSeconds: 60 });
  });

  it("counts the calls made through stubs here and the calls served by exports here, each second; the pages' own calls are not served ones", async () => {
    const { observer, api } = await world();
    const page = await openPage(observer);
    await page.next(0);
    for (let i = 1; i <= 4; i++) expect(await api.square(i)).toBe(i * i);
    expect((await CapnWeb.await(api.fail())).ok).toBe(false);
    const sum = (seconds: CapnWeb.CallSecond[], field: "calls" | "errors") => seconds.reduce((total, second) => total + second[field], 0);
    const counted = await nextUntil(page, (s) => sum(s.served, "calls") === 5);
    // The session's five calls were answered by the server in this process: five served, one failed.
    expect(sum(counted.served, "errors")).toBe(1);
    // Made here: the same five, and the test's own page calls (a browser's would be in the browser).
    expect(sum(counted.calls, "calls")).toBeGreaterThanOrEqual(5);
    expect(sum(counted.calls, "errors")).toBe(1);
    expect(counted.served.length).toBe(counted.calls.length);
    // More page updates do not add served calls.
    await page.next(0);
    expect(sum((await page.next(0)).served, "calls")).toBe(5);
  });

  it("shows each session's capability tables as the protocol holds them: refcounts, origins, owners, ages", async () => {
    const { observer, api, apis } = await world();
    const reporter = CapnWeb.export(api, new Reporter(), { label: "reporter" });
    expect(await api.keep(reporter)).toBe(1);
    const item = api.item(7);
    expect(await item.value()).toBe(7);
    const page = await openPage(observer);

    const withTables = await page.next(0);
    const tables = withTables.tables["api"]!;
    expect(tables).toBeDefined();
    expect(tables.imports.find((e) => e.id === 0)).toMatchObject({ kind: "main", refcount: 1, origin: "main" });
    const pending = tables.imports.find((e) => e.origin === "call item");
    expect(pending).toMatchObject({ kind: "promise", refcount: 1, localRefs: 1 });
    expect(pending!.ageMs).toBeGreaterThanOrEqual(0);
    const exported = tables.exports.find((e) => e.origin === "export of reporter");
    expect(exported).toMatchObject({ kind: "capability", refcount: 1, owner: "reporter (target actor)" });
    expect(tables.exports.length).toBe(sessionNode(withTables).tables.exports);
    expect(tables.imports.length).toBe(sessionNode(withTables).tables.imports);

    // The server lets go of the reporter: its export leaves our table.
    await apis[0]!.dropAll();
    const released = await nextUntil(page, (s) => !s.tables["api"]!.exports.some((e) => e.origin === "export of reporter"));
    expect(released.tables["api"]!.exports.map((e) => e.id)).toEqual([0]);
    // The server runs in this process: its release of the reporter is in the (process-wide) log.
    expect(released.log).toContainEqual(expect.objectContaining({ kind: "release", subject: expect.stringMatching(/^session-\d+$/), message: expect.stringMatching(/^import -\d+ released ×1 \(explicit\)$/) }));
    const cursor = released.log.at(-1)!.seq;
    CapnWeb.release(item);
    const afterRelease = await nextUntil(page, (s) => !s.tables["api"]!.imports.some((e) => e.origin === "call item"), cursor);
    expect(afterRelease.log).toContainEqual(expect.objectContaining({ kind: "release", subject: "api", message: `import ${pending!.id} released ×1 (explicit)` }));
  });

  it("shows a target actor's mailbox: the calls delivered and not finished", async () => {
    const { observer, api } = await world();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const slow = CapnWeb.target<{ done: number }, { work(): number }>({
      init: () => ({ done: 0 }),
      handlers: {
        work: async (_args, state) => {
          await gate;
          return { reply: state.done + 1, state: { done: state.done + 1 } };
        },
      },
    });
    const worker = CapnWeb.export(api, slow, { label: "slow" });
    const first = worker.work();
    const second = worker.work();
    const page = await openPage(observer);
    const target = (s: ObserverSnapshot) => sessionNode(s).targets.find((t) => t.label === "slow");
    expect(target(await nextUntil(page, (s) => target(s)?.mailbox === 2))).toMatchObject({ kind: "target:stateful", status: "running", state: { done: 0 } });
    open();
    expect([await first, await second]).toEqual([1, 2]);
    expect(target(await nextUntil(page, (s) => target(s)?.mailbox === 0))).toMatchObject({ calls: 2, state: { done: 2 } });
  });

  it("shows a server's sessions with the imports their clients passed in", async () => {
    const { server, api } = await world();
    const observer = await CapnWeb.observe(server.handlers, { intervalMs: 100 });
    cleanups.push(() => observer.close());
    const reporter = CapnWeb.export(api, new Reporter());
    await api.keep(reporter);
    const page = await openPage(observer);
    const snapshot = await page.next(0);
    const [path, tables] = Object.entries(snapshot.tables)[0]!;
    expect(path).toMatch(/^session-\d+$/);
    expect(tables.imports.find((e) => e.id < 0)).toMatchObject({ kind: "capability", refcount: 1, origin: expect.stringMatching(/^argument of the peer's push \d+$/) });
  });

  it("refuses the controls with a forbidden error unless the application turned them on", async () => {
    const { observer, app } = await world();
    const page = await openPage(observer);
    await page.next(0);
    for (const call of [() => page.restartChild(["api"]), () => page.stopChild(["api"]), () => page.dropConnection(["api"])]) {
      const result = await CapnWeb.await(call());
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error.type).toBe("forbidden");
    }
    expect(CapnWeb.inspect(app).children[0]).toMatchObject({ status: "running", restarts: 0 });
  });

  it("with controls: restart counts against the intensity, stop keeps the child listed, drop makes the session reconnect", async () => {
    const { observer, app } = await world({ controls: true });
    const page = await openPage(observer);
    expect((await page.next(0)).controls).toBe(true);

    await page.restartChild(["api"]);
    await expect.poll(() => CapnWeb.inspect(app).children[0]!.restarts).toBe(1);
    expect(CapnWeb.inspect(app).restarts.used).toBe(1);
    await expect.poll(() => (CapnWeb.inspect(app).children[0]!.actor as CapnWeb.SessionInspection | undefined)?.status).toBe("connected");

    await page.dropConnection(["api"]);
    await expect.poll(() => (CapnWeb.inspect(app).children[0]!.actor as CapnWeb.SessionInspection).connects).toBe(2);
    expect((CapnWeb.inspect(app).children[0]!.actor as CapnWeb.SessionInspection).disconnects).toBe(1);

    await page.stopChild(["api"]);
    expect(CapnWeb.inspect(app).children[0]).toMatchObject({ id: "api", status: "stopped" });
    await page.restartChild(["api"]);
    await expect.poll(() => CapnWeb.inspect(app).children[0]!.status).toBe("running");

    const missing = await CapnWeb.await(page.restartChild(["nope"]));
    expect(!missing.ok && missing.error.type).toBe("not_found");
    const malformed = await CapnWeb.await(page.stopChild([] as string[]));
    expect(!malformed.ok && malformed.error.type).toBe("invalid_argument");
  });

  it("a root whose inspect() throws fails the page's update, not the process", async () => {
    let broken = false;
    const root = {
      inspect() {
        if (broken) throw new Error("inspect broke");
        return { kind: "gadget", status: "ok" };
      },
    };
    const observer = await CapnWeb.observe(root, { intervalMs: 50 });
    cleanups.push(() => observer.close());
    const page = await openPage(observer);
    expect((await page.next(0)).tree).toMatchObject({ kind: "custom", reportedKind: "gadget" });
    broken = true;
    // The next update comes from the timer: its failure reaches the page as a rejected call.
    const failed = await CapnWeb.await(page.next(0));
    expect(!failed.ok && failed.error.message).toContain("inspect broke");
    broken = false;
    expect((await page.next(0)).tree.status).toBe("ok");
  });

  it("accepts page sessions from its own origin only", async () => {
    const { observer } = await world({ controls: true });
    const rpc = new URL("rpc", observer.url.replace("http:", "ws:")).href;
    const statusFrom = (origin: string) =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(rpc, { origin });
        socket.on("open", () => {
          socket.close();
          resolve(101);
        });
        socket.on("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
        socket.on("error", () => {});
      });
    expect(await statusFrom("http://evil.example")).toBe(403);
    expect(await statusFrom(new URL(observer.url).origin)).toBe(101);
  });
});
