// Application configuration, pino logging through child loggers, and telemetry on
// node:diagnostics_channel with the telemetry.attach() convenience: the calls a client makes,
// and the same calls as the server answered them.

import { Writable } from "node:stream";
import { pino } from "pino";
import * as CapnWeb from "capnweb-otp";

class Api extends CapnWeb.Target {
  square(i: number) {
    return i * i;
  }
  fail() {
    throw new RangeError("nope");
  }
}

async function main() {
  const lines: { level: number; msg: string; session?: string }[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  CapnWeb.configure({ logger: pino({ level: "info" }, sink), reconnectBaseDelay: 20, reconnectMaxDelay: 200 });

  try {
    CapnWeb.configure({ reconectStrategy: "exponential" } as never);
  } catch (error) {
    console.log(`configure refused a typo: ${(error as CapnWeb.Error).type}`);
  }

  const seen: string[] = [];
  CapnWeb.telemetry.attach("demo", ["call:start", "call:stop", "call:exception", "connection:up"], (event, message) => {
    seen.push(event === "connection:up" ? event : `${event} ${message.path}`);
  });
  // The server's side of the same calls: what its exports answered, and how long each took.
  const served: string[] = [];
  CapnWeb.telemetry.attach("demo-server", ["serve:stop", "serve:exception"], (event, message) => {
    served.push(`${event} ${message.path}${event === "serve:exception" ? ` (${message.error.message})` : ""}`);
  });

  const server = await CapnWeb.serve({ port: 0, main: new Api() });
  const app = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ name: "api", url: server.wsUrl })]);
  const api = CapnWeb.session<Api>("api");
  await api.square(4);
  await CapnWeb.await(api.fail());
  console.log(`telemetry: ${seen.join(", ")}`);
  console.log(`served: ${served.join(", ")}`);
  console.log(`log: ${lines.map((line) => `${line.msg} [session=${line.session}]`).join(", ")}`);

  CapnWeb.telemetry.detach("demo");
  CapnWeb.telemetry.detach("demo-server");
  await app.close();
  await server.close();
  CapnWeb.configure({ logger: undefined });
  console.log("done.");
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
