// The library under test, as its users run it: the JavaScript that `npm run build` (tsc) writes to
// dist/, like capnweb's own dist/ that it is compared with. Not the TypeScript sources through
// tsx: its esbuild transform adds a `name` property to every closure (keepNames), which costs
// about 5 KiB of heap per supervised session and some speed, and no user would pay either.
// `npm run bench` builds first. Types come from the sources, which dist/ is compiled from.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type * as Library from "../../src/index.js";
import type * as ChildModule from "../../src/supervisor/child.js";

const dist = new URL("../../dist/", import.meta.url);
if (!existsSync(fileURLToPath(new URL("index.js", dist)))) {
  throw new Error("bench/ measures the compiled library: run `npm run build` first (`npm run bench` does)");
}

export const CapnWeb: typeof Library = await import(new URL("index.js", dist).href);
/** An internal of the supervisor, for plain children that are not sessions. */
export const { exitSignal }: typeof ChildModule = await import(new URL("supervisor/child.js", dist).href);
