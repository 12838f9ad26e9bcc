// Streams, Blob, Response and Request between the two implementations, both ways (our client
// and capnweb 0.12's server, capnweb's client and our server, and ours at both ends), over a
// real WebSocket on 127.0.0.1 and over a MessageChannel: 100 MiB each way with its sha256, a
// WritableStream the server fills, a Blob, a Response and a Request each way; afterwards both
// sides' tables are back where they were before the stream. Over HTTP batch only what the request can carry
// goes through, as with capnweb: see streams-batch.test.ts.

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { MiB, countingSink, countingSource, drain, sha256 } from "../shared/byte-streams.js";
import { MAIN_ONLY, PAIRS, openPeers, type Carrier, type StreamPeers } from "./stream-peers.js";

const BIG = 100 * MiB;
const WRITABLE_BYTES = 8 * MiB;
const BIG_TIMEOUT = 180_000;

const CARRIERS: Carrier[] = ["websocket", "message-port"];

describe.each(CARRIERS)("over %s", (carrier) => {
  describe.each(PAIRS)("%s client, %s server", (client, server) => {
    let peers: StreamPeers;
    beforeAll(async () => {
      peers = await openPeers(client, server, carrier);
    });
    afterAll(() => peers.close());

    /** Both sides' tables hold only the main object again: each side's import of the other's, and its own export. */
    const tablesSettle = () =>
      vi.waitFor(() => expect({ client: peers.clientTables(), server: peers.serverTables() }).toEqual({ client: MAIN_ONLY, server: MAIN_ONLY }), { timeout: 5_000 });

    it(
      "carries a 100 MiB ReadableStream the server returns, byte for byte (sha256)",
      async () => {
        const stream = await peers.api.download(BIG);
        expect(stream).toBeInstanceOf(ReadableStream);
        const got = await drain(stream);
        expect(got.bytes).toBe(BIG);
        expect(got.sha256).toBe(await peers.api.downloadDigest());
        await tablesSettle();
      },
      BIG_TIMEOUT,
    );

    it(
      "carries a 100 MiB ReadableStream the client passes, byte for byte (sha256)",
      async () => {
        const source = countingSource(BIG);
        const got = await peers.api.upload(source.stream);
        expect(got.bytes).toBe(BIG);
        expect(got.sha256).toBe(source.digest());
        await tablesSettle();
      },
      BIG_TIMEOUT,
    );

    it("carries what the server writes into a WritableStream the client passes, and its close", async () => {
      const sink = countingSink();
      const written = await peers.api.fill(sink.stream, WRITABLE_BYTES);
      const got = await sink.closed;
      expect(got.bytes).toBe(WRITABLE_BYTES);
      expect(got.sha256).toBe(written);
      await tablesSettle();
    });

    it("carries a Blob each way, its type kept", async () => {
      const fromServer = await peers.api.blob("héllo, blob", "text/x-greeting");
      expect(fromServer).toBeInstanceOf(Blob);
      expect(fromServer.type).toBe("text/x-greeting");
      expect(await fromServer.text()).toBe("héllo, blob");
      const bytes = new Uint8Array(70_000).map((_, i) => i % 251);
      const toServer = await peers.api.describeBlob(new Blob([bytes], { type: "application/octet-stream" }));
      expect(toServer.type).toBe("application/octet-stream");
      expect(toServer.size).toBe(bytes.length);
      expect(toServer.sha256).toBe(sha256(bytes));
      await tablesSettle();
    });

    it("carries a Response each way: status, headers, body", async () => {
      const fromServer = await peers.api.response(201, [["x-stream-test", "down"]], "body from the server");
      expect(fromServer).toBeInstanceOf(Response);
      expect(fromServer.status).toBe(201);
      expect(fromServer.headers.get("x-stream-test")).toBe("down");
      expect(await fromServer.text()).toBe("body from the server");
      const toServer = await peers.api.describeResponse(new Response("body from the client", { status: 202, statusText: "Accepted", headers: { "x-stream-test": "up" } }));
      expect(toServer.status).toBe(202);
      expect(toServer.statusText).toBe("Accepted");
      expect(toServer.headers).toContainEqual(["x-stream-test", "up"]);
      expect(toServer.body).toBe("body from the client");
      await tablesSettle();
    });

    it("carries a Request each way: method, URL, headers, body", async () => {
      const fromServer = await peers.api.request("PUT", "https://example.com/down?x=1", [["x-stream-test", "down"]], "request body from the server");
      expect(fromServer).toBeInstanceOf(Request);
      expect(fromServer.method).toBe("PUT");
      expect(fromServer.url).toBe("https://example.com/down?x=1");
      expect(fromServer.headers.get("x-stream-test")).toBe("down");
      expect(await fromServer.text()).toBe("request body from the server");
      const toServer = await peers.api.describeRequest(new Request("https://example.com/up", { method: "POST", headers: { "x-stream-test": "up" }, body: "request body from the client" }));
      expect(toServer.method).toBe("POST");
      expect(toServer.url).toBe("https://example.com/up");
      expect(toServer.headers).toContainEqual(["x-stream-test", "up"]);
      expect(toServer.body).toBe("request body from the client");
      await tablesSettle();
    });
  });
});
