// 12. Browser bundle: what a browser application pays to ship the client. The browser entry
// (supervision, actors, restorables included) and capnweb's own, each bundled by esbuild for the
// browser with minification, then gzipped; and our bundle's biggest parts.

import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { build } from "esbuild";

export interface BundleFigures {
  minifiedBytes: number;
  gzippedBytes: number;
}

export interface BundleResult {
  ours: BundleFigures;
  capnweb: BundleFigures;
  /** Minified bytes of ours by origin: our sources and each dependency. */
  oursByPart: Record<string, number>;
}

const ourEntry = fileURLToPath(new URL("../../src/browser.ts", import.meta.url));
const capnwebEntry = createRequire(import.meta.url).resolve("capnweb").replace(/index\.cjs$/, "index.js");

async function bundle(entry: string): Promise<{ figures: BundleFigures; parts: Record<string, number> }> {
  const result = await build({ entryPoints: [entry], bundle: true, platform: "browser", format: "esm", minify: true, write: false, metafile: true, logLevel: "silent" });
  const code = result.outputFiles[0]!.contents;
  const parts: Record<string, number> = {};
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const inModules = input.split("node_modules/")[1];
      const part = inModules ? inModules.split("/").slice(0, inModules.startsWith("@") ? 2 : 1).join("/") : "capnweb-otp (src)";
      parts[part] = (parts[part] ?? 0) + bytesInOutput;
    }
  }
  return { figures: { minifiedBytes: code.byteLength, gzippedBytes: gzipSync(code, { level: 9 }).byteLength }, parts };
}

export async function bundleSize(): Promise<BundleResult> {
  const ours = await bundle(ourEntry);
  const capnweb = await bundle(capnwebEntry);
  return { ours: ours.figures, capnweb: capnweb.figures, oursByPart: ours.parts };
}
