// Every example in examples/ runs as a user would run it, and must finish cleanly.

import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const examplesDir = fileURLToPath(new URL("../../examples/", import.meta.url));
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url));

/** What each example must print, so a silently broken example fails here. */
const expectations: Record<string, RegExp[]> = {
  "demo.ts": [
    /"Ada Lovelace"/,
    /\[#####\] 5\/5/,
    /type=not_found/,
    /\["Ada Lovelace","Alan Turing"\]/,
    /failed fast, type=disconnected/,
    /same root stub after the reconnect {2}→ {2}"Alan Turing"/,
    /connects=2, disconnects=1/,
    /closed cleanly/,
  ],
};

describe("examples", () => {
  const files = readdirSync(examplesDir).filter((name) => name.endsWith(".ts"));

  it("each example has expectations", () => {
    expect(Object.keys(expectations).sort()).toEqual(files.sort());
  });

  for (const file of files) {
    it(`${file} runs to completion`, async () => {
      const { stdout } = await run(tsx, [examplesDir + file], { timeout: 60_000 });
      for (const pattern of expectations[file] ?? []) expect(stdout).toMatch(pattern);
    }, 90_000);
  }
});
