// The transports on Node, Bun and Deno: those of every runtime, plus `ws` and the HTTP batch server half.

export * from "./browser.js";
export { WebSocketTransport, openWebSocket, DEFAULT_MAX_PAYLOAD, type NodeWebSocket } from "./websocket.js";
export { HttpBatchServerTransport, readRequestBody, splitBatch } from "./http-batch-server.js";
