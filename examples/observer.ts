// The live observer: a page showing the supervision tree as it runs, with each session's
// capability tables, the calls and a log (open the printed URL in a browser while the example
// waits; with OBSERVE_MS unset it reads one update the way the page does, and exits).

import * as CapnWeb from "capnweb-otp";

class Reporter extends CapnWeb.Target {
  progress(percent: number) {
    return percent;
  }
}

class Api extends CapnWeb.Target {
  private readonly reporters: CapnWeb.Stub<Reporter>[] = [];
  square(i: number) {
    return i * i;
  }
  subscribe(reporter: CapnWeb.Stub<Reporter>) {
    this.reporters.push(reporter.dup());
    return this.reporters.length;
  }
}

/** What the page calls on the observer's own session (see the README's Observer section). */
interface ObserverPage {
  next(cursor: number): CapnWeb.ObserverSnapshot;
  restartChild(path: string[]): void;
}

async function main() {
  const server = await CapnWeb.serve({ port: 0, main: () => new Api() });
  const app = await CapnWeb.Supervisor.start(
    [
      CapnWeb.Session.spec({ name: "api", url: server.wsUrl }),
      CapnWeb.Pool.spec({ name: "pool", url: server.wsUrl, size: 2 }),
      CapnWeb.Supervisor.spec([CapnWeb.Session.spec({ id: "inner", url: server.wsUrl })], { name: "nested", strategy: "rest_for_one" }),
    ],
    { name: "my_app" },
  );
  const api = CapnWeb.session<Api>("api");
  await api.subscribe(CapnWeb.export(api, new Reporter(), { label: "reporter" }));
  console.log(`api.square(12) = ${await api.square(12)}`);

  // Controls on: this example runs on your machine only (the observer binds 127.0.0.1).
  const observer = await CapnWeb.observe(app, { controls: true });
  console.log(`observer page: ${observer.url}`);
  const page = await (await fetch(observer.url)).text();
  console.log(`page: ${page.includes("capnweb-otp observer") ? "served" : "missing"}`);

  // What the browser page does: a Cap'n Web session to /rpc, asking for the next update.
  const session = await CapnWeb.connect<ObserverPage>(new URL("rpc", observer.url.replace("http:", "ws:")).href);
  const update = await session.next(0);
  const tree = update.tree as CapnWeb.SupervisorInspection<CapnWeb.TreeInspection>;
  console.log(`update: ${tree.kind} ${tree.name} with children ${tree.children.map((c) => c.id).join(", ")}`);
  const exported = update.tables["api"]?.exports.find((entry) => entry.origin === "export of reporter");
  console.log(`api exports: ${exported ? `${exported.origin}, refcount ${exported.refcount}, owner ${exported.owner}` : "none"}`);
  await session.restartChild(["nested", "inner"]);
  const after = await session.next(update.log.at(-1)?.seq ?? 0);
  console.log(`log: ${after.log.map((entry) => `${entry.kind} ${entry.subject}`).join(", ")}`);

  const wait = Number(process.env.OBSERVE_MS ?? 0);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  CapnWeb.close(session);
  await observer.close();
  await app.close();
  await server.close();
  console.log("done.");
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
