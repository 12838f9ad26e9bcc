// npm start: an embedded Cap'n Web server and a supervised client in one process, showing what
// the library is for in a few seconds: a four-call pipeline in one round trip, a callback from the
// server into the client, a typed error, a server-side map, and a reconnect: the server restarts
// and the client's session heals under its supervisor, through the same root stub.

import { performance } from "node:perf_hooks";
import * as CapnWeb from "capnweb-otp";

// ---- the server's API ---------------------------------------------------------------------------

class Profile extends CapnWeb.Target {
  constructor(private readonly person: { name: string; email: string }) {
    super();
  }
  name() {
    return this.person.name;
  }
  email() {
    return this.person.email;
  }
}

class User extends CapnWeb.Target {
  constructor(readonly userId: number, private readonly person: { name: string; email: string }) {
    super();
  }
  profile() {
    return new Profile(this.person);
  }
}

const PEOPLE = new Map([
  [123, { name: "Ada Lovelace", email: "ada@example.com" }],
  [456, { name: "Alan Turing", email: "alan@example.com" }],
]);

class Users extends CapnWeb.Target {
  get(id: number) {
    const person = PEOPLE.get(id);
    if (!person) throw new CapnWeb.Error("not_found", `No user ${id}.`, { props: { id } });
    return new User(id, person);
  }
  friendIds(_id: number) {
    return [...PEOPLE.keys()];
  }
}

class Api extends CapnWeb.Target {
  users() {
    return new Users();
  }
  /** Long-running work that reports progress through a callback the client passed in. */
  async importRows(rows: number, progress: (done: number, total: number) => Promise<void>) {
    for (let done = 1; done <= rows; done++) {
      await progress(done, rows);
    }
    CapnWeb.release(progress);
    return { imported: rows };
  }
}

// ---- the client ---------------------------------------------------------------------------------

type ApiShape = Api;

async function main() {
  let server = await CapnWeb.serve({ port: 0, main: new Api() });
  const port = server.port;
  console.log(`server listening: ${server.wsUrl} (WebSocket) and ${server.url} (HTTP batch)\n`);

  // The client's session lives under a supervisor and reconnects with exponential backoff.
  const root = await CapnWeb.Supervisor.start(
    [
      CapnWeb.Session.spec({
        name: "demo-api",
        url: server.wsUrl,
        reconnect: { strategy: "exponential", baseDelay: 100, maxDelay: 1_000 },
        onConnect: () => console.log("   [session] connected"),
        onDisconnect: (reason) => console.log(`   [session] disconnected: ${reason.message}`),
      }),
    ],
    { name: "demo", strategy: "one_for_one" },
  );
  const api = CapnWeb.session<ApiShape>("demo-api");

  // 1. Pipelining: four calls, one round trip. Every push leaves before the first answer arrives.
  const name = await api.users().get(123).profile().name();
  console.log(`\n1. pipelined  api.users().get(123).profile().name()  →  ${JSON.stringify(name)}`);

  const rounds = 200;
  let start = performance.now();
  for (let i = 0; i < rounds; i++) await api.users().get(123).profile().name();
  const pipelined = (performance.now() - start) / rounds;
  start = performance.now();
  for (let i = 0; i < rounds; i++) {
    const users = await api.users();
    const user = await users.get(123);
    const profile = await user.profile();
    await profile.name();
    CapnWeb.release([users, user, profile]);
  }
  const sequential = (performance.now() - start) / rounds;
  console.log(
    `   one pipeline: ${pipelined.toFixed(3)} ms, four awaits: ${sequential.toFixed(3)} ms ` +
      `(${(sequential / pipelined).toFixed(1)}x: the pipeline costs one round trip, not four)\n`,
  );

  // 2. A callback: the client passes a function, the server calls it back while it works.
  const bar = (done: number, total: number) => "#".repeat(done).padEnd(total, ".");
  const result = await api.importRows(5, async (done, total) => {
    console.log(`2. server → client progress  [${bar(done, total)}] ${done}/${total}`);
  });
  console.log(`   import finished: ${JSON.stringify(result)}\n`);

  // 3. Errors come back typed, as a Result or as an exception.
  const missing = await CapnWeb.await(api.users().get(999).profile().name());
  if (!missing.ok) {
    console.log(`3. error  type=${missing.error.type}  message=${JSON.stringify(missing.error.message)}  id=${missing.error.details.id}\n`);
  }

  // 4. map(): the mapper is recorded here and run on the server, once per element: one round trip.
  const names = await api
    .users()
    .friendIds(123)
    .map((id) => api.users().get(id).profile().name());
  console.log(`4. server-side map over friend ids  →  ${JSON.stringify(names)}\n`);

  // 5. Reconnect: the server goes away and comes back on the same port; the session heals.
  console.log("5. restarting the server...");
  await server.close();
  await waitFor(() => sessionStatus(root) === "backingOff");
  const during = await CapnWeb.await(api.users().get(123).profile().name());
  console.log(`   a call during the outage: ${during.ok ? "ok?!" : `failed fast, type=${during.error.type}`}`);
  const next = sessionOf(root)?.nextAttemptAt;
  console.log(`   session state: ${sessionStatus(root)}, next attempt at ${next}`);
  server = await CapnWeb.serve({ port, main: new Api() });
  console.log(`   server back on port ${port}`);
  await waitFor(() => sessionStatus(root) === "connected");
  const again = await api.users().get(456).profile().name();
  console.log(`   same root stub after the reconnect  →  ${JSON.stringify(again)}\n`);

  const tree = CapnWeb.inspect(root);
  const session = sessionOf(root);
  console.log(
    `inspect: supervisor ${tree.name} (${tree.strategy}, restarts ${tree.restarts.used}/${tree.restarts.max}); ` +
      `session ${tree.children[0]?.id}: ${session?.status}, connects=${session?.connects}, disconnects=${session?.disconnects}`,
  );

  await root.close();
  await server.close();
  console.log("closed cleanly.");
}

/** The inspection of the root's session: inspection is a union, narrowed on `kind`. */
function sessionOf(root: CapnWeb.Supervisor): CapnWeb.SessionInspection | undefined {
  const actor = CapnWeb.inspect(root).children[0]?.actor;
  return actor?.kind === "session" ? actor : undefined;
}

function sessionStatus(root: CapnWeb.Supervisor): string | undefined {
  return sessionOf(root)?.status;
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the demo's session");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
