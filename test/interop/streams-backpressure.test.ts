// Backpressure: a reader that takes 1 chunk per 10 ms while the writer offers 10,000 chunks of
// 64 KiB (625 MiB). What the writer's side holds is measured as bytes, not heap: after every
// chunk the reader takes, the bytes the writer's source has produced minus the bytes the reader
// has consumed (both ends live in this process, so both counters are read exactly). That is
// everything between the two: queued on the writer, in flight, queued on the reader. It must
// stay within the bound the README states:
//
//   window  capnweb's FlowController starts at 256 KiB and grows only when bandwidth × RTT
//           (×2 in its start-up) exceeds it; a reader slow from the start never lets it, so the
//           unacknowledged bytes stay within 256 KiB, plus the one write that fills the window
//           (it is sent, and only the next one waits): 256 KiB + 1 chunk;
//   queues  the writer's WritableStream (highWaterMark 1: one chunk waits behind the window)
//           and the reader's pipe, a TransformStream (one chunk on its writable side, one on its
//           readable side): 3 chunks.
//   bound   256 KiB + 4 × 64 KiB = 512 KiB, whatever the writer offers.
//
// Both directions (the server writing into a ReadableStream it returns, the client writing into
// one it passes), with our writer against capnweb's reader and the other way round, and ours at
// both ends, over WebSocket and MessagePort (a transport that reports no frame size, as
// capnweb's structured-clone one, makes each write wait for the one before: one chunk in flight,
// well within the bound). The reader stops after 200 chunks (2 s) and cancels.

import { afterEach, describe, expect, it } from "vitest";
import { CHUNK_BYTES, countingSource, drain } from "../shared/byte-streams.js";
import { PAIRS, openPeers, type Carrier, type StreamPeers } from "./stream-peers.js";

const FLOW_WINDOW_INITIAL = 256 * 1024;
/** The writer's queue (1), the reader's pipe (1 + 1), and the write that fills the window (1). */
const QUEUED_CHUNKS = 4;
const BACKPRESSURE_BOUND = FLOW_WINDOW_INITIAL + QUEUED_CHUNKS * CHUNK_BYTES;

const OFFERED_CHUNKS = 10_000;
const READ_CHUNKS = 200;
const DELAY_MS = 10;

let open: StreamPeers | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

const CARRIERS: Carrier[] = ["websocket", "message-port"];

describe.each(CARRIERS.flatMap((carrier) => PAIRS.map(([client, server]) => [client, server, carrier] as const)))("%s client, %s server, over %s", (client, server, carrier) => {
  it(`the server writes, the client reads 1 chunk per ${DELAY_MS} ms: at most ${BACKPRESSURE_BOUND / 1024} KiB ahead of the reader`, async () => {
    const peers = (open = await openPeers(client, server, carrier));
    const stream = await peers.api.download(OFFERED_CHUNKS * CHUNK_BYTES);
    let maxAhead = 0;
    const read = await drain(stream, {
      delayMs: DELAY_MS,
      maxChunks: READ_CHUNKS,
      onChunk: (consumed) => void (maxAhead = Math.max(maxAhead, peers.service.produced() - consumed)),
    });
    expect(read.chunks).toBe(READ_CHUNKS);
    console.info(`${peers.label}, server writes: at most ${maxAhead} bytes ahead of the reader (bound ${BACKPRESSURE_BOUND})`);
    expect(maxAhead).toBeLessThanOrEqual(BACKPRESSURE_BOUND);
    // The writer really was held back, not finished: it had offered far more than it produced.
    expect(peers.service.produced()).toBeLessThan(OFFERED_CHUNKS * CHUNK_BYTES);
    await peers.service.sources[0]!.cancelled;
  }, 30_000);

  it(`the client writes, the server reads 1 chunk per ${DELAY_MS} ms: at most ${BACKPRESSURE_BOUND / 1024} KiB ahead of the reader`, async () => {
    const peers = (open = await openPeers(client, server, carrier));
    const source = countingSource(OFFERED_CHUNKS * CHUNK_BYTES);
    let maxAhead = 0;
    peers.service.onUploadChunk = (consumed) => void (maxAhead = Math.max(maxAhead, source.produced() - consumed));
    await peers.api.startUpload(source.stream, DELAY_MS, READ_CHUNKS);
    const read = await peers.service.uploadEnded!;
    expect(read.chunks).toBe(READ_CHUNKS);
    console.info(`${peers.label}, client writes: at most ${maxAhead} bytes ahead of the reader (bound ${BACKPRESSURE_BOUND})`);
    expect(maxAhead).toBeLessThanOrEqual(BACKPRESSURE_BOUND);
    expect(source.produced()).toBeLessThan(OFFERED_CHUNKS * CHUNK_BYTES);
    await source.cancelled;
  }, 30_000);
});
