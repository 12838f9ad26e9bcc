// Top self-time functions of a .cpuprofile (from `node --cpu-prof`):
//   npx tsx bench/profile-summary.ts <file.cpuprofile> [top=10] [--by-file]

import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export function summarize(profile: Profile, top = 10, byFile = false): Array<{ name: string; ms: number; share: number }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: it belongs to sample i - 1's node.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]!)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\//, "").replace(/^.*\/node_modules\//, "node_modules/").replace(/^.*\/work\/main\//, "");
    const key = byFile ? file || functionName : `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, topArg] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  if (!file) throw new Error("usage: profile-summary.ts <file.cpuprofile> [top] [--by-file]");
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const rows = summarize(profile, Number(topArg ?? 10), process.argv.includes("--by-file"));
  console.log(`| self ms | share | function |\n| ---: | ---: | --- |`);
  for (const r of rows) console.log(`| ${r.ms.toFixed(0)} | ${(r.share * 100).toFixed(1)}% | \`${r.name}\` |`);
}
