// OTP's child management on a supervisor: terminate a child and keep its spec, restart it, delete
// it; which_children and count_children; a start that returns "ignore"; a significant child
// whose end stops its supervisor (autoShutdown); and a supervisor that gives up, with its cause
// and the reports it made on the way.

import { createMachine } from "xstate";
import * as CapnWeb from "capnweb-otp";

const idle = createMachine({ id: "idle", initial: "waiting", states: { waiting: {}, done: { type: "final" } }, on: { DONE: ".done" } });

async function main() {
  const reports: string[] = [];
  CapnWeb.telemetry.attach("example", ["supervisor:crash", "supervisor:start_error", "supervisor:restart", "supervisor:give_up"], (event, report) => {
    reports.push(`${event} ${report.childId}`);
  });

  // Child management.
  const app = await CapnWeb.Supervisor.start(
    [
      CapnWeb.Supervisor.actor(idle, { id: "cache" }),
      CapnWeb.Supervisor.actor(idle, { id: "indexer" }),
      { id: "optional-feature", start: () => "ignore" }, // listed, not running, not restarted
    ],
    { name: "app", maxRestarts: 3, maxSeconds: 5 },
  );
  const show = () => app.whichChildren().map(({ id, child }) => `${id}=${child === undefined ? "stopped" : child === "restarting" ? "restarting" : "running"}`).join(" ");
  console.log("children:", show());
  await app.terminateChild("indexer"); // stopped, spec kept
  console.log("after terminateChild:", show(), JSON.stringify(app.countChildren()));
  await app.restartChild("indexer");
  await app.terminateChild("indexer");
  await app.deleteChild("indexer");
  console.log("after restart, terminate, delete:", show());
  console.log("indexer spec after delete:", app.getChildSpec("indexer"), "cache shutdown:", app.getChildSpec("cache")?.shutdown);
  await app.close();

  // A significant child: when the job is done, its supervisor stops too.
  let job: import("xstate").AnyActorRef | undefined;
  const batch = await CapnWeb.Supervisor.start(
    [CapnWeb.Supervisor.actor(idle, { id: "job", restart: "transient", significant: true, onStart: (actor) => (job = actor) })],
    { name: "batch", autoShutdown: "any_significant" },
  );
  job!.send({ type: "DONE" });
  console.log("batch exited:", await batch.exited);

  // A child that cannot come back: restarts are retried until the intensity runs out; the
  // supervisor then exits with "shutdown" and keeps the cause.
  let starts = 0;
  const fragile = await CapnWeb.Supervisor.start(
    [
      {
        id: "fragile",
        start: () => {
          if (++starts > 1) throw new Error("database unreachable");
          // Any object with `exited`, `stop()`, `kill()` and `inspect()` is a child.
          let exit!: (reason: CapnWeb.ExitReason) => void;
          const exited = new Promise<CapnWeb.ExitReason>((resolve) => (exit = resolve));
          setTimeout(() => exit({ error: new Error("lost the database") }), 10);
          return { exited, stop: () => exit("shutdown"), kill: () => exit("killed"), inspect: () => ({ kind: "fragile", status: "running" }) };
        },
      },
    ],
    { name: "fragile_sup", maxRestarts: 2, maxSeconds: 5 },
  );
  console.log("fragile exited:", await fragile.exited, "because:", fragile.exitCause?.message);
  console.log("reports:", reports.join(", "));
  CapnWeb.telemetry.detach("example");
}

await main();
