// observe(root): a live observer page for a supervision tree, like OTP's observer: a page that
// redraws the tree (supervisors, sessions, targets, restarts, tables, calls in flight) twice a
// second from `GET /tree.json`, which is CapnWeb.inspect(root).

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Inspectable } from "../actors/inspect.js";

export interface ObserverOptions {
  host?: string;
  port?: number;
  /** Milliseconds between redraws (default 500). */
  refreshMs?: number;
}

export interface Observer {
  readonly url: string;
  close(): Promise<void>;
}

export async function observe(root: Inspectable, options: ObserverOptions = {}): Promise<Observer> {
  const page = observerPage(options.refreshMs ?? 500);
  const server = createServer((request, response) => {
    if (request.url === "/tree.json") {
      let body: string;
      try {
        body = JSON.stringify(root.inspect());
      } catch (error) {
        response.writeHead(500, { "content-type": "text/plain" });
        response.end(String(error));
        return;
      }
      response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      response.end(body);
    } else if (request.url === "/" || request.url === "/index.html") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(page);
    } else {
      response.writeHead(404, { "content-type": "text/plain" });
      response.end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function observerPage(refreshMs: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>capnweb-otp observer</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f7f8fa; }
  h1 { font-size: 1.2rem; margin: 0 0 1rem; }
  ul { list-style: none; padding-left: 1.4rem; margin: 0; border-left: 1px dashed #c7ccd6; }
  li { margin: .35rem 0; }
  .node { display: inline-block; padding: .2rem .55rem; border-radius: .4rem; background: #fff; box-shadow: 0 1px 2px #0002; }
  .kind { font-weight: 600; margin-right: .4rem; }
  .status { padding: 0 .4rem; border-radius: .3rem; font-size: .85em; }
  .ok { background: #d8f5df; color: #0b6b28; } .warn { background: #fff1c7; color: #7a5a00; } .bad { background: #ffd9d9; color: #8d1111; }
  .meta { color: #5b6475; font-size: .85em; margin-left: .4rem; }
</style></head>
<body><h1>capnweb-otp observer <span class="meta" id="when"></span></h1><div id="tree">loading…</div>
<script>
const tone = (s) => /^(running|connected|active|live|open)$/.test(s) ? "ok" : /^(backingOff|connecting|restarting|restoring|pending|waiting|starting|stopping)$/.test(s) ? "warn" : "bad";
const leaf = (kind, label, status, details) => '<li><span class="node"><span class="kind">' + esc(kind) + '</span>' + esc(label) +
  ' <span class="status ' + tone(status) + '">' + esc(status) + '</span><span class="meta">' + esc(details) + '</span></span></li>';
const esc = (v) => String(v).replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);
function meta(n) {
  const parts = [];
  if (n.strategy) parts.push(n.strategy + ", restarts " + n.restarts.used + "/" + n.restarts.max + " in " + n.restarts.withinSeconds + "s");
  if (n.url) parts.push(n.url);
  if (n.tables) parts.push("imports " + n.tables.imports + ", exports " + n.tables.exports);
  if (n.callsInFlight !== undefined) parts.push(n.callsInFlight + " in flight");
  if (n.nextAttemptAt) parts.push("next attempt " + n.nextAttemptAt);
  if (n.lastError) parts.push("last error: " + n.lastError);
  return parts.map(esc).join(" · ");
}
function render(n, id) {
  const kids = (n.children || []).map((c) => render({ ...(c.actor || {}), kind: (c.actor && c.actor.kind) || c.type, status: (c.actor && c.actor.status) || c.status, childRestarts: c.restarts, lastError: c.lastError || (c.actor && c.actor.lastError) }, c.id)).join("") +
    (n.child ? render(n.child) : "") +
    (n.restorables || []).map((r) => leaf("restorable", r.label, r.state, "restored " + r.restores + "×" + (r.derivedFrom ? " · from " + r.derivedFrom : "") + (r.lastError ? " · " + r.lastError : ""))).join("") +
    (n.targets || []).map((t) => leaf(t.kind, t.label, t.status, t.calls + " calls · holding " + t.holding + " · " + t.references + " references")).join("");
  const restarts = n.childRestarts ? " · restarted " + n.childRestarts + "×" : "";
  return '<li><span class="node"><span class="kind">' + esc(id || n.name || n.kind) + '</span>' + esc(n.kind) +
    ' <span class="status ' + tone(n.status) + '">' + esc(n.status) + '</span><span class="meta">' + meta(n) + esc(restarts) + '</span></span>' +
    (kids ? "<ul>" + kids + "</ul>" : "") + "</li>";
}
async function refresh() {
  try {
    const tree = await (await fetch("/tree.json")).json();
    document.getElementById("tree").innerHTML = "<ul>" + render(tree) + "</ul>";
    document.getElementById("when").textContent = new Date().toLocaleTimeString();
  } catch (e) { document.getElementById("when").textContent = "disconnected"; }
}
refresh(); setInterval(refresh, ${refreshMs});
</script></body></html>`;
}
