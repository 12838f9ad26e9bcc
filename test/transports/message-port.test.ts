import { describe, it, expect, afterEach } from "vitest";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { newMessagePortRpcSession } from "capnweb";
import { CapnWebError } from "../../src/protocol/errors.js";
import { MessagePortTransport } from "../../src/transports/message-port.js";
import { recorder } from "./helpers.js";

const ports: MessagePort[] = [];

afterEach(() => {
  for (const port of ports.splice(0)) port.close();
});

function channel(): { port1: MessagePort; port2: MessagePort } {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  return { port1, port2 };
}

/** Resolves with the next `count` messages `port` receives (alongside any other listener). */
function nextMessages(port: MessagePort, count: number): Promise<unknown[]> {
  const seen: unknown[] = [];
  return new Promise((resolve) => {
    const listener = (event: MessageEvent): void => {
      seen.push(event.data);
      if (seen.length === count) {
        port.removeEventListener("message", listener as (event: Event) => void);
        resolve(seen);
      }
    };
    port.addEventListener("message", listener as (event: Event) => void);
    port.start();
  });
}

const portClosed = (port: MessagePort): Promise<void> =>
  new Promise((resolve) => port.addEventListener("close", () => resolve()));

describe("MessagePortTransport", () => {
  it("carries string frames both ways in order", async () => {
    const { port1, port2 } = channel();
    const a = new MessagePortTransport(port1);
    const b = new MessagePortTransport(port2);
    expect(a.kind).toBe("message-port");
    const ra = recorder();
    const rb = recorder();
    a.start(ra.handler);
    b.start(rb.handler);

    const up = Array.from({ length: 10 }, (_, i) => `["push",${i}]`);
    const down = Array.from({ length: 10 }, (_, i) => `["resolve",${i}]`);
    for (const frame of up) a.send(frame);
    for (const frame of down) b.send(frame);
    expect(await rb.waitFrames(10)).toEqual(up);
    expect(await ra.waitFrames(10)).toEqual(down);
    a.close();
  });

  it("queues frames that arrive before start", async () => {
    const { port1, port2 } = channel();
    const b = new MessagePortTransport(port2);
    const arrived = nextMessages(port2, 3);
    port1.postMessage("1");
    port1.postMessage("2");
    port1.postMessage("3");
    await arrived;

    const rb = recorder();
    b.start(rb.handler);
    expect(rb.frames).toEqual(["1", "2", "3"]);
    expect(rb.closedCalls).toEqual([]);
  });

  it("close() says goodbye with null, and the peer reports it once", async () => {
    const { port1, port2 } = channel();
    const a = new MessagePortTransport(port1);
    const b = new MessagePortTransport(port2);
    const ra = recorder();
    const rb = recorder();
    a.start(ra.handler);
    b.start(rb.handler);

    const bothClosed = Promise.all([portClosed(port1), portClosed(port2)]);
    a.close();
    a.close();
    a.send("dropped");
    expect(ra.closedCalls).toEqual([undefined]);

    const error = await rb.closed;
    expect(error).toBeInstanceOf(CapnWebError);
    expect(error!.type).toBe("disconnected");
    expect(error!.message).toBe("Peer closed MessagePort connection.");
    await bothClosed;
    expect(rb.closedCalls).toHaveLength(1);
    expect(ra.closedCalls).toHaveLength(1);
    expect(rb.frames).toEqual([]);
  });

  it("posts exactly what capnweb's transport posts on close: null", async () => {
    const { port1, port2 } = channel();
    const a = new MessagePortTransport(port1);
    a.start(recorder().handler);
    const seen = nextMessages(port2, 2);
    a.send("last");
    a.close(new Error("shutting down"));
    expect(await seen).toEqual(["last", null]);
  });

  it("treats a null from the peer (capnweb's abort) as the peer closing", async () => {
    const { port1, port2 } = channel();
    const a = new MessagePortTransport(port1);
    const ra = recorder();
    a.start(ra.handler);

    const closed = portClosed(port2);
    port2.postMessage("before");
    port2.postMessage(null);
    port2.postMessage("after");
    const error = await ra.closed;
    expect(ra.frames).toEqual(["before"]);
    expect(error!.type).toBe("disconnected");
    expect(error!.message).toBe("Peer closed MessagePort connection.");
    // Our end is closed too, so the port does not keep the process alive.
    await closed;
  });

  it("reports a port closed without goodbye", async () => {
    const { port1, port2 } = channel();
    const a = new MessagePortTransport(port1);
    const ra = recorder();
    a.start(ra.handler);
    port2.close();
    const error = await ra.closed;
    expect(error!.type).toBe("disconnected");
    expect(ra.closedCalls).toHaveLength(1);
  });

  it("closes with a protocol error on a message that is no frame (neither a string nor a structured array)", async () => {
    const { port1, port2 } = channel();
    const a = new MessagePortTransport(port1);
    const ra = recorder();
    a.start(ra.handler);

    const goodbye = nextMessages(port2, 1);
    port2.postMessage({ push: 1 });
    const error = await ra.closed;
    expect(error!.type).toBe("protocol");
    expect(await goodbye).toEqual([null]);
  });

  it("ends a capnweb MessagePort session when it closes", async () => {
    const { port1, port2 } = channel();
    const a = new MessagePortTransport(port1);
    a.start(recorder().handler);
    const remote = newMessagePortRpcSession(port2 as never) as unknown as { hello(): Promise<unknown> };

    const portsClosed = Promise.all([portClosed(port1), portClosed(port2)]);
    a.close();
    await expect(remote.hello()).rejects.toThrow("Peer closed MessagePort connection.");
    await portsClosed;
  });
});
