// inspect(root): a plain snapshot of a supervision tree, or of any single child, typed as a union
// to narrow on `kind`. A child whose kind this library does not know (one an application wrote
// against `ChildSpec`) appears as a `custom` node, so that the union never lies about a kind.

import type { ServerSessionInspection } from "../server/server-session.js";
import type { ActorInspection, ChildInspection, Inspection, SupervisorInspection } from "../supervisor/inspection.js";
import type { DependentInspection } from "./dependent.js";
import type { PoolInspection } from "./pool.js";
import type { SessionInspection } from "./session-actor.js";

/** A child the library does not know, with everything it reported under `detail`. */
export interface CustomInspection extends Inspection {
  kind: "custom";
  status: string;
  /** The `kind` the child reported. */
  reportedKind: string;
  detail: Record<string, unknown>;
}

/** Any node of an inspected tree: narrow on `kind`. */
export type TreeInspection =
  | SupervisorInspection<TreeInspection>
  | PoolInspection
  | SessionInspection
  | ServerSessionInspection
  | ActorInspection
  | DependentInspection<TreeInspection>
  | CustomInspection;

/** Anything that can be inspected: a supervisor, a dynamic supervisor, a session, the server's handlers. */
export interface Inspectable {
  inspect(): Inspection;
}

const KNOWN_KINDS = new Set(["supervisor", "pool", "session", "server-session", "actor", "dependent"]);

/** What inspecting `root` yields: a supervisor's tree for a supervisor, the node itself otherwise. */
export type InspectionOf<I extends Inspection> = I extends { kind: "supervisor" }
  ? SupervisorInspection<TreeInspection>
  : I extends TreeInspection
    ? I
    : TreeInspection;

export function inspect<I extends Inspection>(root: { inspect(): I }): InspectionOf<I> {
  return normalize(root.inspect()) as InspectionOf<I>;
}

function normalize(node: Inspection): TreeInspection {
  if (!KNOWN_KINDS.has(node.kind)) {
    const { kind, status, ...detail } = node as Inspection & Record<string, unknown>;
    return { kind: "custom", status, reportedKind: kind, detail };
  }
  if (node.kind === "supervisor" || node.kind === "pool") {
    const tree = node as SupervisorInspection;
    return { ...tree, children: tree.children.map(normalizeChild) } as TreeInspection;
  }
  if (node.kind === "dependent") {
    const wrapper = node as DependentInspection;
    return wrapper.child === undefined ? (wrapper as DependentInspection<never>) : { ...wrapper, child: normalize(wrapper.child) };
  }
  return node as TreeInspection;
}

function normalizeChild(child: ChildInspection): ChildInspection<TreeInspection> {
  return child.actor === undefined ? (child as ChildInspection<never>) : { ...child, actor: normalize(child.actor) };
}
