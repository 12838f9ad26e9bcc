// Small formatting helpers of the observer page (run in the browser; no DOM).

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** 950 ms, 12.3 s, 4m 05s, 3h 12m, 2d 4h. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = ms / 1_000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function latency(ms: number): string {
  if (ms === 0) return "—";
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
}

/** An XState state value: "idle", or "active.loading" for a nested one, or "a.x | b.y" for parallel ones. */
export function stateValue(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "object") return String(value);
  return Object.entries(value as Record<string, unknown>)
    .map(([key, inner]) => (inner && typeof inner === "object" && Object.keys(inner).length === 0 ? key : `${key}.${stateValue(inner)}`))
    .join(" | ");
}

export function clock(at: number): string {
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** A tone for a status word: ok (green), busy (amber), bad (red), idle (grey). */
export function tone(status: string): "ok" | "busy" | "bad" | "idle" {
  if (/^(running|connected|active|live|open|ready)$/.test(status)) return "ok";
  if (/^(starting|connecting|backoff|backingOff|restarting|restoring|pending|waiting|stopping|reconnecting)$/.test(status)) return "busy";
  if (/^(stopped|done|ended|released)$/.test(status)) return "idle";
  return "bad";
}
