// The live objects behind an inspected tree: inspection is plain data, but the capability tables
// and the controls need the session or the supervisor itself. A node is found again by its path
// of child ids from the root, so that nothing the page sends is ever taken as an object.

import type { TreeInspection } from "../actors/inspect.js";
import { DependentChild } from "../actors/dependent.js";
import { Pool } from "../actors/pool.js";
import { describeExportedTarget } from "../actors/export.js";
import { SessionActor } from "../actors/session-actor.js";
import { CapnWebError } from "../protocol/errors.js";
import type { CapabilityTables } from "../protocol/tables.js";
import { CapnWebHandlers } from "../server/handlers.js";
import { ServerSessionChild } from "../server/server-session.js";
import type { Child } from "../supervisor/child.js";
import type { ChildInspection } from "../supervisor/inspection.js";
import { Supervisor } from "../supervisor/supervisor.js";

/** The id under which a dependent's own child appears in a path. */
export const DEPENDENT_CHILD_ID = "(child)";

/** The supervisor that lists the children of a node, if the node has children. */
function supervisorOf(node: unknown): Supervisor | undefined {
  if (node instanceof Supervisor) return node;
  if (node instanceof Pool) return node.memberSupervisor;
  if (node instanceof CapnWebHandlers) return node.sessionSupervisor;
  return undefined;
}

function childOf(node: unknown, id: string): Child | undefined {
  if (node instanceof DependentChild) return id === DEPENDENT_CHILD_ID ? node.current : undefined;
  return supervisorOf(node)?.child(id);
}

/** The live object at `path` below `root`, if it still runs. */
export function liveAt(root: unknown, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const id of path) {
    node = childOf(node, id);
    if (node === undefined) return undefined;
  }
  return node;
}

function tablesOf(node: unknown): CapabilityTables | undefined {
  if (node instanceof SessionActor) return node.capabilityTables(describeExportedTarget);
  if (node instanceof ServerSessionChild) return node.capabilityTables(describeExportedTarget);
  return undefined;
}

/** Every session's capability tables in the tree, by path (ids joined with "/"). */
export function collectTables(root: unknown, tree: TreeInspection): Record<string, CapabilityTables> {
  const found: Record<string, CapabilityTables> = {};
  const visit = (live: unknown, node: TreeInspection, path: string[]): void => {
    const tables = tablesOf(live);
    if (tables) found[path.join("/")] = tables;
    if (node.kind === "supervisor" || node.kind === "pool") {
      for (const child of node.children as ChildInspection<TreeInspection>[]) {
        if (child.actor) visit(childOf(live, child.id), child.actor, [...path, child.id]);
      }
    } else if (node.kind === "dependent" && node.child) {
      visit(childOf(live, DEPENDENT_CHILD_ID), node.child, [...path, DEPENDENT_CHILD_ID]);
    }
  };
  visit(root, tree, []);
  return found;
}

function notFound(path: readonly string[]): CapnWebError {
  return new CapnWebError("not_found", `No child at ${path.join("/") || "(root)"}.`);
}

/**
 * Restarts the child at `path` the way a crash would (its supervisor restarts it by its strategy,
 * and the restart counts against the intensity); a child listed but not running is started again.
 */
export async function restartChildAt(root: unknown, path: readonly string[]): Promise<void> {
  const id = path.at(-1);
  const parent = supervisorOf(liveAt(root, path.slice(0, -1)));
  if (id === undefined || !parent || !parent.whichChildren().some((child) => child.id === id)) throw notFound(path);
  const child = parent.child(id);
  if (child) child.kill();
  else await parent.restartChild(id);
}

/** Stops the child at `path` and keeps it listed, not running (OTP's terminate_child). */
export async function stopChildAt(root: unknown, path: readonly string[]): Promise<void> {
  const id = path.at(-1);
  const parent = supervisorOf(liveAt(root, path.slice(0, -1)));
  if (id === undefined || !parent || !parent.whichChildren().some((child) => child.id === id)) throw notFound(path);
  await parent.terminateChild(id);
}

/** Drops the connection of the session at `path`: a client session reconnects by its policy. */
export function dropConnectionAt(root: unknown, path: readonly string[]): void {
  const node = liveAt(root, path);
  if (!(node instanceof SessionActor || node instanceof ServerSessionChild)) throw notFound(path);
  if (!node.dropConnection()) throw new CapnWebError("disconnected", `The session at ${path.join("/")} has no connection to drop.`);
}
