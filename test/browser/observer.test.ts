// The observer page in a real browser: CapnWeb.observe(root) serves it, Chromium (driven by
// playwright-core) opens it, and the page, a Cap'n Web client of the observer's own session,
// draws the pushed updates: the tree, a session's capability tables, the call chart and the log.
// Pressing "restart" on a child restarts it through its supervisor; the tree's restart count and
// the log show it. The screenshot taken at the end is the README's (docs/observer.png; run with
// UPDATE_SCREENSHOTS=1 to replace it).

import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { createMachine } from "xstate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { CHROMIUM, launchChromium } from "../shared/chromium.js";
import { ObservedApi, Reporter } from "../shared/observed-api.js";

const SCREENSHOT = fileURLToPath(new URL("../../docs/observer.png", import.meta.url));

const counterTarget = CapnWeb.target<{ ticks: number; last: number }, { progress(percent: number): number }>({
  init: () => ({ ticks: 0, last: 0 }),
  handlers: { progress: ([percent], state) => ({ reply: percent, state: { ticks: state.ticks + 1, last: percent } }) },
});

const traffic = createMachine({
  id: "traffic",
  initial: "green",
  states: { green: { on: { NEXT: "amber" } }, amber: { on: { NEXT: "red" } }, red: {} },
});

describe.skipIf(!CHROMIUM)(`the observer page in Chromium${CHROMIUM ? "" : " (no chromium installed: skipped)"}`, () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("shows the tree, a session's capability table and the calls; restart on a child shows in the tree and the log", async () => {
    const server = await CapnWeb.serve({ host: "127.0.0.1", port: 0, main: () => new ObservedApi() });
    const app = await CapnWeb.Supervisor.start(
      [
        CapnWeb.Session.spec({ name: "api", url: server.wsUrl }),
        CapnWeb.Pool.spec({ name: "pool", url: server.wsUrl, size: 2 }),
        // Nothing listens there: it backs off, and its last error is worth showing.
        CapnWeb.Session.spec({ name: "billing", url: "ws://127.0.0.1:9/", reconnect: { strategy: "constant", baseDelay: 30_000, jitter: 0 } }),
        CapnWeb.Supervisor.spec(
          [CapnWeb.Supervisor.actor(traffic, { id: "lights" }), CapnWeb.Session.spec({ id: "inner", url: server.wsUrl })],
          { name: "nested", strategy: "rest_for_one", maxRestarts: 5, maxSeconds: 60 },
        ),
      ],
      { name: "my_app" },
    );
    const observer = await CapnWeb.observe(app, { controls: true, intervalMs: 250 });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    try {
      const api = CapnWeb.session<ObservedApi>("api");
      // Something in every table: a target actor exported to the server, a restorable, a held
      // capability, and calls for the chart.
      const reporter = CapnWeb.export(api, new Reporter(), { label: "reporter" });
      expect(await api.track(reporter)).toBe("tracking");
      expect(await api.keep(reporter)).toBe(1);
      const counter = CapnWeb.export(api, counterTarget, { label: "progress-counter" });
      expect(await api.keep(counter as unknown as CapnWeb.Stub<Reporter>)).toBe(2);
      await counter.progress(10);
      await counter.progress(20);
      const authed = CapnWeb.restorable(api, (root) => root.authenticate("secret"), { label: "authed" });
      expect(await authed.value()).toBe(6);
      const held = api.item(7);
      expect(await held.value()).toBe(7);

      const errors: string[] = [];
      const failedRequests: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
      page.on("response", (response) => response.status() >= 400 && failedRequests.push(response.url()));
      await page.goto(observer.url);
      await page.waitForSelector("#link.ok", { timeout: 15_000 });
      expect(observer.pages).toBe(1);
      // Calls over a few seconds, some failing, for the chart.
      for (let second = 0; second < 4; second++) {
        const started = Date.now();
        for (let i = 0; i < 10 + second * 8; i++) await api.square(i);
        await CapnWeb.await(api.fail());
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1_000 - (Date.now() - started))));
      }

      // The tree, with the XState child's state value and the supervisors' restart meters.
      await page.waitForFunction(`document.querySelectorAll(".node .name").length >= 9`, undefined, { timeout: 10_000 });
      const names = await page.locator(".node .name").allTextContents();
      expect(names).toEqual(expect.arrayContaining(["my_app", "api", "pool", "0", "1", "billing", "nested", "lights", "inner"]));
      // A session that is not connected shows why; the connected ones show no stale error.
      const billing = page.locator(".node.k-session", { has: page.locator(".name", { hasText: /^billing$/ }) });
      expect(await billing.locator(".error").textContent()).toMatch(/ECONNREFUSED|connect/i);
      expect(await page.locator(".node.k-session", { has: page.locator(".name", { hasText: /^api$/ }) }).locator(".error").count()).toBe(0);
      const lights = page.locator(".node", { has: page.locator(".name", { hasText: /^lights$/ }) }).last();
      await expect.poll(() => lights.locator(".chip.state").textContent()).toContain("green");

      // The api session's capability tables: the exported target actor, with its refcount.
      const session = page.locator(".node.k-session", { has: page.locator(".name", { hasText: /^api$/ }) });
      await expect.poll(() => session.locator("table.cap").first().textContent(), { timeout: 10_000 }).toContain("main");
      const exportsText = await session.locator("table.cap").nth(1).textContent();
      expect(exportsText).toContain("export of reporter");
      expect(exportsText).toContain("progress-counter (target actor)");
      const importsText = await session.locator("table.cap").first().textContent();
      expect(importsText).toContain("answer to call authenticate");
      expect(importsText).toContain("call item");
      expect(await session.textContent()).toContain("authed");
      expect(await session.locator(".chip", { hasText: "connects" }).first().textContent()).toContain("1");

      // The calls chart has the calls made above.
      await expect.poll(() => page.locator("#calls .stat .big").nth(1).textContent(), { timeout: 10_000 }).not.toBe("0.0");

      // Restart a child from the page: the count and the log say so.
      const inner = page.locator(".node", { has: page.locator(".name", { hasText: /^inner$/ }) }).last();
      const meterBefore = await page.locator(".node.k-supervisor", { has: page.locator(".name", { hasText: /^nested$/ }) }).last().locator(".chip.meter").first().textContent();
      expect(meterBefore).toContain("restarts 0/5 in 60s");
      const nestedMeter = page.locator(".node.k-supervisor", { has: page.locator(".name", { hasText: /^nested$/ }) }).last().locator(".chip.meter").first();
      // The tree is redrawn on every update: the meter is shot by where it is, not as an element.
      const shootMeter = async () => {
        for (let attempt = 0; attempt < 50; attempt++) {
          const box = await nestedMeter.boundingBox().catch(() => null);
          if (box) return page.screenshot({ clip: box });
        }
        throw new Error("the restart meter was never on the page");
      };
      const meterShotBefore = await shootMeter();
      await inner.locator("button[data-action=restartChild]").click();
      await expect.poll(() => inner.locator(".chip", { hasText: "restarted" }).textContent(), { timeout: 10_000 }).toContain("1×");
      await expect.poll(() => page.locator("#log").textContent(), { timeout: 10_000 }).toContain("nested/inner");
      await expect.poll(() => page.locator("#log .t-restart").count(), { timeout: 10_000 }).toBeGreaterThan(0);
      const meterAfter = await page.locator(".node.k-supervisor", { has: page.locator(".name", { hasText: /^nested$/ }) }).last().locator(".chip.meter").first().textContent();
      expect(meterAfter).toContain("restarts 1/5 in 60s");
      // The restart meter, as drawn, changed.
      expect((await shootMeter()).equals(meterShotBefore)).toBe(false);
      expect(CapnWeb.inspect(app).children[3]!.actor).toMatchObject({ kind: "supervisor", restarts: { used: 1 } });

      // Screenshots: the page changed between two states, and one is kept for the README.
      const shot = await page.screenshot({ fullPage: true });
      expect(shot.length).toBeGreaterThan(20_000);
      // The README's copy is replaced on request only, so that a test run leaves the checkout clean.
      if (process.env.UPDATE_SCREENSHOTS === "1" || !existsSync(SCREENSHOT)) await writeFile(SCREENSHOT, shot);
      expect(errors).toEqual([]);
      expect(failedRequests).toEqual([]);
      CapnWeb.release(held);
    } finally {
      await page.close();
      await observer.close();
      await app.close();
      await server.close();
    }
  }, 90_000);
});
