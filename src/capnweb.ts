// `capnweb-otp/capnweb`: capnweb 0.12's names with capnweb's semantics, on our engine, so that a
// capnweb program runs after changing its import. Re-exports only.

export { Target as RpcTarget } from "./protocol/target.js";
export { RpcStub, RpcPromise, type RpcStubConstructor, type RpcPromiseConstructor, type CapnwebStubMembers } from "./compat/stubs.js";
export {
  RpcSession,
  type RpcTransport,
  type RpcTransportWithCustomEncoding,
  type AnyRpcTransport,
  type RpcSessionOptions,
  type RpcSessionStats,
} from "./compat/session.js";
export {
  newWebSocketRpcSession,
  newMessagePortRpcSession,
  newHttpBatchRpcSession,
  nodeHttpBatchRpcResponse,
  newHttpBatchRpcResponse,
  newWorkersRpcResponse,
  type WebSocketLike,
  type WebSocketEventLike,
} from "./compat/transports.js";
export { serialize, deserialize } from "./compat/serialize.js";
export { DEFAULT_LIMITS, DEFAULT_MAX_DEPTH, type RpcLimits } from "./compat/limits.js";
// The session options take our limits too (capnweb's three and the rest: tables, buffers, timeouts).
export type { Limits } from "./protocol/limits.js";
export type { MessagePortLike } from "./transports/message-port.js";
export type { Stub, Pipelined, StreamsAndBodies } from "./protocol/types.js";
