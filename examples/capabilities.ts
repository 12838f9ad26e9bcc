// Releasing capabilities: explicitly, with `using`, with withCapability(), and with scope(), the
// original's `release`, `with_capability` and "process death = release", checked on the tables.

import * as CapnWeb from "capnweb-otp";

class Session extends CapnWeb.Target {
  constructor(private readonly user: string) {
    super();
  }
  whoami() {
    return this.user;
  }
  doWork() {
    return `work done for ${this.user}`;
  }
}

class Api extends CapnWeb.Target {
  authenticate(token: string) {
    if (token !== "s3cret") throw new CapnWeb.Error("unauthorized", "bad token");
    return new Session("ada");
  }
}

async function main() {
  const server = await CapnWeb.serve({ port: 0, main: new Api() });
  const api = await CapnWeb.connect<Api>(server.wsUrl);
  const tables = () => `client ${JSON.stringify(CapnWeb.stats(api))}, server exports ${server.handlers.stats().exports}`;
  const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

  // Explicit release: the peer is told with ["release", id, n].
  const session = await api.authenticate("s3cret");
  console.log(`explicit: ${await session.whoami()}; holding: ${tables()}`);
  CapnWeb.release(session);
  await settle();
  console.log(`explicit: released; ${tables()}`);

  // `using`: released at the end of the block.
  {
    using scoped = await api.authenticate("s3cret");
    console.log(`using: ${await scoped.doWork()}`);
  }
  await settle();
  console.log(`using: released; ${tables()}`);

  // withCapability(): released on every way out, a throw included.
  try {
    await CapnWeb.withCapability(api.authenticate("s3cret"), async (cap) => {
      console.log(`withCapability: ${await cap.whoami()}`);
      throw new Error("something went wrong inside");
    });
  } catch (error) {
    console.log(`withCapability: ${(error as Error).message}`);
  }
  await settle();
  console.log(`withCapability: released; ${tables()}`);

  // scope(): everything obtained inside, across awaits, is released when it ends.
  await CapnWeb.scope(async () => {
    const a = await api.authenticate("s3cret");
    const b = await api.authenticate("s3cret");
    console.log(`scope: holding two sessions (${await a.whoami()}, ${await b.whoami()})`);
  });
  await settle();
  console.log(`scope: released; ${tables()}`);

  CapnWeb.close(api);
  await server.close();
  console.log("done.");
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
