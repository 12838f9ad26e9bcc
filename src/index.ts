// The public surface on Node, Bun and Deno: `import * as CapnWeb from "capnweb-otp"`. Everything
// the browser entry has, plus the server, the observer page and the `ws` transport (which clients
// connect with here). Re-exports only.

export * from "./browser.js";

export { serve, type ServeOptions, type Server } from "./server/serve.js";
export { CapnWebHandlers, type HandlerOptions, type CloseOptions, type ConnectionInfo, type LiveSession } from "./server/handlers.js";
export { observe, type Observer, type ObserverOptions } from "./observer/observer.js";
export type { ObserverSnapshot, ObserverLogEntry, ObserverLogKind, CallSecond } from "./observer/snapshot.js";
export * as transports from "./transports/index.js";
