// The observer page's drawing: a snapshot in, HTML out (pure functions, so that what the page
// shows is decided here and the DOM code only swaps it in).

import type { TreeInspection } from "../../actors/inspect.js";
import type { SessionInspection } from "../../actors/session-actor.js";
import type { TargetInspection } from "../../actors/target-actor.js";
import type { RestorableInspection } from "../../actors/restorables.js";
import type { CapabilityEntry, CapabilityTables } from "../../protocol/tables.js";
import type { ChildInspection } from "../../supervisor/inspection.js";
import type { CallSecond, ObserverLogEntry, ObserverSnapshot } from "../snapshot.js";
import { clock, duration, escapeHtml as h, latency, stateValue, tone } from "./format.js";

/** The collapsible parts the operator opened (true) or closed (false), by key: kept across updates. */
export type FoldChoices = ReadonlyMap<string, boolean>;

interface Ctx {
  snapshot: ObserverSnapshot;
  folds: FoldChoices;
}

const pill = (status: string, label = status): string => `<span class="pill ${tone(status)}">${h(label)}</span>`;
const chip = (text: string, title?: string): string => `<span class="chip"${title ? ` title="${h(title)}"` : ""}>${text}</span>`;
const kv = (key: string, value: string | number): string => chip(`<b>${h(key)}</b> ${h(value)}`);

function button(action: string, path: string[], label: string, title: string): string {
  return `<button class="act" data-action="${action}" data-path="${h(JSON.stringify(path))}" title="${h(title)}">${h(label)}</button>`;
}

function details(ctx: Ctx, key: string, openByDefault: boolean, summary: string, body: string): string {
  return `<details data-key="${h(key)}"${ctx.folds.get(key) ?? openByDefault ? " open" : ""}><summary>${summary}</summary>${body}</details>`;
}

// ---- the tree ------------------------------------------------------------------------------

export function renderTree(snapshot: ObserverSnapshot, folds: FoldChoices): string {
  return `<div class="tree">${renderNode({ snapshot, folds }, snapshot.tree, [], undefined)}</div>`;
}

function renderNode(ctx: Ctx, node: TreeInspection, path: string[], child: ChildInspection | undefined): string {
  const id = child?.id ?? ("name" in node ? String(node.name) : node.kind);
  const running = child === undefined || child.status === "running";
  const status = running ? node.status : child.status;
  const chips: string[] = [];
  let body = "";
  let kids = "";
  let relevantError: string | undefined;
  const actions: string[] = [];

  if (child) {
    chips.push(kv("up", running ? duration(child.uptimeMs) : "—"));
    if (child.restarts > 0) chips.push(kv("restarted", `${child.restarts}×`));
    chips.push(`<span class="chip quiet" title="restart type">${h(child.restart)}</span>`);
    // A child's last error matters while it is down; once it runs again, the log has the story.
    if (!running && child.lastError) relevantError = child.lastError;
    if (ctx.snapshot.controls) {
      actions.push(button("restartChild", path, "restart", "Restart as a crash would: counted against the supervisor's intensity"));
      if (running) actions.push(button("stopChild", path, "stop", "Stop it and keep it listed, not running"));
    }
  }

  switch (node.kind) {
    case "supervisor":
    case "pool": {
      const { used, max, withinSeconds } = node.restarts;
      const near = used > 0 && used >= max ? "bad" : used > 0 ? "busy" : "ok";
      chips.unshift(chip(h(node.strategy)));
      chips.push(`<span class="chip meter ${near}" title="restarts in the current window against the limit (intensity/period)"><b>restarts</b> ${used}/${max} in ${withinSeconds}s</span>`);
      if (!child) chips.push(kv("up", duration(node.uptimeMs)));
      if (node.kind === "pool") chips.push(kv("size", node.size), kv("overflow", `${node.overflow.running}/${node.overflow.max}`));
      if (node.exitCause) relevantError = node.exitCause;
      kids = (node.children as ChildInspection<TreeInspection>[])
        .map((c) => (c.actor ? renderNode(ctx, c.actor, [...path, c.id], c) : renderStopped(ctx, c, [...path, c.id])))
        .join("");
      break;
    }
    case "session":
      body = renderSession(ctx, node, path, chips, actions);
      if (node.status !== "connected" && node.lastError) relevantError = node.lastError;
      break;
    case "server-session":
      chips.push(kv("transport", node.transport), kv("peer", node.remoteAddress ?? "?"), kv("in flight", node.callsInFlight));
      chips.push(kv("imports", node.tables.imports), kv("exports", node.tables.exports));
      if (ctx.snapshot.controls && node.status === "open") actions.push(button("dropConnection", path, "drop", "Close this connection"));
      body = renderTables(ctx, path);
      break;
    case "actor": {
      const value = stateValue(node.value);
      if (value) chips.unshift(`<span class="chip state" title="XState state value"><b>state</b> ${h(value)}</span>`);
      break;
    }
    case "dependent":
      chips.push(kv("on session", node.session), kv("reconnect restarts", node.reconnectRestarts));
      if (node.child) kids = renderNode(ctx, node.child, [...path, "(child)"], undefined);
      break;
    case "custom":
      chips.push(chip(h(node.reportedKind)));
      break;
  }

  const kind = node.kind === "custom" ? node.reportedKind : node.kind;
  return `<div class="node k-${h(node.kind)}">
    <div class="row"><span class="kind">${h(kind)}</span><span class="name">${h(id)}</span>${pill(status)}
      <span class="chips">${chips.join("")}</span><span class="actions">${actions.join("")}</span></div>
    ${relevantError ? `<div class="error">${h(relevantError)}</div>` : ""}${body}
    ${kids ? `<div class="children">${kids}</div>` : ""}</div>`;
}

function renderStopped(ctx: Ctx, child: ChildInspection, path: string[]): string {
  const actions = ctx.snapshot.controls ? button("restartChild", path, "start", "Start it again") : "";
  return `<div class="node k-${h(child.type)}">
    <div class="row"><span class="kind">${h(child.type)}</span><span class="name">${h(child.id)}</span>${pill(child.status)}
      <span class="chips">${child.restarts > 0 ? kv("restarted", `${child.restarts}×`) : ""}<span class="chip quiet" title="restart type">${h(child.restart)}</span></span>
      <span class="actions">${actions}</span></div>
    ${child.lastError ? `<div class="error">${h(child.lastError)}</div>` : ""}</div>`;
}

function renderSession(ctx: Ctx, node: SessionInspection, path: string[], chips: string[], actions: string[]): string {
  chips.push(chip(h(node.url), "URL"));
  chips.push(chip(`<b>connects</b> ${node.connects} · <b>disconnects</b> ${node.disconnects}`));
  if (node.status === "connected") chips.push(kv("connected for", duration(node.connectedForMs)));
  if (node.attempt > 0) chips.push(kv("attempt", node.attempt));
  if (node.nextAttemptAt) chips.push(kv("next attempt", clock(Date.parse(node.nextAttemptAt))));
  if (node.callsInFlight > 0) chips.push(kv("in flight", node.callsInFlight));
  if (node.queued > 0) chips.push(kv("queued", node.queued));
  if (ctx.snapshot.controls && node.status === "connected") {
    actions.push(button("dropConnection", path, "drop", "Drop the connection: the session reconnects by its policy"));
  }
  return renderTargets(node.targets) + renderRestorables(node.restorables) + renderTables(ctx, path);
}

function renderTargets(targets: readonly TargetInspection[]): string {
  if (targets.length === 0) return "";
  const rows = targets
    .map((t) => {
      const state = t.value !== undefined ? stateValue(t.value) : t.state !== undefined ? JSON.stringify(t.state) : "";
      return `<tr><td>${h(t.label)}</td><td>${h(t.kind.replace("target:", ""))}</td><td>${pill(t.status, t.stopReason ? `${t.status} (${t.stopReason})` : t.status)}</td>
        <td class="num">${t.mailbox}</td><td class="num">${t.calls}</td><td class="num">${t.holding}</td><td class="num">${t.references}</td><td class="mono">${h(clip(state, 80))}</td></tr>`;
    })
    .join("");
  return `<div class="sub"><div class="subtitle">target actors</div><table><thead><tr><th>label</th><th>kind</th><th>status</th><th class="num">mailbox</th><th class="num">calls</th><th class="num">holding</th><th class="num">refs</th><th>state</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function renderRestorables(restorables: readonly RestorableInspection[]): string {
  if (restorables.length === 0) return "";
  const rows = restorables
    .map((r) => `<tr><td>${h(r.label)}</td><td>${pill(r.state)}</td><td class="num">${r.restores}</td><td>${h(r.derivedFrom ?? "")}</td><td class="err">${h(r.lastError ?? "")}</td></tr>`)
    .join("");
  return `<div class="sub"><div class="subtitle">restorables</div><table><thead><tr><th>label</th><th>state</th><th class="num">derivations</th><th>derived from</th><th>last error</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function renderTables(ctx: Ctx, path: string[]): string {
  const tables: CapabilityTables | undefined = ctx.snapshot.tables[path.join("/")];
  if (!tables) return "";
  const summary = `capabilities <span class="count">${tables.imports.length} imports · ${tables.exports.length} exports</span>`;
  const body = `<div class="caps">${capTable("imports", tables.imports, true)}${capTable("exports", tables.exports, false)}</div>`;
  // A session holding nothing but the two main interfaces starts folded.
  const holds = tables.imports.length + tables.exports.length > 2;
  return `<div class="sub">${details(ctx, `caps:${path.join("/")}`, holds, summary, body)}</div>`;
}

function capTable(title: string, entries: readonly CapabilityEntry[], imports: boolean): string {
  const rows =
    entries
      .map(
        (e) => `<tr><td class="num mono">${e.id}</td><td>${h(e.kind)}</td><td class="num">${e.refcount}</td>${imports ? `<td class="num">${e.localRefs ?? ""}</td>` : ""}
          <td class="mono" title="${h(e.origin)}">${h(clip(e.origin, 60))}</td><td>${h(e.owner ?? "—")}</td><td class="num">${duration(e.ageMs)}</td></tr>`,
      )
      .join("") || `<tr><td colspan="${imports ? 7 : 6}" class="empty">none</td></tr>`;
  return `<table class="cap"><caption>${title}</caption><thead><tr><th class="num">id</th><th>kind</th><th class="num">refcount</th>${imports ? '<th class="num">local refs</th>' : ""}<th>created by</th><th>owner</th><th class="num">age</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// ---- calls and the log ----------------------------------------------------------------------

/** One panel of call rates; `title` says whose calls they are. */
export function renderCalls(title: string, calls: readonly CallSecond[]): string {
  const width = 300;
  const height = 70;
  const n = Math.max(1, calls.length);
  const peak = Math.max(1, ...calls.map((c) => c.calls));
  const slowest = Math.max(1, ...calls.map((c) => c.maxMs));
  const bar = width / n;
  const bars = calls
    .map((c, i) => {
      if (c.calls === 0) return "";
      const y = height - (c.calls / peak) * height;
      const errors = c.errors ? `<rect x="${(i * bar).toFixed(2)}" y="${(height - (c.errors / peak) * height).toFixed(2)}" width="${Math.max(bar, 0.8).toFixed(2)}" height="${((c.errors / peak) * height).toFixed(2)}" class="bar-err"/>` : "";
      return `<rect x="${(i * bar).toFixed(2)}" y="${y.toFixed(2)}" width="${Math.max(bar, 0.8).toFixed(2)}" height="${(height - y).toFixed(2)}" class="bar"/>${errors}`;
    })
    .join("");
  const line = (pick: (c: CallSecond) => number) =>
    calls.map((c, i) => (c.calls ? `${(i * bar + bar / 2).toFixed(2)},${(height - (pick(c) / slowest) * height).toFixed(2)}` : "")).filter(Boolean).join(" ");
  const lastMinute = calls.slice(-60);
  const total = lastMinute.reduce((sum, c) => sum + c.calls, 0);
  const errors = lastMinute.reduce((sum, c) => sum + c.errors, 0);
  const mean = total ? lastMinute.reduce((sum, c) => sum + c.meanMs * c.calls, 0) / total : 0;
  const max = Math.max(0, ...lastMinute.map((c) => c.maxMs));
  const now = calls.at(-2)?.calls ?? 0;
  const span = calls.length >= 120 ? `−${Math.round(calls.length / 60)} min` : `−${calls.length} s`;
  return `<div class="subtitle">${h(title)}</div><div class="stats">
      <div class="stat"><div class="big">${now}</div><div class="label">calls/s now</div></div>
      <div class="stat"><div class="big">${(total / 60).toFixed(1)}</div><div class="label">calls/s, last minute</div></div>
      <div class="stat"><div class="big">${latency(mean)}</div><div class="label">mean latency</div></div>
      <div class="stat"><div class="big">${latency(max)}</div><div class="label">slowest</div></div>
      <div class="stat"><div class="big ${errors ? "bad-text" : ""}">${errors}</div><div class="label">failed</div></div>
    </div>
    <div class="chart-title">calls per second <span class="legend"><i class="sw bar"></i>calls <i class="sw bar-err"></i>failed</span><span class="scale">peak ${peak}/s</span></div>
    <svg class="chart" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none">${bars}</svg>
    <div class="chart-title">latency <span class="legend"><i class="sw mean"></i>mean <i class="sw max"></i>slowest</span><span class="scale">top ${latency(slowest)}</span></div>
    <svg class="chart" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none"><polyline class="max" points="${line((c) => c.maxMs)}"/><polyline class="mean" points="${line((c) => c.meanMs)}"/></svg>
    <div class="axis"><span>${span}</span><span>now</span></div>`;
}

export function renderLog(entries: readonly ObserverLogEntry[]): string {
  if (entries.length === 0) return `<div class="empty">No crashes, restarts, reconnects or releases seen yet.</div>`;
  return [...entries]
    .reverse()
    .map(
      (e) => `<div class="entry"><div class="entry-head"><span class="mono when">${clock(e.at)}</span><span class="tag t-${h(e.kind)}">${h(e.kind.replace("_", " "))}</span><span class="mono subject">${h(e.subject)}</span></div>
        <div class="entry-text">${h(e.message)}</div></div>`,
    )
    .join("");
}
