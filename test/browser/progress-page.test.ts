// A real browser (Chromium, driven by playwright-core) running capnweb's own client against our
// server: the server-driven progress bar of examples/progress-page.ts reaches 100%.
// .ci/run installs Debian's chromium; without a browser on the machine the test says so and skips.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((path) => existsSync(path));
const example = fileURLToPath(new URL("../../examples/progress-page.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url));

describe.skipIf(!CHROMIUM)(`the progress page in Chromium${CHROMIUM ? "" : " (no chromium installed: skipped)"}`, () => {
  it("shows the server's progress callbacks and the import's result", async () => {
    const server = spawn(tsx, [example], { env: { ...process.env, PAGE_MS: "30000" }, stdio: ["ignore", "pipe", "inherit"] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        server.stdout.on("data", (chunk: Buffer) => {
          const match = /progress page: (\S+)/.exec(chunk.toString());
          if (match) resolve(match[1]!);
        });
        server.once("exit", (code) => reject(new Error(`example exited early (${code})`)));
      });
      const browser = await chromium.launch({
        executablePath: CHROMIUM!,
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      });
      try {
        const page = await browser.newPage();
        const labels: string[] = [];
        await page.exposeFunction("recordLabel", (text: string) => labels.push(text));
        // Runs in the page (as a string: this project compiles without DOM types).
        await page.addInitScript(`
          new MutationObserver(() => window.recordLabel(document.getElementById("label")?.textContent ?? ""))
            .observe(document, { subtree: true, childList: true, characterData: true });
        `);
        await page.goto(url);
        await page.waitForFunction(`document.getElementById("label")?.textContent?.startsWith("done:")`, undefined, { timeout: 15_000 });
        expect(await page.textContent("#label")).toBe("done: 500 rows imported");
        expect(await page.evaluate(`document.getElementById("fill").style.width`)).toBe("100%");
        // The bar moved through the server's callbacks, in order, on the way.
        const percents = labels.map((text) => /^(\d+)%/.exec(text)?.[1]).filter(Boolean).map(Number);
        expect(percents.length).toBeGreaterThanOrEqual(5);
        expect(percents).toEqual([...percents].sort((a, b) => a - b));
      } finally {
        await browser.close();
      }
    } finally {
      server.kill();
    }
  }, 40_000);
});
