// The errors a capnweb program sees. Our engine reports lifecycle failures as CapnWebError (with
// the transport's or the peer's error as `cause`); capnweb hands over that error itself, and
// remote errors as the class the peer named. Its wording for a disposed stub is kept too.

import { CapnWebError } from "../protocol/errors.js";

export function capnwebErrorOf(error: unknown): unknown {
  if (!(error instanceof CapnWebError)) return error;
  switch (error.type) {
    case "stale":
      // A capability of a session that ended: capnweb reports the reason the session ended.
      return capnwebErrorOf(error.cause);
    case "disconnected":
    case "aborted":
    case "protocol":
      return error.cause !== undefined ? error.cause : new Error(error.message);
    case "released":
      return new Error("Attempted to use RPC stub after it has been disposed.");
    case "not_found":
      // A path that leads nowhere locally (a property of undefined, an instance field).
      return new TypeError(error.message);
    case "invalid_argument":
      if (error.remoteName === "TypeError") return new TypeError(error.message);
      return error;
    default:
      return error;
  }
}
