// Streams in the actor model: a stream belongs to an owner like any capability. Through a
// supervised session, against our server and capnweb 0.12's (both restartable, on a real port):
//   - the connection drops: both ends of a stream in flight fail, ours with `disconnected`;
//   - the scope or the target actor that holds a stream ends: the stream is cancelled (its
//     reader fails) and released (the server's source is cancelled; the tables are back);
//   - a restorable subscription hands out a new stream after a reconnect.

import { afterEach, describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { MiB, drain } from "../shared/byte-streams.js";
import { type RestartableServer, restartableCapnwebServer, restartableOurServer } from "../shared/restartable-servers.js";
import { StreamService, capnwebStreamApi, ourStreamApi, type StreamApi, type StreamHolder } from "../interop/stream-api.js";
import { FAST_RECONNECT } from "./restore-fixtures.js";

const WAIT = { timeout: 10_000, interval: 5 };
/** More than any test reads: these streams end only by being cut or cancelled. */
const ENDLESS = 1024 * MiB;

const SERVERS = [
  ["our server", "ours", (service: StreamService) => restartableOurServer(() => ourStreamApi(service))],
  ["capnweb's server", "capnweb", (service: StreamService) => restartableCapnwebServer(() => capnwebStreamApi(service))],
] as const;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let names = 0;
const uniqueName = (): string => `streams-${process.pid}-${++names}`;

function sessionOf(app: CapnWeb.Supervisor): CapnWeb.SessionInspection {
  const node = CapnWeb.inspect(app).children[0]?.actor;
  if (node?.kind !== "session") throw new Error(`not a session: ${node?.kind}`);
  return node;
}

/** Reads until the stream fails; the error (or a string saying it ended instead). */
async function failureOf(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<unknown> {
  try {
    for (;;) if ((await reader.read()).done) return "the stream ended instead of failing";
  } catch (error) {
    return error;
  }
}

describe.each(SERVERS)("against %s", (_label, serverImpl, makeServer) => {
  async function world() {
    const service = new StreamService();
    const server: RestartableServer = await makeServer(service);
    cleanups.push(() => server.stop().catch(() => {}));
    const name = uniqueName();
    const app = await CapnWeb.Supervisor.start([CapnWeb.Session.spec<StreamApi>({ name, url: server.url, reconnect: FAST_RECONNECT, heartbeat: 0 })], { name: "streams-test" });
    cleanups.push(() => app.close());
    const root = CapnWeb.session<StreamApi>(name);
    await CapnWeb.ready(name, { timeout: 5_000 });
    const baseline = { client: CapnWeb.stats(root), server: server.stats() };
    const backToBaseline = () => vi.waitFor(() => expect({ client: CapnWeb.stats(root), server: server.stats() }).toEqual(baseline), WAIT);
    return { service, server, app, name, root, backToBaseline };
  }

  it("the connection drops under a stream: the client's read fails with `disconnected`, the server's source is cancelled (ours: `disconnected` too)", async () => {
    const { service, server, app, root } = await world();
    const stream = await root.download(ENDLESS);
    const reader = stream.getReader();
    let read = 0;
    while (read < 2 * MiB) read += (await reader.read()).value!.byteLength;
    await server.stop();
    const error = await failureOf(reader);
    expect(CapnWeb.isCapnWebError(error) && error.type).toBe("disconnected");
    const cancelled = await service.sources[0]!.cancelled;
    if (serverImpl === "ours") expect(CapnWeb.isCapnWebError(cancelled) && cancelled.type).toBe("disconnected");
    else expect(cancelled).toBeInstanceOf(Error);
    // The session itself carries on: it reconnects when the server is back.
    await server.start();
    await vi.waitFor(() => expect(sessionOf(app).status).toBe("connected"), WAIT);
  });

  it("a stream obtained in a scope is cancelled and released when the scope ends, read or not", async () => {
    const { service, root, backToBaseline } = await world();
    let kept: ReadableStreamDefaultReader<Uint8Array> | undefined;
    await CapnWeb.scope(async () => {
      await root.download(ENDLESS); // never read
      const read = await root.download(ENDLESS);
      kept = read.getReader();
      await kept.read();
    });
    const [unread, reading] = service.sources;
    expect(await unread!.cancelled).toBeDefined();
    expect(await reading!.cancelled).toBeDefined();
    const error = await failureOf(kept!);
    expect(CapnWeb.isCapnWebError(error) && error.type).toBe("released");
    await backToBaseline();
  });

  it("a stream a target actor holds is cancelled and released when the actor stops", async () => {
    const { service, root, backToBaseline } = await world();
    type HolderState = { reader?: ReadableStreamDefaultReader<Uint8Array> };
    const holder = CapnWeb.export(
      root,
      CapnWeb.target<HolderState, StreamHolder>({
        init: () => ({}),
        handlers: { take: ([stream], state) => ({ reply: null, state: { ...state, reader: stream.getReader() } }) },
      }),
      { label: "holder" },
    );
    await root.sendTo(holder, ENDLESS);
    const actor = CapnWeb.targetActorOf(holder)!;
    const reader = actor.snapshot().reader!;
    expect((await reader.read()).value!.byteLength).toBeGreaterThan(0);
    CapnWeb.release(holder);
    expect(actor.isRunning).toBe(false);
    expect(await service.sources[0]!.cancelled).toBeDefined();
    const error = await failureOf(reader);
    expect(CapnWeb.isCapnWebError(error) && error.type).toBe("released");
    await backToBaseline();
  });

  it("a restorable subscription hands out a new stream after a reconnect; the old one failed with `disconnected`", async () => {
    const { service, server, app, name, root } = await world();
    const feed = CapnWeb.restorable(root, (api) => api.feed(), { label: "feed" });
    const before = (await feed.open(ENDLESS)).getReader();
    await before.read();
    const connects = sessionOf(app).connects;
    await server.stop();
    const error = await failureOf(before);
    expect(CapnWeb.isCapnWebError(error) && error.type).toBe("disconnected");
    await server.start();
    await vi.waitFor(() => expect(sessionOf(app).connects).toBe(connects + 1), WAIT);
    await CapnWeb.ready(name, { timeout: 5_000 });
    const after = await drain(await feed.open(4 * MiB));
    expect(after.bytes).toBe(4 * MiB);
    expect(after.sha256).toBe(await root.downloadDigest());
    expect(service.feeds).toBe(2);
    CapnWeb.release(feed);
  });
});
