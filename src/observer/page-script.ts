// The observer page's script: the page is a Cap'n Web client like any other, so its script is
// our browser entry's client plus the drawing code (src/observer/page/), bundled for the
// browser. `npm run build` (and so `prepare`, which `npm pack` and git installs run) writes the
// bundle into dist/ beside this module, and an installed package serves that file with plain
// node. Run from the sources (tsx, vitest), where no bundle exists, it is bundled on first use
// with esbuild, a development dependency.

import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export const PAGE_BUNDLE_NAME = "observer-page.js";

const bundleBeside = new URL(`./${PAGE_BUNDLE_NAME}`, import.meta.url);
// From dist/observer/ the sources are in ../../src/observer/ (the package ships them).
const entryCandidates = [new URL("./page/main.ts", import.meta.url), new URL("../../src/observer/page/main.ts", import.meta.url)];

let script: Promise<string> | undefined;

/** The page's script, read from the build or bundled now (once per process). */
export function pageScript(): Promise<string> {
  script ??= readFile(bundleBeside, "utf8").catch(() => bundle());
  script.catch(() => (script = undefined));
  return script;
}

async function bundle(): Promise<string> {
  const entry = entryCandidates.find((candidate) => existsSync(candidate));
  let esbuild: typeof import("esbuild") | undefined;
  try {
    esbuild = entry && (await import("esbuild"));
  } catch {
    // Installed without development dependencies: only the built bundle can serve.
  }
  if (!entry || !esbuild) {
    throw new Error(`The observer page's script is missing (${fileURLToPath(bundleBeside)}): build the package with \`npm run build\`.`);
  }
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    minify: true,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** Writes the bundle beside this module: the build's last step, run on dist/observer/page-script.js. */
export async function writePageBundle(): Promise<string> {
  await writeFile(bundleBeside, await bundle());
  return fileURLToPath(bundleBeside);
}
