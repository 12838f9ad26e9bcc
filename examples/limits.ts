// Limits: a server that bounds what one peer may make it hold, tells you when a peer breaks a
// limit, refuses cross-site browser requests, and closes with a deadline.
//
//   npx tsx examples/limits.ts

import diagnostics from "node:diagnostics_channel";
import * as CapnWeb from "capnweb-otp";

class Api extends CapnWeb.Target {
  square(i: number): number {
    return i * i;
  }
  async notify(callback: (n: number) => Promise<void>, n: number): Promise<void> {
    try {
      await callback(n);
    } finally {
      CapnWeb.release(callback);
    }
  }
}

// Every breach is published (and logged), with the limit's name and the peer.
diagnostics.subscribe("capnweb:limit:exceeded", (message) => {
  const { limit, transport } = message as CapnWeb.LimitBreach;
  console.log(`breach: ${limit} over ${transport}`);
});

const server = await CapnWeb.serve({
  port: 0,
  main: () => new Api(),
  // Tighter than the defaults (CapnWeb.DEFAULT_LIMITS) to show one being reached.
  limits: { maxAwaitedAnswers: 10, batchTimeout: 5_000 },
  allowedOrigins: ["https://app.example"],
});

// A client that asks for more callbacks than the server will wait for at once, and never answers.
const greedy = await CapnWeb.connect<Api>(server.wsUrl);
const hang = () => new Promise<void>(() => {});
const calls = Array.from({ length: 11 }, (_, n) => CapnWeb.await(greedy.notify(hang, n), { timeout: 5_000 }));
const outcomes = await Promise.all(calls);
const failed = outcomes.find((outcome) => !outcome.ok);
console.log(`greedy client: ${failed && !failed.ok ? `${failed.error.type}, ${failed.error.message}` : "not stopped"}`);
CapnWeb.close(greedy);

// Meanwhile every other session is untouched.
const honest = await CapnWeb.connect<Api>(server.wsUrl);
console.log(`honest client: square(12) = ${await honest.square(12)}`);
CapnWeb.close(honest);

// A browser page of another site cannot make the server run anything over HTTP batch.
const crossSite = await fetch(server.url, {
  method: "POST",
  headers: { origin: "https://evil.example", "content-type": "text/plain" },
  body: JSON.stringify(["push", ["pipeline", 0, ["square"], [3]]]) + "\n" + JSON.stringify(["pull", 1]),
});
console.log(`cross-site POST: ${crossSite.status}`);

// Peers that do not finish the closing handshake within the deadline are dropped.
await server.close({ deadline: 1_000 });
console.log("closed.");
