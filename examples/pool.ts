// A pool of connections for throughput: `size` sessions, `overflow` more under load.

import * as CapnWeb from "capnweb-otp";

class Api extends CapnWeb.Target {
  async slowSquare(i: number) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return i * i;
  }
}

async function main() {
  const server = await CapnWeb.serve({ port: 0, main: () => new Api() });
  const app = await CapnWeb.Supervisor.start([
    CapnWeb.Pool.spec({ name: "api_pool", url: server.wsUrl, size: 4, overflow: 2 }),
  ]);

  // Each session(poolName) picks the least busy connection; a pipeline stays on the one it got.
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => CapnWeb.session<Api>("api_pool").slowSquare(i)),
  );
  console.log(`40 calls through the pool: sum of squares = ${results.reduce((a, b) => a + b, 0)}`);
  const pool = CapnWeb.inspect(app).children[0]?.actor;
  if (pool?.kind === "pool") console.log(`pool: ${pool.size} sessions, overflow ${pool.overflow.running}/${pool.overflow.max} running`);
  console.log(`server sees ${server.handlers.stats().sessions} connections`);

  await app.close();
  await server.close();
  console.log("done.");
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
