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
  "complete-app.ts": [
    /get\(1\): Ada Lovelace/,
    /getFull\(3\): \["Grace Hopper",\{"bio":"Grace Hopper wrote programs\."\},\{"theme":"dark"\}\]/,
    /get\(99\): not_found/,
    /bridge: 3 events before the restart/,
    /server restarted; session reconnected and restored/,
    /import after the reconnect:\n  \[#\.\.\.\] 1\/4\n  \[##\.\.\] 2\/4\n  \[###\.\] 3\/4\n  \[####\] 4\/4\n  imported 4 users from users-2\.csv/,
    /bridge: 6 of 6 events, in order: none lost, none twice/,
    /done\./,
  ],
  "supervision.ts": [/api\.square\(12\) = 144/, /counter before the crash: 2/, /counter after its restart: 0/, /counter: actor active, restarts=1, last error: Error: counter crashed on purpose/, /restarts used 1 of 3/],
  "dynamic-sessions.ts": [/alice is token-alice, bob is token-bob/, /reused the session: true/, /running sessions: 2, registered names: 2/, /lookup\(bob\) = undefined/],
  "observer.ts": [
    /api\.square\(12\) = 144/,
    /page: served/,
    /update: supervisor my_app with children api, pool, nested/,
    /api exports: export of reporter, refcount 1, owner reporter \(target actor\)/,
    /log: crash my_app\/nested\/inner/,
    /done\./,
  ],
  "progress-page.ts": [/progress page: http:\/\/127\.0\.0\.1:\d+\//, /page served: true, capnweb bundle served: true/, /done\./],
  "errors-and-timeouts.ts": [
    /user 123: Ada/,
    /user 999: not found \(type=not_found, id=999\)/,
    /authenticate failed: true TypeError: bad token \(type=remote\)/,
    /rescued: guest/,
    /batch: \[\{"name":"Ada"\},\["read","write"\],\{"theme":"dark"\}\]/,
    /per call: timeout/,
    /per session: timeout/,
    /application default: timeout/,
    /without a timeout: finally/,
  ],
  "telemetry-and-config.ts": [
    /configure refused a typo: invalid_argument/,
    /telemetry: connection:up, call:start square, call:stop square, call:start fail, call:exception fail/,
    /served: serve:stop square, serve:exception fail \(nope\)/,
    /log: connected \[session=api\]/,
  ],
  "capabilities.ts": [
    /explicit: released; client \{"imports":1,"exports":1\}, server exports 1/,
    /using: work done for ada/,
    /using: released; client \{"imports":1,"exports":1\}, server exports 1/,
    /withCapability: something went wrong inside/,
    /withCapability: released; client \{"imports":1,"exports":1\}, server exports 1/,
    /scope: released; client \{"imports":1,"exports":1\}, server exports 1/,
  ],
  "limits.ts": [
    /breach: maxAwaitedAnswers over websocket/,
    /greedy client: aborted, The peer aborted the session: More than 10 calls await the peer's answer\./,
    /honest client: square\(12\) = 144/,
    /cross-site POST: 403/,
    /closed\./,
  ],
  "child-management.ts": [
    /children: cache=running indexer=running optional-feature=stopped/,
    /after terminateChild: cache=running indexer=stopped optional-feature=stopped \{"specs":3,"active":1,"supervisors":0,"workers":3\}/,
    /after restart, terminate, delete: cache=running optional-feature=stopped/,
    /indexer spec after delete: undefined cache shutdown: 5000/,
    /batch exited: shutdown/,
    /fragile exited: shutdown because: fragile_sup reached its restart intensity \(2 in 5s\); last failure in fragile: database unreachable/,
    /reports: supervisor:crash fragile, supervisor:start_error fragile, supervisor:start_error fragile, supervisor:give_up fragile/,
  ],
  "capnweb-dropin.ts": [
    /square\(7\) = 49/,
    /counter: 15/,
    /callTwice: \[100,200\]/,
    /fail\(\): RangeError: out of range/,
    /HTTP batch: \[4,9\]/,
    /local stub: 2/,
    /promised: 101 \(the call waited for the promise\)/,
    /broken-listener told after it was stopped: 0/,
    /done\./,
  ],
  "pool.ts": [/sum of squares = 20540/, /pool: 4 sessions/, /done\./],
  "reporter.ts": [
    /\[###\.\.\.\.\.\.\.\] 25% Parsing\.\.\./,
    /\[#####\.\.\.\.\.\] 50% Validating\.\.\./,
    /\[########\.\.\] 75% Importing\.\.\./,
    /\[##########\] 100% Indexing\.\.\./,
    /Complete: \{"imported":1000\}\nstartImport returned \{"imported":1000\}/,
    /Error: cannot import \S+users\.xlsx: not a CSV file\nstartImport failed: type=invalid_argument/,
    /client tables: \{"imports":1,"exports":1\}, server tables: \{"sessions":1,"imports":1,"exports":1\}/,
    /done\./,
  ],
  "stream-collector.ts": [
    /streamQuery returned \{"streamed":5,"collectorCounted":5\}/,
    /collected #1 Ada Lovelace\n.*collected #2 Alan Turing\n.*collected #3 Grace Hopper\n.*collected #4 Barbara Liskov\n.*collected #5 Joe Armstrong/,
    /collector count: 5, items: 5/,
    /collector actor: stopped \(released\) after 6 calls/,
    /after release: client \{"imports":1,"exports":1\}, server \{"sessions":1,"imports":1,"exports":1\}/,
  ],
  "chat.ts": [
    /bob joined lobby; members: alice, bob/,
    /alice sent a message, delivered to 2/,
    /bob left; members: alice\n/,
    /carol hung up; members: alice\n/,
    /alice left; lobby has 0 members/,
    /what alice saw:\n {2}\* bob joined the room\n {2}alice: hi bob!\n {2}bob: hello alice, how are you\?\n {2}alice: great, thanks\n {2}\* bob left the room\n {2}\* carol joined the room\n {2}\* carol left the room\n {2}alice: anyone still here\?\n/,
    /what bob saw:\n {2}alice: hi bob!\n {2}bob: hello alice, how are you\?\n {2}alice: great, thanks\n\n/,
    /chat clients: alice stopped \(released\), bob stopped \(released\)/,
    /tables after release: alice \{"imports":1,"exports":1\}, bob \{"imports":1,"exports":1\}, server \{"sessions":2,"imports":2,"exports":2\}/,
  ],
  "streams.ts": [
    /download: 4194304 bytes, sha256 matches: true/,
    /upload: 3145728 bytes, sha256 matches: true/,
    /blob: image\/svg\+xml, 41 bytes/,
    /response: 200 text\/csv, 1,Ada Lovelace/,
    /scope ended: the server's stream was cancelled: true/,
    /tables after: client \{"imports":1,"exports":1\}, server \{"sessions":1,"imports":1,"exports":1\}/,
    /done\./,
  ],
  "event-bridge.ts": [
    /job-1 started: \S+users\.csv/,
    /job-1 \[\.\.\.\.\.\.\.\.\.\.\] 0%\njob-1 \[##\.\.\.\.\.\.\.\.\] 20%\n(.*\n){3}job-1 \[##########\] 100%\njob-1 done: imported 1000 rows/,
    /view of users:42 re-rendered: \{"id":42,"name":"Ada Lovelace"\}\nunsubscribe\(\) → true; the server has 0 subscriber/,
    /import:started×1, import:progress×6, import:done×1, users:42×1\n/,
    /tables after release: client \{"imports":1,"exports":1\}, server \{"sessions":1,"imports":1,"exports":1\}/,
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
