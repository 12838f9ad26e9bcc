// The bench's server child (bench/server-child.ts, unchanged) with a probe on `ws`'s send, for
// bench/stream-memory.ts: counts the bytes of the Buffers handed to `ws` to send (the ArrayBuffers
// a server allocates per frame), and with `--frames=string` hands `ws` a text frame given as a
// Buffer as a string instead, as capnweb's server does (our transport has made the Buffer by then,
// and it dies at once: what changes is what `ws` and the socket hold, and the heap garbage the
// string adds). Reports the count on `{ type: "sent" }` and resets it.

import { WebSocket } from "ws";

const asStrings = process.argv.includes("--frames=string");
let bufferBytesSent = 0;
let framesSent = 0;
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (this: WebSocket, data: unknown, ...rest: unknown[]) {
  const options = rest[0] as { binary?: boolean } | undefined;
  framesSent++;
  if (Buffer.isBuffer(data)) {
    if (asStrings && typeof options === "object" && options?.binary === false) data = data.toString();
    else bufferBytesSent += data.length;
  }
  return (send as (...args: unknown[]) => void).call(this, data, ...rest);
} as typeof WebSocket.prototype.send;

process.on("message", (message: { type: string }) => {
  if (message.type !== "sent") return;
  process.send!({ type: "sent", bufferBytesSent, framesSent });
  bufferBytesSent = 0;
  framesSent = 0;
});

await import("./server-child.js");
