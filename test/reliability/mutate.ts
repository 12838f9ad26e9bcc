// Mutations of Cap'n Web frames for the fuzzer: on the parsed tree (flip a node's type, change an
// ID, duplicate or remove an element, swap a tag, nest deeply, grow a string huge, sprinkle
// random unicode) and on the text (truncate, cut, splice garbage). Every choice comes from a
// seeded PRNG, so a run replays from its seed.

import type { prng } from "./helpers.js";

type Rng = ReturnType<typeof prng>;

const TAGS = [
  "push", "pull", "resolve", "reject", "release", "abort", "stream", "pipe",
  "pipeline", "import", "export", "promise", "remap", "error", "bigint", "date", "bytes", "url", "headers",
  "undefined", "inf", "-inf", "nan", "writable", "readable", "blob", "request", "response", "frobnicate",
];
const IDS = [0, 1, 2, 3, -1, -2, -3, 7, 99, -99, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, 1.5, -0.5, 1e308, -1e308];
const NAMES = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "toJSON", "then", "call", "apply", "bind", "length", "square", "echo", "increment", "value", ""];
const WEIRD = ["\ud800", "\udfff", "\u0000", "\u2028", "\ufeff", "𝄞", "\u202e", "💥", "\\", '"', "\n", "ÿ", "\u00ad"];

/** Replaced after JSON.stringify by a deeply nested copy of the node (the tree would be too deep to stringify). */
const DEEP_MARK = "\u0000<deep>\u0000";

export interface Mutated {
  text: string;
  /** The mutations applied, for the report of a failure. */
  log: string[];
}

interface Slot {
  parent: unknown[] | Record<string, unknown> | undefined;
  key: number | string;
  value: unknown;
}

function slots(root: { v: unknown }, limit = 400): Slot[] {
  const out: Slot[] = [];
  const stack: Slot[] = [{ parent: root as unknown as Record<string, unknown>, key: "v", value: root.v }];
  while (stack.length > 0 && out.length < limit) {
    const slot = stack.pop()!;
    out.push(slot);
    const value = slot.value;
    if (Array.isArray(value)) value.forEach((item, i) => stack.push({ parent: value, key: i, value: item }));
    else if (value && typeof value === "object") {
      for (const key of Object.keys(value)) stack.push({ parent: value as Record<string, unknown>, key, value: (value as Record<string, unknown>)[key] });
    }
  }
  return out;
}

/** A short rendering for the mutation log, safe for objects with a key named toString. */
function show(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? "undefined").slice(0, 16);
  } catch {
    return "(deep)";
  }
}

function set(slot: Slot, value: unknown): void {
  if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
  else if (slot.parent) Object.defineProperty(slot.parent, slot.key, { value, enumerable: true, writable: true, configurable: true });
}

function randomString(r: Rng, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) {
    const roll = r.next();
    if (roll < 0.5) s += String.fromCharCode(32 + r.int(95));
    else if (roll < 0.8) s += String.fromCodePoint(r.int(0x10ffff + 1));
    else s += r.pick(WEIRD);
  }
  return s;
}

/** A random JSON value (shallow). */
export function randomJson(r: Rng, depth = 0): unknown {
  const roll = r.int(depth > 2 ? 6 : 9);
  switch (roll) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick(IDS);
    case 3:
      return randomString(r, r.int(12));
    case 4:
      return r.pick(TAGS);
    case 5:
      return r.pick(NAMES);
    case 6:
      return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
    case 7: {
      const out: Record<string, unknown> = {};
      for (let i = r.int(3); i > 0; i--) Object.defineProperty(out, r.chance(0.5) ? r.pick(NAMES) : randomString(r, 3), { value: randomJson(r, depth + 1), enumerable: true, writable: true, configurable: true });
      return out;
    }
    default:
      return [r.pick(TAGS), ...Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1))];
  }
}

function flipType(r: Rng, value: unknown): unknown {
  const options: Array<() => unknown> = [
    () => null,
    () => (typeof value === "number" ? String(value) : r.int(10)),
    () => (Array.isArray(value) ? Object.fromEntries(value.map((v, i) => [String(i), v])) : [value]),
    () => (typeof value === "string" ? value.length : value === null ? "null" : true),
    () => ({}),
    () => [],
    () => [[value]],
    () => randomJson(r),
  ];
  return r.pick(options)();
}

/**
 * Applies 1 to 3 mutations to a frame (a parsed message), or mutates its text. A `gentle`
 * mutation changes one leaf (a number, a string) and keeps the frame's shape, so that more
 * probes get past the grammar and reach the session's semantics.
 */
export function mutateFrame(r: Rng, frame: unknown, gentle = false): Mutated {
  const log: string[] = [];
  if (gentle) return mutateLeaf(r, frame, log);
  if (r.chance(0.25)) return mutateText(r, JSON.stringify(frame), log);

  const root = { v: structuredClone(frame) as unknown };
  let deep: { depth: number; asObject: boolean; node: unknown } | undefined;
  const rounds = 1 + r.int(3);
  for (let i = 0; i < rounds; i++) {
    const all = slots(root);
    const slot = r.pick(all);
    const value = slot.value;
    const numbers = all.filter((s) => typeof s.value === "number");
    const strings = all.filter((s) => typeof s.value === "string");
    const arrays = all.filter((s) => Array.isArray(s.value));
    switch (r.int(10)) {
      case 0:
        log.push(`flip type at ${String(slot.key)}`);
        set(slot, flipType(r, value));
        break;
      case 1: {
        const target = numbers.length ? r.pick(numbers) : slot;
        const id = r.chance(0.7) ? r.pick(IDS) : r.int(20) - 10;
        log.push(`id ${show(target.value)} -> ${id}`);
        set(target, id);
        break;
      }
      case 2: {
        const target = arrays.length ? r.pick(arrays) : undefined;
        const array = target?.value as unknown[] | undefined;
        if (array && array.length > 0) {
          const at = r.int(array.length);
          if (r.chance(0.5)) {
            log.push(`duplicate element ${at}`);
            array.splice(at, 0, structuredClone(array[at]));
          } else {
            log.push(`remove element ${at}`);
            array.splice(at, 1);
          }
        }
        break;
      }
      case 3: {
        const target = strings.length ? r.pick(strings) : undefined;
        if (target) {
          const tag = r.pick(TAGS);
          log.push(`tag ${show(target.value)} -> ${tag}`);
          set(target, tag);
        }
        break;
      }
      case 4: {
        if (deep) break;
        const depth = r.pick([8, 64, 255, 256, 257, 1_000, 20_000]);
        deep = { depth, asObject: r.chance(0.3), node: value };
        log.push(`deep-nest ${depth} at ${String(slot.key)}`);
        set(slot, DEEP_MARK);
        break;
      }
      case 5: {
        const target = strings.length && r.chance(0.7) ? r.pick(strings) : slot;
        const length = r.pick([1_000, 65_536, 500_000, 2_000_000]);
        log.push(`huge string ${length}`);
        set(target, (r.chance(0.5) ? "x" : "é").repeat(length));
        break;
      }
      case 6: {
        const target = strings.length ? r.pick(strings) : slot;
        const text = typeof target.value === "string" ? target.value : "";
        const at = r.int(text.length + 1);
        log.push("random unicode");
        set(target, text.slice(0, at) + randomString(r, 1 + r.int(6)) + text.slice(at));
        break;
      }
      case 7: {
        const target = strings.length ? r.pick(strings) : slot;
        const name = r.pick(NAMES);
        log.push(`name -> ${name}`);
        set(target, name);
        break;
      }
      case 8:
        log.push(`replace ${String(slot.key)} by random JSON`);
        set(slot, randomJson(r));
        break;
      default: {
        // An object key renamed to prototype machinery.
        const objects = all.filter((s) => s.value && typeof s.value === "object" && !Array.isArray(s.value));
        const target = objects.length ? r.pick(objects) : undefined;
        if (target) {
          log.push("add key");
          Object.defineProperty(target.value as object, r.pick(NAMES), { value: randomJson(r), enumerable: true, writable: true, configurable: true });
        } else {
          log.push(`flip type at ${String(slot.key)}`);
          set(slot, flipType(r, value));
        }
      }
    }
  }
  let text = JSON.stringify(root.v) ?? "null";
  if (deep) {
    const inner = JSON.stringify(deep.node) ?? "null";
    const open = deep.asObject ? '{"a":' : "[";
    const close = deep.asObject ? "}" : "]";
    text = text.replace(JSON.stringify(DEEP_MARK), open.repeat(deep.depth) + inner + close.repeat(deep.depth));
  }
  if (r.chance(0.1)) return mutateText(r, text, log);
  return { text, log };
}

function mutateLeaf(r: Rng, frame: unknown, log: string[]): Mutated {
  const root = { v: structuredClone(frame) as unknown };
  const leaves = slots(root).filter((s) => s.parent !== (root as unknown) && (typeof s.value === "number" || typeof s.value === "string"));
  if (leaves.length === 0) return { text: JSON.stringify(root.v), log };
  const slot = r.pick(leaves);
  let next: unknown;
  if (typeof slot.value === "number") {
    next = r.pick([slot.value + 1, slot.value - 1, -slot.value, 0, r.int(5), r.pick(IDS), slot.value * 1e6]);
  } else {
    const text = slot.value as string;
    next = r.pick([r.pick(NAMES), r.pick(TAGS), text + randomString(r, 1 + r.int(3)), text.toUpperCase(), "", text.slice(1)]);
  }
  log.push(`leaf ${JSON.stringify(slot.value).slice(0, 20)} -> ${JSON.stringify(next).slice(0, 20)}`);
  set(slot, next);
  return { text: JSON.stringify(root.v), log };
}

function mutateText(r: Rng, text: string, log: string[]): Mutated {
  const at = r.int(text.length + 1);
  switch (r.int(5)) {
    case 0:
      log.push(`truncate at ${at}/${text.length}`);
      return { text: text.slice(0, at), log };
    case 1: {
      const end = Math.min(text.length, at + 1 + r.int(8));
      log.push(`cut ${at}..${end}`);
      return { text: text.slice(0, at) + text.slice(end), log };
    }
    case 2:
      log.push(`insert garbage at ${at}`);
      return { text: text.slice(0, at) + randomString(r, 1 + r.int(4)) + text.slice(at), log };
    case 3:
      log.push(`duplicate tail from ${at}`);
      return { text: text + text.slice(at), log };
    default: {
      const c = r.pick(["[", "]", "{", "}", ",", ":", '"', "\\", "0", "-", "e", " "]);
      log.push(`replace char ${at} with ${c}`);
      return { text: text.slice(0, at) + c + text.slice(at + 1), log };
    }
  }
}
