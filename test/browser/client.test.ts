// Our client in a real browser: the browser entry, bundled by esbuild for the browser as an
// application's bundler would, loaded by a page in Chromium (driven by playwright-core). The page
// runs a supervised session against capnweb's server and against ours, pipelines, takes
// callbacks into a page-side target, maps on the server, and heals through a server restart, its
// restorable capability included. Screenshots of the page's progress bar are compared.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { RpcTarget } from "capnweb";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { CHROMIUM, launchChromium } from "../shared/chromium.js";
import { type RestartableServer, restartableCapnwebServer, restartableOurServer } from "../shared/restartable-servers.js";

const browserEntry = fileURLToPath(new URL("../../src/browser.ts", import.meta.url));

// ---- the API, on both servers --------------------------------------------------------------------

const NAMES = ["Ada", "Alan", "Grace", "Barbara"];

function ourApi(): CapnWeb.Target {
  class User extends CapnWeb.Target {
    constructor(private readonly id: number) {
      super();
    }
    name() {
      return NAMES[this.id] ?? "?";
    }
  }
  class Users extends CapnWeb.Target {
    get(id: number) {
      return new User(id);
    }
  }
  class Authed extends CapnWeb.Target {
    whoami() {
      return "page-user";
    }
  }
  class Api extends CapnWeb.Target {
    users() {
      return new Users();
    }
    friendIds() {
      return [0, 1, 2, 3];
    }
    authenticate(token: string) {
      if (token !== "page-token") throw new Error("bad token");
      return new Authed();
    }
    async countdown(reporter: CapnWeb.Stub<{ onTick(percent: number): void }>, steps: number) {
      for (let i = 1; i <= steps; i++) await reporter.onTick((i * 100) / steps);
      CapnWeb.release(reporter);
      return steps;
    }
  }
  return new Api();
}

function capnwebApi(): RpcTarget {
  class User extends RpcTarget {
    constructor(private readonly id: number) {
      super();
    }
    name() {
      return NAMES[this.id] ?? "?";
    }
  }
  class Users extends RpcTarget {
    get(id: number) {
      return new User(id);
    }
  }
  class Authed extends RpcTarget {
    whoami() {
      return "page-user";
    }
  }
  class Api extends RpcTarget {
    users() {
      return new Users();
    }
    friendIds() {
      return [0, 1, 2, 3];
    }
    authenticate(token: string) {
      if (token !== "page-token") throw new Error("bad token");
      return new Authed();
    }
    async countdown(reporter: { onTick(percent: number): Promise<unknown> }, steps: number) {
      for (let i = 1; i <= steps; i++) await reporter.onTick((i * 100) / steps);
      return steps;
    }
  }
  return new Api();
}

const ourServer = (): Promise<RestartableServer> => restartableOurServer(ourApi);
const capnwebServer = (): Promise<RestartableServer> => restartableCapnwebServer(capnwebApi);

// ---- the page ------------------------------------------------------------------------------------

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>capnweb-otp in a browser</title>
<style>body{font:14px sans-serif;margin:20px} #track{width:300px;height:24px;background:#ddd} #fill{height:24px;width:0;background:#2a7}</style>
</head><body><h1 id="title">capnweb-otp</h1><div id="track"><div id="fill"></div></div><pre id="log"></pre>
<script type="module">
import * as CapnWeb from "/capnweb-otp.js";
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
class PageReporter extends CapnWeb.Target {
  onTick(percent) { document.getElementById("fill").style.width = percent + "%"; window.ticks.push(percent); }
}
window.ticks = [];
window.CapnWeb = CapnWeb;
window.run = async (url) => {
  const app = await CapnWeb.Supervisor.start([
    CapnWeb.Session.spec({ name: "api", url, reconnect: { strategy: "constant", baseDelay: 25, jitter: 0 } }),
  ]);
  window.app = app;
  const api = CapnWeb.session("api");
  window.api = api;
  const pipelined = await api.users().get(2).name();
  const names = await api.friendIds().map((id) => api.users().get(id).name());
  const reporter = CapnWeb.export(api, new PageReporter());
  const steps = await api.countdown(reporter, 5);
  window.authed = CapnWeb.restorable(api, (root) => root.authenticate("page-token"));
  const who = await window.authed.whoami();
  log("pipelined " + pipelined + ", mapped " + names.join(","));
  return { pipelined, names, steps, who, ticks: window.ticks.slice() };
};
window.afterRestart = async () => {
  await CapnWeb.ready("api", { timeout: 10000 });
  const who = await window.authed.whoami();
  const again = await window.api.users().get(0).name();
  const tree = CapnWeb.inspect(window.app);
  const session = tree.children[0].actor;
  log("healed: " + who);
  return { who, again, connects: session.connects, restorables: session.restorables.map((r) => r.state) };
};
window.ready = true;
</script></body></html>`;

/** A module Web Worker: a supervised session of its own, answering the page with what it got. */
const WORKER = `
import * as CapnWeb from "/capnweb-otp.js";
self.onmessage = async ({ data: url }) => {
  try {
    const app = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ name: "worker-api", url })]);
    const api = CapnWeb.session("worker-api");
    const name = await api.users().get(1).name();
    const names = await api.friendIds().map((id) => api.users().get(id).name());
    const ticks = [];
    class WorkerReporter extends CapnWeb.Target { onTick(percent) { ticks.push(percent); } }
    const steps = await api.countdown(CapnWeb.export(api, new WorkerReporter()), 2);
    await app.close();
    self.postMessage({ name, names, steps, ticks });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
`;

async function pageServer(bundle: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    if (request.url === "/worker.js") {
      response.writeHead(200, { "content-type": "text/javascript" }).end(WORKER);
    } else if (request.url === "/capnweb-otp.js") {
      response.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
    } else if (request.url === "/") {
      response.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.skipIf(!CHROMIUM)(`our browser entry in Chromium${CHROMIUM ? "" : " (no chromium installed: skipped)"}`, () => {
  let browser: Browser;
  let site: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    const result = await build({ entryPoints: [browserEntry], bundle: true, platform: "browser", format: "esm", write: false, minify: true, logLevel: "silent" });
    site = await pageServer(result.outputFiles[0]!.text);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  for (const [label, makeServer] of [
    ["capnweb's server", capnwebServer],
    ["our server", ourServer],
  ] as const) {
    it(`a supervised session in the page against ${label}: pipelining, map, callbacks into the page, and healing through a restart`, async () => {
      const server = await makeServer();
      let page: Page | undefined;
      try {
        page = await browser.newPage({ viewport: { width: 400, height: 200 } });
        const errors: string[] = [];
        page.on("pageerror", (error) => errors.push(error.message));
        await page.goto(site.url);
        await page.waitForFunction("window.ready === true", undefined, { timeout: 10_000 });
        const empty = await page.locator("#track").screenshot();
        const first = (await page.evaluate(`window.run(${JSON.stringify(server.url)})`)) as Record<string, unknown>;
        expect(first).toEqual({ pipelined: "Grace", names: ["Ada", "Alan", "Grace", "Barbara"], steps: 5, who: "page-user", ticks: [20, 40, 60, 80, 100] });
        // The page-side target drew the server's callbacks: the bar is full now.
        const full = await page.locator("#track").screenshot();
        expect(full.equals(empty)).toBe(false);
        expect(await page.evaluate(`document.getElementById("fill").style.width`)).toBe("100%");

        await server.stop();
        await page.waitForFunction(`window.CapnWeb.inspect(window.app).children[0].actor.status !== "connected"`, undefined, { timeout: 10_000 });
        await server.start();
        const healed = await page.evaluate("window.afterRestart()");
        expect(healed).toEqual({ who: "page-user", again: "Ada", connects: 2, restorables: ["live"] });
        expect(errors).toEqual([]);
      } finally {
        await page?.evaluate("window.app?.close()").catch(() => {});
        await page?.close();
        await server.stop().catch(() => {});
      }
    }, 60_000);
  }

  it("a supervised session in a Web Worker against our server: pipelining, map, and a worker-side target the server calls back", async () => {
    const server = await ourServer();
    const page = await browser.newPage();
    try {
      await page.goto(site.url);
      const result = await page.evaluate(`new Promise((resolve) => {
        const worker = new Worker("/worker.js", { type: "module" });
        worker.onmessage = ({ data }) => resolve(data);
        worker.postMessage(${JSON.stringify(server.url)});
      })`);
      expect(result).toEqual({ name: "Alan", names: ["Ada", "Alan", "Grace", "Barbara"], steps: 2, ticks: [50, 100] });
    } finally {
      await page.close();
      await server.stop();
    }
  }, 60_000);
});
