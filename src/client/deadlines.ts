// Timeouts at three levels: per call (`await(p, { timeout })`), per session (`timeout` of
// connect() or Session.spec), and the application default (`configure({ defaultTimeout })`).
// The protocol layer has no timers; this installs the one deadline every await goes through.

import { config } from "../config.js";
import { CapnWebError } from "../protocol/errors.js";
import { callTimeoutOverride, installPullDeadline } from "../protocol/ownership.js";
import { ImportHook } from "../protocol/session.js";

/** `promise`, or a `timeout` error after `ms` (then `onExpiry` runs, to release what was waited for). */
export function deadline<T>(promise: PromiseLike<T>, ms: number, onExpiry: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onExpiry();
      reject(new CapnWebError("timeout", `No answer within ${ms} ms.`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

installPullDeadline((pull, hook, onExpiry) => {
  const session = hook instanceof ImportHook ? hook.sessionOf() : undefined;
  const ms = callTimeoutOverride() ?? session?.callTimeout ?? config().defaultTimeout;
  return ms === undefined ? pull : deadline(pull, ms, onExpiry);
});
