// A session's import and export tables described for inspection. The session keeps, per entry,
// only a timestamp and what made it (the path of the call, shared with the call, or a word);
// everything here runs when someone looks, never on the path of a call.

import { type PropertyPath, TargetHook } from "./hooks.js";

/** What made a table entry: the path of the call that made it, or a short word. */
export type EntryOrigin = PropertyPath | string;

/** One row of a session's import or export table, as inspection shows it. */
export interface CapabilityEntry {
  id: number;
  /** Imports: introductions by the peer not yet released by us. Exports: introductions to the peer not yet released by it. */
  refcount: number;
  /** Imports only: stubs on this side holding the entry. */
  localRefs?: number;
  /** "capability", "promise" (an answer or a promise not resolved yet), "resolved", "main". */
  kind: string;
  /** The call (`call users.get`) or event (`answer to call users.list`, `export of reporter`) that made it. */
  origin: string;
  /** Who releases it when they end (a scope, a target actor), where one is known. */
  owner?: string;
  ageMs: number;
}

/** Every import and export of one session. */
export interface CapabilityTables {
  imports: CapabilityEntry[];
  exports: CapabilityEntry[];
}

/** Names a local target exported on a connection (the actors layer knows its actor and owner). */
export type TargetDescriber = (target: object) => { label?: string; owner?: string } | undefined;

/** What the session's import entries keep that a row shows. */
export interface ImportRow {
  readonly id: number;
  readonly remoteRefcount: number;
  readonly localRefs: number;
  readonly resolution: unknown;
  readonly createdAt: number;
  readonly origin: EntryOrigin;
  readonly ownerLabel: string | undefined;
}

/** What the session's export entries keep that a row shows. */
export interface ExportRow {
  readonly hook: unknown;
  readonly refcount: number;
  readonly pulling: boolean;
  readonly createdAt: number;
  readonly origin: EntryOrigin;
}

export function describeTables(
  imports: Iterable<ImportRow>,
  exports: Iterable<[number, ExportRow]>,
  describeTarget: TargetDescriber | undefined,
): CapabilityTables {
  const now = Date.now();
  const importRows: CapabilityEntry[] = [];
  for (const entry of imports) {
    importRows.push({
      id: entry.id,
      refcount: entry.remoteRefcount,
      localRefs: entry.localRefs,
      kind: entry.id === 0 ? "main" : entry.resolution ? "resolved" : entry.id > 0 ? "promise" : "capability",
      // Positive IDs are our pushes: each is the answer to the call that made it.
      origin: entry.id > 0 ? `call ${describeOrigin(entry.origin)}` : describeOrigin(entry.origin),
      ...(entry.ownerLabel ? { owner: entry.ownerLabel } : {}),
      ageMs: now - entry.createdAt,
    });
  }
  const exportRows: CapabilityEntry[] = [];
  for (const [id, entry] of exports) {
    const target = id !== 0 && entry.hook instanceof TargetHook ? entry.hook.target : undefined;
    const described = target ? describeTarget?.(target) : undefined;
    const name = described?.label ?? (target ? targetName(target) : undefined);
    exportRows.push({
      id,
      refcount: entry.refcount,
      kind: id === 0 ? "main" : entry.pulling ? "promise" : "capability",
      // Positive IDs are the peer's pushes: its calls to us.
      origin: id > 0 ? `peer's call ${describeOrigin(entry.origin)}` : name ? `export of ${name}` : describeOrigin(entry.origin),
      ...(described?.owner ? { owner: described.owner } : {}),
      ageMs: now - entry.createdAt,
    });
  }
  return { imports: importRows, exports: exportRows };
}

export function describeOrigin(origin: EntryOrigin): string {
  return typeof origin === "string" ? origin : origin.length === 0 ? "(main)" : origin.join(".");
}

/** The path a push's pipeline or remap names (the array the frame already holds), or "push". */
export function pushOrigin(expression: unknown): EntryOrigin {
  if (Array.isArray(expression) && (expression[0] === "pipeline" || expression[0] === "remap") && Array.isArray(expression[2])) {
    return expression[2] as PropertyPath;
  }
  return "push";
}

function targetName(target: object): string {
  if (typeof target === "function") return target.name || "function";
  return (Object.getPrototypeOf(target) as { constructor?: { name?: string } } | null)?.constructor?.name ?? "object";
}
