// The Chromium the browser tests drive (through playwright-core), when this machine has one.

import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((path) => existsSync(path));

/** Headless, and quiet: no sandbox (containers), no GPU, no background traffic of its own. */
export function launchChromium(): Promise<Browser> {
  if (!CHROMIUM) throw new Error("no Chromium on this machine");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
