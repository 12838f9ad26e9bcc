// The transports on Node, Bun and Deno: those of every runtime, plus `ws` and the HTTP batch server half.

export * from "./browser.js";
export { WebSocketTransport, Heartbeat, openWebSocket, DEFAULT_MAX_PAYLOAD, type NodeWebSocket, type WebSocketLimits, type WebSocketTransportOptions } from "./websocket.js";
export { HttpBatchServerTransport, readRequestBody, splitBatch } from "./http-batch-server.js";
export type { BatchBodyLimits } from "./http-batch-server.js";
