export type { Transport, TransportHandler } from "./transport.js";
export { WebSocketTransport, Heartbeat, openWebSocket, DEFAULT_MAX_PAYLOAD } from "./websocket.js";
export type { OpenWebSocketOptions, NodeWebSocket, WebSocketLimits, WebSocketTransportOptions } from "./websocket.js";
export { MessagePortTransport } from "./message-port.js";
export type { MessagePortLike, MessagePortEncoding } from "./message-port.js";
export { HttpBatchClientTransport, exchangeBatch } from "./http-batch-client.js";
export type { HttpBatchOptions, ExchangeBatchOptions } from "./http-batch-client.js";
export { HttpBatchServerTransport, readRequestBody, splitBatch } from "./http-batch-server.js";
export type { BatchBodyLimits } from "./http-batch-server.js";
