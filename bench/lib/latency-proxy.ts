// A TCP proxy that delays every chunk by a fixed time in each direction: loopback with the
// latency of a network. Pipelining saves round trips, and a loopback round trip costs almost
// nothing, so its gain shows only once a round trip costs something.

import { type AddressInfo, type Server, type Socket, createConnection, createServer } from "node:net";

export interface LatencyProxy {
  port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (port 0) and forwards to `targetPort`, `oneWayMs` late each way. */
export async function startLatencyProxy(targetPort: number, oneWayMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    forwardLate(client, upstream, oneWayMs);
    forwardLate(upstream, client, oneWayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// Chunks keep their order: every one waits the same time, and timers of equal delay fire in the
// order they were set.
function forwardLate(from: Socket, to: Socket, delayMs: number): void {
  from.on("data", (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delayMs);
  });
  from.on("end", () => setTimeout(() => to.end(), delayMs));
}
