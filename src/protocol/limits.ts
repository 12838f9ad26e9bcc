// Receiver-side limits on what a peer may send. They are local decisions (the protocol has no
// negotiation), set to capnweb 0.12's values so that no honest capnweb peer is ever refused, and
// a peer that breaks one gets its session aborted rather than our process stalled or crashed.

export interface Limits {
  /** Digits of a `["bigint", "..."]` value (BigInt parsing is superlinear). */
  maxBigIntDigits: number;
  /** Nesting depth of one message, call arguments included (guards the stack). */
  maxDepth: number;
  /** Length of one incoming frame in UTF-16 code units, checked before JSON.parse. */
  maxMessageSize: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxBigIntDigits: 16_384,
  maxDepth: 256,
  maxMessageSize: 32 * 1024 * 1024,
});

/**
 * Names that never travel: everything `Object.prototype` has (`__proto__`, `constructor`,
 * `toString`, ...) plus `toJSON`. capnweb strips them from decoded objects and refuses them in
 * property paths; so do we, whatever the object, so that no peer can reach prototype machinery.
 */
export function isBlockedName(name: string | number): boolean {
  // "__proto__" by name too: Deno deletes Object.prototype.__proto__, and the name must be
  // refused on every runtime all the same.
  return typeof name === "string" && (name in Object.prototype || name === "toJSON" || name === "__proto__");
}
