// The live observer: a page showing the supervision tree as it runs (open the printed URL in a
// browser while the example waits; with OBSERVE_MS unset it takes one snapshot and exits).

import * as CapnWeb from "capnweb-otp";

class Api extends CapnWeb.Target {
  square(i: number) {
    return i * i;
  }
}

async function main() {
  const server = await CapnWeb.serve({ port: 0, main: new Api() });
  const app = await CapnWeb.Supervisor.start(
    [
      CapnWeb.Session.spec({ name: "api", url: server.wsUrl }),
      CapnWeb.Pool.spec({ name: "pool", url: server.wsUrl, size: 2 }),
      CapnWeb.Supervisor.spec([CapnWeb.Session.spec({ id: "inner", url: server.wsUrl })], { name: "nested", strategy: "rest_for_one" }),
    ],
    { name: "my_app" },
  );
  const observer = await CapnWeb.observe(app);
  console.log(`observer page: ${observer.url}`);

  const tree: any = await (await fetch(new URL("tree.json", observer.url))).json();
  const names = (node: any): string[] => [node.name ?? node.id, ...(node.children ?? []).flatMap((c: any) => [c.id, ...(c.actor?.children ?? []).map((g: any) => g.id)])];
  console.log(`tree.json: ${tree.kind} ${tree.name} with ${tree.children.length} children: ${names(tree).slice(1).join(", ")}`);
  const page = await (await fetch(observer.url)).text();
  console.log(`page: ${page.includes("capnweb-otp observer") ? "served" : "missing"}`);

  const wait = Number(process.env.OBSERVE_MS ?? 0);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  await observer.close();
  await app.close();
  await server.close();
  console.log("done.");
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
