// The transports every runtime has: the platform's WebSocket, MessagePort, HTTP batch (fetch).

export type { Transport, TransportHandler } from "./transport.js";
export { StandardWebSocketTransport, openStandardWebSocket, type StandardWebSocket } from "./web-socket-standard.js";
export type { ClientWebSocket, WebSocketOpener, OpenWebSocketOptions } from "./open-websocket.js";
export { MessagePortTransport } from "./message-port.js";
export type { MessagePortLike, MessagePortEncoding } from "./message-port.js";
export { HttpBatchClientTransport, exchangeBatch } from "./http-batch-client.js";
export type { HttpBatchOptions, ExchangeBatchOptions } from "./http-batch-client.js";
