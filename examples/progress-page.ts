// The LiveView case: a web page whose progress bar the server drives. The browser runs capnweb's
// own client (a browser has no capnweb-otp), passes a ProgressBar target to startImport(), and
// the server calls it back as the import advances. Our handlers are mounted on the application's
// own node:http server, beside its page.
//
//   npx tsx examples/progress-page.ts          serve, check the page, exit
//   PAGE_MS=60000 npx tsx examples/progress-page.ts   keep serving for a minute: open the URL

import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import * as CapnWeb from "capnweb-otp";

class Importer extends CapnWeb.Target {
  async startImport(rows: number, progress: { update(done: number, total: number): Promise<void> }) {
    for (let done = 0; done <= rows; done += rows / 10) {
      await progress.update(done, rows);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    CapnWeb.release(progress);
    return { imported: rows };
  }
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Import</title>
<style>
  body { font: 16px system-ui, sans-serif; margin: 2rem; color: #1d2330; }
  .track { width: 420px; height: 22px; background: #e4e7ee; border-radius: 11px; overflow: hidden; }
  .fill { height: 100%; width: 0; background: linear-gradient(90deg, #3b82f6, #22c55e); transition: width .1s; }
</style></head>
<body>
  <h1>Importing users</h1>
  <div class="track"><div class="fill" id="fill"></div></div>
  <p id="label">waiting for the server…</p>
  <script type="module">
    import { newWebSocketRpcSession, RpcTarget } from "/capnweb.js";
    class ProgressBar extends RpcTarget {
      update(done, total) {
        const percent = Math.round((done / total) * 100);
        document.getElementById("fill").style.width = percent + "%";
        document.getElementById("label").textContent = percent + "% (" + done + " of " + total + " rows)";
      }
    }
    const api = newWebSocketRpcSession("ws://" + location.host + "/rpc");
    const result = await api.startImport(500, new ProgressBar());
    document.getElementById("label").textContent = "done: " + result.imported + " rows imported";
  </script>
</body></html>`;

async function main() {
  const capnwebBundle = await readFile(createRequire(import.meta.url).resolve("capnweb").replace(/index\.cjs$/, "index.js"));
  const rpc = new CapnWeb.CapnWebHandlers({ main: () => new Importer() });
  const http = createServer((request, response) => {
    if (request.url === "/capnweb.js") {
      response.writeHead(200, { "content-type": "text/javascript" });
      response.end(capnwebBundle);
    } else if (request.url === "/rpc") {
      rpc.handleRequest(request, response);
    } else {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(PAGE);
    }
  });
  http.on("upgrade", (request, socket, head) => {
    if (request.url === "/rpc") rpc.handleUpgrade(request, socket, head);
    else socket.destroy();
  });
  await new Promise<void>((resolve) => http.listen(Number(process.env.PORT ?? 0), "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/`;
  console.log(`progress page: ${url}`);

  const page = await (await fetch(url)).text();
  const bundle = await fetch(new URL("capnweb.js", url));
  console.log(`page served: ${page.includes('id="fill"')}, capnweb bundle served: ${bundle.ok}`);
  await bundle.arrayBuffer();

  const wait = Number(process.env.PAGE_MS ?? 0);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  await rpc.close();
  await new Promise<void>((resolve) => {
    http.close(() => resolve());
    http.closeAllConnections();
  });
  console.log("done.");
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
