// The observer page: a Cap'n Web client of the observer, made with this library's own browser
// entry. It opens a reconnecting session to /rpc, asks `next(cursor)` and draws each answer,
// then asks again: the server answers when there is something new, so nothing polls.

import * as CapnWeb from "../../browser.js";
import type { ObserverLogEntry, ObserverSnapshot } from "../snapshot.js";
import { browser, element, eventElement } from "./dom.js";
import { clock } from "./format.js";
import { renderCalls, renderLog, renderTree } from "./render.js";

interface ObserverApi {
  next(cursor: number): ObserverSnapshot;
  restartChild(path: string[]): void;
  stopChild(path: string[]): void;
  dropConnection(path: string[]): void;
}

const LOG_KEPT = 300;
const folds = new Map<string, boolean>();
let log: ObserverLogEntry[] = [];
let cursor = 0;
let api: CapnWeb.Stub<ObserverApi> | undefined;
/** An update that came while a button was pressed: drawn on release (a redraw would eat the click). */
let held: ObserverSnapshot | undefined;
let pressing = false;

function status(text: string, kind: "ok" | "busy" | "bad"): void {
  const badge = element("link");
  badge.textContent = text;
  badge.className = `pill ${kind}`;
}

function notice(text: string, failed: boolean): void {
  const box = element("notice");
  box.textContent = text;
  box.className = failed ? "notice bad" : "notice";
}

function draw(snapshot: ObserverSnapshot): void {
  if (pressing) {
    held = held ? { ...snapshot, log: [...held.log, ...snapshot.log] } : snapshot;
    return;
  }
  log = [...log, ...snapshot.log].slice(-LOG_KEPT);
  const name = "name" in snapshot.tree ? String(snapshot.tree.name) : snapshot.tree.kind;
  browser.document.title = `${name} · capnweb-otp observer`;
  element("root-name").textContent = name;
  element("updated").textContent = `updated ${clock(snapshot.at)}`;
  element("controls").textContent = snapshot.controls ? "controls on" : "controls off";
  element("controls").className = snapshot.controls ? "pill busy" : "pill idle";
  element("tree").innerHTML = renderTree(snapshot, folds);
  element("calls").innerHTML = renderCalls("made through stubs here", snapshot.calls);
  element("served").innerHTML = renderCalls("served: the peers' calls to our exports", snapshot.served);
  element("log").innerHTML = renderLog(log);
}

async function follow(url: string): Promise<void> {
  api = await CapnWeb.connect<ObserverApi>(url, { reconnect: { strategy: "constant", baseDelay: 1_000, jitter: 0 } });
  for (;;) {
    try {
      const snapshot = await api.next(cursor);
      cursor = snapshot.log.at(-1)?.seq ?? cursor;
      status("live", "ok");
      draw(snapshot);
    } catch (error) {
      const lost = error instanceof CapnWeb.Error && (error.type === "disconnected" || error.type === "stale");
      status(lost ? "disconnected: retrying" : `update failed: ${error instanceof Error ? error.message : String(error)}`, "bad");
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

browser.document.addEventListener("pointerdown", (event) => {
  pressing = eventElement(event)?.closest("button[data-action]") != null;
});
browser.document.addEventListener("pointerup", () => {
  // After the click event of this press has been dispatched.
  setTimeout(() => {
    pressing = false;
    const waiting = held;
    held = undefined;
    if (waiting) draw(waiting);
  }, 0);
});

// The buttons: one listener for the whole page, since the tree is redrawn on every update.
browser.document.addEventListener("click", (event) => {
  const button = eventElement(event)?.closest("button[data-action]");
  if (!button || !api) return;
  const action = button.dataset.action as "restartChild" | "stopChild" | "dropConnection";
  const path = JSON.parse(button.dataset.path ?? "[]") as string[];
  button.disabled = true;
  Promise.resolve(api[action](path)).then(
    () => notice(`${action} ${path.join("/")}: done`, false),
    (error: unknown) => notice(`${action} ${path.join("/")}: ${error instanceof Error ? error.message : String(error)}`, true),
  );
});

// What the operator folded or unfolded stays so across redraws.
browser.document.addEventListener(
  "toggle",
  (event) => {
    const part = eventElement(event)?.closest("details[data-key]");
    const key = part?.dataset.key;
    if (!part || !key) return;
    folds.set(key, part.open === true);
  },
  true,
);

const wsUrl = `${browser.location.protocol === "https:" ? "wss:" : "ws:"}//${browser.location.host}/rpc`;
status("connecting", "busy");
follow(wsUrl).catch((error: unknown) => status(`failed: ${error instanceof Error ? error.message : String(error)}`, "bad"));
