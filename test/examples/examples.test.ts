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
  "supervision.ts": [/api\.square\(12\) = 144/, /counter before the crash: 2/, /counter after its restart: 0/, /counter: actor active, restarts=1, last error: Error: counter crashed on purpose/, /restarts used 1 of 3/],
  "dynamic-sessions.ts": [/alice is token-alice, bob is token-bob/, /reused the session: true/, /running sessions: 2, registered names: 2/, /lookup\(bob\) = undefined/],
  "observer.ts": [/tree\.json: supervisor my_app with 3 children: api, pool, 0, 1, nested, inner/, /page: served/, /done\./],
  "pool.ts": [/sum of squares = 20540/, /pool: 4 sessions/, /done\./],
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
