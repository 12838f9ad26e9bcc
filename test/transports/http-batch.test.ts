import { describe, it, expect, afterEach, vi } from "vitest";
import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CapnWebError } from "../../src/protocol/errors.js";
import { HttpBatchClientTransport, exchangeBatch } from "../../src/transports/http-batch-client.js";
import { HttpBatchServerTransport, readRequestBody, splitBatch } from "../../src/transports/http-batch-server.js";
import { nextMacrotask, recorder } from "./helpers.js";

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Received {
  body: string;
  headers: IncomingMessage["headers"];
}

/** A node:http server closed after the test; `requests` records each POST body. */
async function startServer(
  answer: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<{ url: string; requests: Received[] }> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    readRequestBody(req, 1 << 20).then(
      (body) => {
        requests.push({ body, headers: req.headers });
        answer(req, res, body);
      },
      (error: CapnWebError) => res.writeHead(413).end(error.message),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`, requests };
}

const echo = (_req: IncomingMessage, res: ServerResponse, body: string): void => {
  res.end(splitBatch(body).map((frame) => `echo:${frame}`).join("\n"));
};

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/rpc`;
}

describe("HttpBatchClientTransport", () => {
  it("sends one POST for all the frames of a tick and delivers the answer's lines", async () => {
    const server = await startServer(echo);
    const transport = new HttpBatchClientTransport(server.url, { headers: { "x-token": "t1" } });
    expect(transport.kind).toBe("http-batch");
    const r = recorder();
    transport.start(r.handler);
    transport.send('["push",1]');
    transport.send('["pull",1]');
    await Promise.resolve();
    transport.send('["release",1,1]');

    const error = await r.closed;
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.body).toBe('["push",1]\n["pull",1]\n["release",1,1]');
    expect(server.requests[0]!.headers["x-token"]).toBe("t1");
    expect(r.frames).toEqual(['echo:["push",1]', 'echo:["pull",1]', 'echo:["release",1,1]']);
    expect(error).toBeInstanceOf(CapnWebError);
    expect(error!.type).toBe("disconnected");
    expect(error!.message).toBe("HTTP batch request ended");
    expect(transport.ended).toBe(true);
    expect(r.closedCalls).toHaveLength(1);
  });

  it("drops frames sent after the request went out", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await startServer((req, res, body) => {
      arrived();
      void released.then(() => echo(req, res, body));
    });
    const transport = new HttpBatchClientTransport(server.url);
    const r = recorder();
    transport.start(r.handler);
    transport.send("a");
    await requestArrived;
    transport.send("late");
    release();

    await r.closed;
    expect(server.requests.map((q) => q.body)).toEqual(["a"]);
    expect(r.frames).toEqual(["echo:a"]);
    expect(transport.ended).toBe(true);
  });

  it("treats an empty answer as zero frames", async () => {
    const server = await startServer((_req, res) => res.end());
    const transport = new HttpBatchClientTransport(server.url);
    const r = recorder();
    transport.start(r.handler);
    transport.send('["push",1]');
    const error = await r.closed;
    expect(r.frames).toEqual([]);
    expect(error!.message).toBe("HTTP batch request ended");
    expect(transport.ended).toBe(true);
  });

  it("queues the answer until start", async () => {
    const server = await startServer(echo);
    const transport = new HttpBatchClientTransport(server.url);
    transport.send("x");
    transport.send("y");
    while (!transport.ended) await nextMacrotask();
    const r = recorder();
    transport.start(r.handler);
    expect(r.frames).toEqual(["echo:x", "echo:y"]);
    expect(r.closedCalls).toHaveLength(1);
    expect(r.closedCalls[0]!.message).toBe("HTTP batch request ended");
  });

  it.each([
    [500, "Internal Server Error"],
    [401, "Unauthorized"],
  ])("reports a %i answer as disconnected with the status", async (status, text) => {
    const server = await startServer((_req, res) => res.writeHead(status).end("nope"));
    const transport = new HttpBatchClientTransport(server.url);
    const r = recorder();
    transport.start(r.handler);
    transport.send("a");
    const error = await r.closed;
    expect(error!.type).toBe("disconnected");
    expect(error!.message).toBe(`RPC request failed: ${status} ${text}`);
    expect(r.frames).toEqual([]);
    expect(transport.ended).toBe(false);
  });

  it("reports a network failure as disconnected with the cause", async () => {
    const url = await closedPortUrl();
    const transport = new HttpBatchClientTransport(url);
    const r = recorder();
    transport.start(r.handler);
    transport.send("a");
    const error = await r.closed;
    expect(error!.type).toBe("disconnected");
    expect(error!.message).toMatch(/ECONNREFUSED/);
    expect(error!.cause).toBeInstanceOf(Error);
    expect(transport.ended).toBe(false);
  });

  it("reports a timeout as timeout", async () => {
    const server = await startServer(() => {}); // never answers
    const transport = new HttpBatchClientTransport(server.url, { timeout: 100 });
    const r = recorder();
    transport.start(r.handler);
    transport.send("a");
    const error = await r.closed;
    expect(error!.type).toBe("timeout");
    expect(server.requests).toHaveLength(1);
  });

  it("sends nothing when closed before the batch is cut", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const transport = new HttpBatchClientTransport("http://127.0.0.1:1/never");
    const r = recorder();
    transport.start(r.handler);
    transport.send("a");
    transport.close();
    transport.close();
    expect(r.closedCalls).toEqual([undefined]);
    await nextMacrotask();
    await nextMacrotask();
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(transport.ended).toBe(false);
  });

  it("ignores the answer when closed while the request is out", async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await startServer(() => arrived()); // answers only by the cleanup
    const transport = new HttpBatchClientTransport(server.url);
    const r = recorder();
    transport.start(r.handler);
    transport.send("a");
    await requestArrived;
    const reason = new Error("gave up");
    transport.close(reason);
    expect(r.closedCalls).toHaveLength(1);
    expect(r.closedCalls[0]!.type).toBe("disconnected");
    expect(r.closedCalls[0]!.cause).toBe(reason);
    await nextMacrotask();
    expect(r.frames).toEqual([]);
    expect(r.closedCalls).toHaveLength(1);
  });
});

describe("exchangeBatch", () => {
  it("returns the frames of the answer", async () => {
    const server = await startServer(echo);
    expect(await exchangeBatch(server.url, ["1", "2"], {})).toEqual(["echo:1", "echo:2"]);
    expect(await exchangeBatch(server.url, [], {})).toEqual([]);
  });
});

describe("HTTP batch server helpers", () => {
  it("splitBatch splits on newlines, none for an empty body", () => {
    expect(splitBatch("")).toEqual([]);
    expect(splitBatch('["push",1]')).toEqual(['["push",1]']);
    expect(splitBatch("a\nb\n")).toEqual(["a", "b", ""]);
  });

  /** Posts `chunks` (chunked when `length` is not given) and returns status and body. */
  async function post(url: string, chunks: Array<string | Buffer>, length?: number): Promise<{ status: number; body: string }> {
    const req = httpRequest(url, {
      method: "POST",
      headers: length === undefined ? {} : { "content-length": String(length) },
    });
    for (const chunk of chunks) req.write(chunk);
    req.end();
    const [res] = (await once(req, "response")) as [IncomingMessage];
    res.setEncoding("utf8");
    let body = "";
    for await (const part of res) body += part;
    return { status: res.statusCode!, body };
  }

  it("readRequestBody reads a multi-chunk UTF-8 body", async () => {
    const server = await startServer((_req, res, body) => res.end(`got ${body}`));
    const bytes = Buffer.from("héllo wörld");
    // Cut inside "é" so the decoder has to join the chunks first.
    const result = await post(server.url, [bytes.subarray(0, 2), bytes.subarray(2)]);
    expect(result).toEqual({ status: 200, body: "got héllo wörld" });
  });

  it("readRequestBody rejects a body past the limit and leaves the connection usable", async () => {
    const server = await startServer(echo);
    const big = "x".repeat(64 * 1024);
    const declared = await post(server.url, [big.repeat(17)], big.length * 17);
    expect(declared).toEqual({ status: 413, body: "Request body too large: over the limit of 1048576 bytes." });
    const chunked = await post(server.url, Array.from({ length: 17 }, () => big));
    expect(chunked).toEqual({ status: 413, body: "Request body too large: over the limit of 1048576 bytes." });
    expect(server.requests).toHaveLength(0);
  });

  it("HttpBatchServerTransport delivers every frame on start and collects the answer", () => {
    const transport = new HttpBatchServerTransport(["a", "b", "c"]);
    expect(transport.kind).toBe("http-batch");
    const r = recorder();
    transport.start({
      frame(text) {
        r.handler.frame(text);
        transport.send(`re:${text}`);
      },
      closed: r.handler.closed,
    });
    expect(r.frames).toEqual(["a", "b", "c"]);
    expect(transport.responseBody()).toBe("re:a\nre:b\nre:c");
    transport.close();
    transport.close();
    transport.send("after close");
    expect(r.closedCalls).toEqual([undefined]);
    expect(transport.responseBody()).toBe("re:a\nre:b\nre:c");
  });

  it("HttpBatchServerTransport stops delivering when closed mid-batch", () => {
    const transport = new HttpBatchServerTransport(["a", "b", "c"]);
    const r = recorder();
    const reason = new Error("bad frame");
    transport.start({
      frame(text) {
        r.handler.frame(text);
        if (text === "b") transport.close(reason);
      },
      closed: r.handler.closed,
    });
    expect(r.frames).toEqual(["a", "b"]);
    expect(r.closedCalls).toHaveLength(1);
    expect(r.closedCalls[0]!.type).toBe("disconnected");
    expect(r.closedCalls[0]!.cause).toBe(reason);
    expect(new HttpBatchServerTransport([]).responseBody()).toBe("");
  });
});
