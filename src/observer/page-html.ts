// The observer page's markup and style; its script (page-script.ts) fills the three panes.

export function observerPage(scriptUrl: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>capnweb-otp observer</title>
<link rel="icon" href="data:,">
<style>
  :root { --bg: #f4f6fa; --card: #fff; --line: #e3e7ee; --ink: #1b2130; --muted: #667085; --ok: #0f7b3a; --ok-bg: #dcf5e4;
    --busy: #8a5a00; --busy-bg: #fff0c2; --bad: #a4161a; --bad-bg: #ffe0e0; --idle: #555e6e; --idle-bg: #eceff4; --accent: #3557d6; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.45 ui-sans-serif, system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
  header { display: flex; align-items: center; gap: .6rem; padding: .7rem 1.2rem; background: #1b2130; color: #fff; }
  header h1 { font-size: 15px; margin: 0; font-weight: 600; }
  header .root { font-weight: 600; color: #b9c6ff; }
  header .spacer { flex: 1; }
  header .when { color: #aab3c5; font-size: 12px; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) 380px; gap: 1rem; padding: 1rem 1.2rem; align-items: start; }
  @media (max-width: 1000px) { main { grid-template-columns: 1fr; } }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .8rem 1rem; }
  section + section { margin-top: 1rem; }
  h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 .6rem; font-weight: 600; }
  .pill { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: 12px; font-weight: 600; line-height: 1.6; white-space: nowrap; }
  .ok { background: var(--ok-bg); color: var(--ok); } .busy { background: var(--busy-bg); color: var(--busy); }
  .bad { background: var(--bad-bg); color: var(--bad); } .idle { background: var(--idle-bg); color: var(--idle); }
  .node { border-left: 2px solid var(--line); padding: .15rem 0 .15rem .7rem; margin: .3rem 0; }
  .tree > .node { border-left: none; padding-left: 0; }
  .children { margin-left: .5rem; }
  .row { display: flex; flex-wrap: wrap; align-items: center; gap: .35rem .45rem; }
  .kind { font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); min-width: 4.5rem; }
  .name { font-weight: 650; font-size: 14px; }
  .chips { display: contents; }
  .chip { display: inline-block; padding: 0 .45rem; border: 1px solid var(--line); border-radius: 6px; font-size: 12px; color: #394256; background: #fafbfd; white-space: nowrap; }
  .chip b { font-weight: 600; color: var(--muted); }
  .chip.state { border-color: #c9d3ff; background: #eef1ff; color: #24358f; }
  .chip.meter.ok { border-color: #bfe8cd; } .chip.meter.busy { border-color: #f1d37c; } .chip.meter.bad { border-color: #f2a7a7; }
  .actions { margin-left: auto; display: inline-flex; gap: .3rem; }
  .act { font: inherit; font-size: 12px; padding: .05rem .6rem; border-radius: 6px; border: 1px solid #c5cbe0; background: #fff; color: var(--accent); cursor: pointer; }
  .act:hover { background: #eef1ff; } .act:disabled { opacity: .5; cursor: default; }
  .error { margin: .25rem 0 .1rem 5rem; color: var(--bad); background: var(--bad-bg); border-radius: 6px; padding: .15rem .5rem; font-size: 12px; display: inline-block; }
  .sub { margin: .35rem 0 .2rem 5rem; }
  .subtitle, summary { font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); font-weight: 600; margin-bottom: .2rem; }
  summary { cursor: pointer; } summary .count { text-transform: none; letter-spacing: 0; font-weight: 500; color: #394256; margin-left: .3rem; }
  .caps { display: grid; grid-template-columns: 1fr 1fr; gap: .8rem; margin-top: .3rem; }
  @media (max-width: 1300px) { .caps { grid-template-columns: 1fr; } }
  table { border-collapse: collapse; width: 100%; font-size: 12px; }
  caption { text-align: left; font-weight: 600; color: #394256; padding-bottom: .15rem; }
  th { text-align: left; font-weight: 600; color: var(--muted); border-bottom: 1px solid var(--line); padding: .15rem .4rem; white-space: nowrap; }
  td { border-bottom: 1px solid #f0f2f6; padding: .15rem .4rem; vertical-align: top; }
  .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .chip.quiet { border-color: transparent; background: none; color: var(--muted); }
  .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 11.5px; }
  .empty { color: var(--muted); font-style: italic; }
  .err { color: var(--bad); }
  .stats { display: grid; grid-template-columns: repeat(5, 1fr); gap: .4rem; margin-bottom: .6rem; }
  .stat .big { font-size: 16px; font-weight: 650; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .stat .label { font-size: 11px; color: var(--muted); }
  .bad-text { color: var(--bad); }
  .chart-title { display: flex; gap: .6rem; font-size: 11px; color: var(--muted); margin-top: .4rem; }
  .chart-title .scale { margin-left: auto; }
  .legend { display: inline-flex; gap: .3rem; align-items: center; }
  .sw { display: inline-block; width: .7rem; height: .5rem; border-radius: 2px; }
  .sw.bar { background: #6d86ec; } .sw.bar-err { background: #e05a5a; } .sw.mean { background: #1f9d55; } .sw.max { background: #f0a33a; }
  svg.chart { width: 100%; height: 70px; background: #fafbfd; border: 1px solid var(--line); border-radius: 6px; display: block; }
  svg .bar { fill: #6d86ec; } svg .bar-err { fill: #e05a5a; }
  svg polyline { fill: none; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
  svg .mean { stroke: #1f9d55; } svg .max { stroke: #f0a33a; stroke-dasharray: 3 2; }
  .served { margin-top: .9rem; }
  .axis { display: flex; justify-content: space-between; font-size: 10.5px; color: var(--muted); }
  .entry { padding: .3rem 0; border-bottom: 1px solid #f0f2f6; }
  .entry-head { display: flex; gap: .45rem; align-items: center; }
  .entry .when { color: var(--muted); }
  .entry .subject { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .entry-text { color: #394256; margin-left: 4.1rem; overflow-wrap: anywhere; }
  .tag { display: inline-block; padding: 0 .4rem; border-radius: 4px; font-size: 11px; font-weight: 600; white-space: nowrap; background: var(--idle-bg); color: var(--idle); }
  .t-crash, .t-give_up, .t-start_error, .t-restore_failed, .t-disconnected { background: var(--bad-bg); color: var(--bad); }
  .t-restart, .t-reconnecting { background: var(--busy-bg); color: var(--busy); }
  .t-connected, .t-restored { background: var(--ok-bg); color: var(--ok); }
  #log-box { max-height: 420px; overflow: auto; }
  .notice { margin-top: .5rem; font-size: 12px; color: var(--muted); min-height: 1em; } .notice.bad { color: var(--bad); background: none; }
</style></head>
<body>
<header><h1>capnweb-otp observer</h1><span class="root" id="root-name"></span><span class="spacer"></span>
  <span class="pill idle" id="controls">controls off</span><span class="when" id="updated"></span><span class="pill busy" id="link">connecting</span></header>
<main>
  <div><section><h2>Supervision tree</h2><div id="tree"><div class="empty">waiting for the first update…</div></div><div class="notice" id="notice"></div></section></div>
  <div>
    <section><h2>Calls (this process, from telemetry)</h2><div id="calls"></div><div id="served" class="served"></div></section>
    <section><h2>Log</h2><div id="log-box"><div id="log"></div></div></section>
  </div>
</main>
<script type="module" src="${scriptUrl}"></script>
</body></html>`;
}
