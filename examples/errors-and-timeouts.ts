// Errors as Results or exceptions, rescue(), batch(), and timeouts at their three levels: the
// original description's error-handling section in TypeScript.

import * as CapnWeb from "capnweb-otp";

class Users extends CapnWeb.Target {
  get(id: number) {
    if (id !== 123) throw new CapnWeb.Error("not_found", `No user ${id}.`, { props: { id } });
    return { id, name: "Ada", teamId: 7 };
  }
}

class Api extends CapnWeb.Target {
  users() {
    return new Users();
  }
  authenticate(token: string) {
    if (token !== "s3cret") throw new TypeError("bad token");
    return new (class Session extends CapnWeb.Target {
      user() {
        return { name: "Ada" };
      }
      permissions() {
        return ["read", "write"];
      }
      preferences() {
        return { theme: "dark" };
      }
    })();
  }
  async slow(ms: number) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return "finally";
  }
}

async function main() {
  const server = await CapnWeb.serve({ port: 0, main: new Api() });
  const api = await CapnWeb.connect<Api>(server.wsUrl);

  // Tagged results: branch on the error's type.
  for (const id of [123, 999]) {
    const result = await CapnWeb.await(api.users().get(id));
    if (result.ok) console.log(`user ${id}: ${result.value.name}`);
    else if (result.error.type === "not_found") console.log(`user ${id}: not found (type=${result.error.type}, id=${result.error.details.id})`);
  }

  // Exceptions: `await` throws CapnWeb.Error.
  try {
    await api.authenticate("wrong").user();
  } catch (error) {
    const e = error as CapnWeb.Error;
    console.log(`authenticate failed: ${e instanceof CapnWeb.Error} ${e.name}: ${e.message} (type=${e.type})`);
  }

  // rescue(): a fallback for a failure anywhere in the pipeline.
  const user = await CapnWeb.rescue(api.users().get(999), (error) => (error.type === "not_found" ? { id: 0, name: "guest", teamId: 0 } : Promise.reject(error)));
  console.log(`rescued: ${user.name}`);

  // batch(): forks of one stem, resolved together.
  const session = api.authenticate("s3cret");
  const all = await CapnWeb.batch([session.user(), session.permissions(), session.preferences()]);
  if (all.ok) console.log(`batch: ${JSON.stringify(all.value)}`);

  // Timeouts: per call, per session, and the application default.
  const perCall = await CapnWeb.await(api.slow(200), { timeout: 20 });
  console.log(`per call: ${perCall.ok ? "answered" : perCall.error.type}`);
  // (The session's timeout also bounds its connect: long enough for a busy machine to connect.)
  const impatient = await CapnWeb.connect<Api>(server.wsUrl, { timeout: 250 });
  const perSession = await CapnWeb.await(impatient.slow(1_000));
  console.log(`per session: ${perSession.ok ? "answered" : perSession.error.type}`);
  CapnWeb.configure({ defaultTimeout: 20 });
  const global = await CapnWeb.await(api.slow(200));
  console.log(`application default: ${global.ok ? "answered" : global.error.type}`);
  CapnWeb.configure({ defaultTimeout: undefined });
  console.log(`without a timeout: ${await api.slow(30)}`);

  CapnWeb.close(impatient);
  CapnWeb.close(api);
  await server.close();
  console.log("done.");
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
