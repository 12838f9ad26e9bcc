// A stream cut mid-way by a dropped connection, both ways (and a WritableStream the server writes
// into), between the two implementations over
// WebSocket (the TCP relay between them destroyed) and MessageChannel (the channel's goodbye
// delivered to both sides at once): the reading end's read and the writing end's source both end
// with an error, ours `disconnected` (CapnWebError), capnweb's an Error of its own, and our side's
// tables keep no entry of the stream (nor of anything else). capnweb 0.12's abort disposes the
// hook of every entry but leaves the entries in its arrays, so its getStats() counts them after a
// cut whatever happened to them: on its side, what the disposal does is checked instead (its
// stream's source cancelled, its reader failed), and with a capnweb client, that its session is
// dead (a call fails at once).

import { afterEach, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { MiB, countingSink, countingSource, drain } from "../shared/byte-streams.js";
import { PAIRS, openPeers, type Carrier, type Impl, type StreamPeers } from "./stream-peers.js";

/** More than any test reads: the stream is always cut before its end. */
const ENDLESS = 1024 * MiB;
/** Read before the cut, so the stream is well under way. */
const BEFORE_CUT = 2 * MiB;
const WAIT = { timeout: 10_000 };

/** The error a side of `impl` ends a stream with when its connection dropped. */
function expectDisconnected(impl: Impl, error: unknown): void {
  if (impl === "ours") {
    expect(CapnWeb.isCapnWebError(error)).toBe(true);
    expect((error as CapnWeb.Error).type).toBe("disconnected");
  } else {
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toBe("");
  }
}

const EMPTY = { imports: 0, exports: 0 };

/** After the cut: our sides' tables are empty; a capnweb client's session refuses calls. */
async function expectNothingLeft(peers: StreamPeers): Promise<void> {
  if (peers.clientImpl === "ours") await vi.waitFor(() => expect(peers.clientTables()).toEqual(EMPTY), WAIT);
  else await expect(Promise.resolve(peers.api.produced())).rejects.toBeInstanceOf(Error);
  if (peers.serverImpl === "ours") await vi.waitFor(() => expect(peers.serverTables()).toEqual(EMPTY), WAIT);
}

const CARRIERS: Carrier[] = ["websocket", "message-port"];
let open: StreamPeers | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe.each(CARRIERS)("over %s", (carrier) => {
  describe.each(PAIRS)("%s client, %s server", (client, server) => {
    it("a ReadableStream from the server, cut mid-way: the client's read and the server's source fail, nothing left", async () => {
      const peers = (open = await openPeers(client, server, carrier));
      const stream = await peers.api.download(ENDLESS);
      const reader = stream.getReader();
      let read = 0;
      while (read < BEFORE_CUT) read += (await reader.read()).value!.byteLength;
      // The server is now waiting on its flow-control window: writes in flight, none acknowledged.
      peers.drop();
      const readError = await (async () => {
        for (;;) await reader.read();
      })().catch((e: unknown) => e);
      expectDisconnected(client, readError);
      expectDisconnected(server, await peers.service.sources[0]!.cancelled);
      expect(peers.service.sources[0]!.produced()).toBeLessThan(ENDLESS);
      await expectNothingLeft(peers);
    });

    it("a ReadableStream from the client, cut mid-way: the server's read and the client's source fail, nothing left", async () => {
      const peers = (open = await openPeers(client, server, carrier));
      const source = countingSource(ENDLESS);
      await peers.api.startUpload(source.stream);
      await vi.waitFor(() => expect(peers.service.uploadRead).toBeGreaterThanOrEqual(BEFORE_CUT), WAIT);
      peers.drop();
      expectDisconnected(server, await peers.service.uploadEnded!.then(() => "the upload ended as if complete", (e: unknown) => e));
      expectDisconnected(client, await source.cancelled);
      await expectNothingLeft(peers);
    });

    it("a WritableStream the client passes, cut mid-way while the server writes: the server's write and the client's sink fail, nothing left", async () => {
      const peers = (open = await openPeers(client, server, carrier));
      const sink = countingSink();
      // The stream lives as long as the call it was passed with: the call stays open while the server writes.
      const call = Promise.resolve(peers.api.fill(sink.stream, ENDLESS)).then(() => "the call returned as if complete", (e: unknown) => e);
      await vi.waitFor(() => expect(sink.received()).toBeGreaterThanOrEqual(BEFORE_CUT), WAIT);
      peers.drop();
      expectDisconnected(client, await call);
      expectDisconnected(server, await peers.service.fillEnded!.then(() => "the writes ended as if complete", (e: unknown) => e));
      expectDisconnected(client, await sink.closed.then(() => "the sink was closed as if complete", (e: unknown) => e));
      await expectNothingLeft(peers);
    });
  });
});

// Whatever the carrier, a drained stream cannot outlive the cut either: checked with a reader
// that was still reading (slowly) when the connection went.
describe("a slow reader at the cut", () => {
  it.each(PAIRS)("%s client, %s server: the read fails instead of hanging", async (client, server) => {
    const peers = (open = await openPeers(client, server, "websocket"));
    const stream = await peers.api.download(ENDLESS);
    const reading = drain(stream, {
      delayMs: 10,
      onChunk: (bytes) => {
        if (bytes === 10 * 64 * 1024) peers.drop();
      },
    }).then(
      () => "the stream ended as if complete",
      (e: unknown) => e,
    );
    expectDisconnected(client, await reading);
  });
});
