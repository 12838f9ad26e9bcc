// A supervision tree like an OTP application's: a named session to an API, an application's own
// XState actor beside it, one_for_one restarts, and the tree inspected while it runs.

import { assign, setup } from "xstate";
import * as CapnWeb from "capnweb-otp";

class Api extends CapnWeb.Target {
  square(i: number) {
    return i * i;
  }
}

// An application actor: counts events, and crashes on "CRASH" (its supervisor restarts it).
const counter = setup({
  types: { context: {} as { count: number }, events: {} as { type: "INC" } | { type: "CRASH" } },
  actions: {
    crash: () => {
      throw new Error("counter crashed on purpose");
    },
  },
}).createMachine({
  context: { count: 0 },
  on: { INC: { actions: assign({ count: ({ context }) => context.count + 1 }) }, CRASH: { actions: "crash" } },
});

async function main() {
  const server = await CapnWeb.serve({ port: 0, main: new Api() });

  let current: import("xstate").AnyActorRef | undefined;
  const app = await CapnWeb.Supervisor.start(
    [
      CapnWeb.Session.spec({ name: "api", url: server.wsUrl, reconnect: "exponential", maxAttempts: Infinity }),
      CapnWeb.Supervisor.actor(counter, { id: "counter", onStart: (actor) => (current = actor) }),
    ],
    { name: "my_app", strategy: "one_for_one", maxRestarts: 3, maxSeconds: 5 },
  );

  const api = CapnWeb.session<Api>("api");
  console.log(`api.square(12) = ${await api.square(12)}`);

  current!.send({ type: "INC" });
  current!.send({ type: "INC" });
  console.log(`counter before the crash: ${current!.getSnapshot().context.count}`);
  current!.send({ type: "CRASH" });
  await new Promise((resolve) => setTimeout(resolve, 10));
  console.log(`counter after its restart: ${current!.getSnapshot().context.count} (a fresh actor)`);

  const tree = CapnWeb.inspect(app);
  for (const child of tree.children) {
    console.log(`  ${child.id}: ${child.actor?.kind} ${child.actor?.status}, restarts=${child.restarts}${child.lastError ? `, last error: ${child.lastError}` : ""}`);
  }
  console.log(`supervisor ${tree.name}: restarts used ${tree.restarts.used} of ${tree.restarts.max} in ${tree.restarts.withinSeconds}s`);

  await app.close();
  await server.close();
  console.log("stopped in reverse order: counter, then api.");
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
