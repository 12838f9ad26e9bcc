// `CapnWeb.Session`: the namespace users write `Session.spec({...})` against.
export { spec, type SessionSpecOptions } from "./session-spec.js";
export type { SessionOptions } from "./session-actor.js";
export { dependent, type DependentInspection, type DependentStatus } from "./dependent.js";
export type { SessionEvent } from "./session-actor.js";
