// Timeouts at three levels: per call (`await(p, { timeout })`), per session (`timeout` of
// connect() or Session.spec), and the application default (`configure({ defaultTimeout })`).
// The protocol layer has no timers; this installs the one deadline every await goes through.

import { config } from "../config.js";
import { CapnWebError } from "../protocol/errors.js";
import { installPullDeadline } from "../protocol/ownership.js";
import { ImportHook } from "../protocol/session.js";

installPullDeadline((pull, hook, onExpiry) => {
  const session = hook instanceof ImportHook ? hook.sessionOf() : undefined;
  const ms = session?.callTimeout ?? config().defaultTimeout;
  if (ms === undefined) return pull;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      onExpiry();
      reject(new CapnWebError("timeout", `No answer within ${ms} ms.`));
    }, ms);
    pull.then(
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
});
