// One session per user, started on demand under a DynamicSupervisor and found again through a
// Registry, the original description's `get_or_start(user_id, token)`.

import * as CapnWeb from "capnweb-otp";

class Api extends CapnWeb.Target {
  whoami(this: Api & { user?: string }) {
    return this.user;
  }
}

async function main() {
  // The server reads the bearer token of each connection and gives it its own main object.
  const server = await CapnWeb.serve({
    port: 0,
    authenticate: (request) => request.headers.authorization?.replace(/^Bearer /, "") || false,
    main: ({ auth }) => Object.assign(new Api(), { user: String(auth) }),
  });

  const registry = new CapnWeb.Registry("user_sessions");
  const sessions = await CapnWeb.DynamicSupervisor.create({ name: "user_sessions", maxChildren: 1_000 });

  async function getOrStart(userId: string, token: string) {
    const name = { via: [registry, userId] as const };
    const existing = CapnWeb.findSession<Api>(name);
    if (existing) return existing;
    await sessions.startChild(
      CapnWeb.Session.spec({ name, id: userId, url: server.wsUrl, headers: { authorization: `Bearer ${token}` } }),
    );
    return CapnWeb.session<Api>(name);
  }

  const alice = await getOrStart("alice", "token-alice");
  const bob = await getOrStart("bob", "token-bob");
  const aliceAgain = await getOrStart("alice", "token-alice");
  console.log(`alice is ${await alice.whoami()}, bob is ${await bob.whoami()}`);
  console.log(`second get_or_start(alice) reused the session: ${aliceAgain === alice}`);
  console.log(`running sessions: ${sessions.size}, registered names: ${registry.size}`);

  await sessions.terminateChild("bob");
  console.log(`after stopping bob: registered names: ${registry.size}, lookup(bob) = ${registry.lookup("bob")}`);

  await sessions.close();
  await server.close();
  console.log("done.");
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
