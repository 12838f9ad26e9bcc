// The surface every runtime shares: `import * as CapnWeb from "capnweb-otp"` in a browser or a
// Web Worker resolves here (the "browser" and "worker" export conditions); the Node entry adds
// the server, the observer page and the `ws` transport. Re-exports only. (Modules that install
// themselves into the protocol layer, the deadlines, owners and telemetry, are loaded by the
// modules re-exported here that use them.)

export { CapnWebError as Error, isCapnWebError, type ErrorType, type CapnWebErrorOptions as ErrorOptions } from "./protocol/errors.js";
export { Target } from "./protocol/target.js";
export type {
  Stub,
  Pipelined,
  Resolved,
  StreamsAndBodies,
  Passable,
  PassableArgs,
  RemoteMethod,
  RemoteMembers,
  RemoteCall,
  StubMembers,
  CapabilityMembers,
  MapElement,
  MapResult,
  Unpipelined,
} from "./protocol/types.js";
export type { Limits, LimitName, LimitBreach, LimitPeer } from "./protocol/limits.js";
export { DEFAULT_LIMITS } from "./protocol/limits.js";
export { serialize, deserialize } from "./protocol/codec.js";
export type { SessionStats } from "./protocol/session.js";
export type { CapabilityTables, CapabilityEntry, TargetDescriber } from "./protocol/tables.js";

export { connectMessagePort, stats, close, connectionOf, type ConnectOptions } from "./client/connect.js";
export { connect, type ReconnectingConnectOptions } from "./actors/connect.js";
export type { Connection, ConnectionState, ConnectionEvents } from "./client/connection.js";
export { awaitResult as await, type Result, type AwaitOptions } from "./client/await.js";
export { configure, config, type Config } from "./config.js";
export { release } from "./client/release.js";
export { localStub as stub, promisedStub as promised } from "./protocol/local.js";
export { onStubBroken as onBroken } from "./protocol/stub.js";
export { batch, rescue, map, type BatchValues } from "./client/combinators.js";


export * as transports from "./transports/browser.js";
export { RpcSession, type SessionOptions, type FrameSink } from "./protocol/session.js";

// Supervision (knows nothing of Cap'n Web) and the actors that put sessions under it.
export {
  Supervisor,
  SupervisorError,
  type AutoShutdown,
  type ResolvedChildSpec,
  type ResolvedSupervisorOptions,
  type Strategy,
  type SupervisorOptions,
  type SupervisorSpecOptions,
  type WhichChild,
} from "./supervisor/supervisor.js";
export type { ChildSpecProblem, SupervisorErrorCode, SupervisorOptionProblem } from "./supervisor/errors.js";
export type {
  ChildCrashReport,
  GiveUpReport,
  RestartReport,
  StartErrorReport,
  SupervisorReport,
  SupervisorReportBase,
} from "./supervisor/reports.js";
export { DynamicSupervisor, type DynamicSupervisorOptions } from "./supervisor/dynamic-supervisor.js";
export { Registry, RegistryError, type Name } from "./supervisor/registry.js";
export { Backoff, type BackoffOptions, type BackoffKind } from "./supervisor/backoff.js";
export type { Child, ChildSpec, ChildType, ExitReason, RestartType, Shutdown, StartContext, StartResult } from "./supervisor/child.js";
export type {
  Inspection,
  Inspector,
  SupervisorInspection,
  SupervisorStatus,
  ChildInspection,
  ChildCounts,
  ChildStatus,
  ActorInspection,
} from "./supervisor/inspection.js";
export { actorSpec, type ActorSpecOptions, type ActorScope } from "./supervisor/actor-child.js";
export { session, findSession } from "./actors/names.js";
export * as Session from "./actors/session-spec-namespace.js";
export * as Pool from "./actors/pool-namespace.js";
export { inspect, type TreeInspection, type CustomInspection, type Inspectable, type InspectionOf } from "./actors/inspect.js";
export type { SessionInspection } from "./actors/session-actor.js";
export type { PoolInspection } from "./actors/pool.js";
// A type only: a tree inspected on a server may be shown anywhere.
export type { ServerSessionInspection } from "./server/server-session.js";

// Capabilities with owners: target actors, scopes, withCapability.
export { exportTarget as export, targetActorOf, type ExportOptions, type ExportedStub, type SessionStub } from "./actors/export.js";
export {
  target,
  TargetActor,
  type StatefulTarget,
  type StatefulTargetDefinition,
  type StatefulTargetOf,
  type StatefulHandlers,
  type StatefulHandler,
  type HandlerResult,
  type UntypedInterface,
  type TargetStopReason,
  type TargetStatus,
  type TargetInspection,
  type TargetPlace,
} from "./actors/target-actor.js";
export { scope, withCapability } from "./actors/scope.js";
export { restorable, ready, type ReadyOptions } from "./actors/restore.js";
export type { RestorableOptions, RestorableInspection, RestorableState } from "./actors/restorables.js";
export { Owner } from "./actors/owner.js";
export type { ReleaseReason, ReleaseEvent, StubOwner } from "./protocol/ownership.js";
export { channel as telemetryChannel, type TelemetryEvent, type TelemetryMessages, type TelemetryMessage } from "./telemetry/channels.js";
export type { TelemetryHandler, TelemetryPair } from "./telemetry/attach.js";
export type { Channel as TelemetryChannel, ChannelListener as TelemetryChannelListener } from "./platform/diagnostics.js";
export * as telemetry from "./telemetry/attach.js";
