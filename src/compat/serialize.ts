// capnweb's serialize/deserialize: the same encoding as ours, with capnweb's error classes.

import { deserialize as engineDeserialize, serialize as engineSerialize } from "../protocol/codec.js";
import { CapnWebError } from "../protocol/errors.js";

/** Serializes plain data (no stubs) the way capnweb does. Throws a TypeError for what cannot be. */
export function serialize(value: unknown): string {
  try {
    return engineSerialize(value);
  } catch (error) {
    throw asCapnweb(error);
  }
}

/** Parses what `serialize` (ours or capnweb's) produced. */
export function deserialize(text: string): unknown {
  try {
    return engineDeserialize(text);
  } catch (error) {
    throw asCapnweb(error);
  }
}

// capnweb refuses what cannot be serialized, and malformed input, with a TypeError; what is too
// deep to send with a plain Error.
function asCapnweb(error: unknown): unknown {
  if (!(error instanceof CapnWebError)) return error;
  if (error.type === "invalid_argument" && error.remoteName !== "TypeError") return new Error(error.message);
  return new TypeError(error.message);
}
