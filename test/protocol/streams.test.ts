// Streams on our engine: the hooks' ownership rules (ported from capnweb 0.12's PromiseStubHook,
// RpcImportHook and "WritableStream stub argument disposal" cases), what a dropped connection does
// to both ends of every stream, and the backpressure a slow reader puts on the writer.

import { describe, expect, it } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { CapnWebError } from "../../src/protocol/errors.js";
import { ErrorHook, type Hook, PayloadHook, PromiseHook, type PropertyPath } from "../../src/protocol/hooks.js";
import { Payload } from "../../src/protocol/payload.js";
import { WritableStreamHook } from "../../src/protocol/streams.js";
import { localStub } from "../../src/protocol/local.js";
import { withReleaseReason } from "../../src/protocol/ownership.js";
import { anchoredStubOf, releaseStub } from "../../src/protocol/stub.js";
import { MAX_WINDOW } from "../../src/protocol/flow-control.js";

function disposalSpy() {
  let disposed = false;
  class Disposable extends CapnWeb.Target {
    [Symbol.dispose]() {
      disposed = true;
    }
  }
  return { target: new Disposable(), wasDisposed: () => disposed };
}

describe("Hook.stream and the stream hooks keep ownership straight", () => {
  it("disposes copied stream arguments when the backing promise rejects", async () => {
    const spy = disposalSpy();
    const argument = localStub(spy.target);
    const hook = new PromiseHook(Promise.reject(new Error("nope")));
    await expect(hook.stream(["write"], Payload.fromApp([argument])).promise).rejects.toThrow("nope");
    argument[Symbol.dispose]();
    expect(spy.wasDisposed()).toBe(true);
  });

  it("disposes copied stream arguments when the destination hook is broken", async () => {
    const spy = disposalSpy();
    const argument = localStub(spy.target);
    const hook = new PromiseHook(Promise.resolve(new ErrorHook(new Error("broken"))));
    await expect(hook.stream(["write"], Payload.fromApp([argument])).promise).rejects.toThrow("broken");
    argument[Symbol.dispose]();
    expect(spy.wasDisposed()).toBe(true);
  });

  it("leaves stream args ownership with a resolved callee whose call() throws synchronously", async () => {
    const spy = disposalSpy();
    const argument = localStub(spy.target);
    // A callee that takes its arguments (releasing them) and then throws.
    class SyncThrowing extends ErrorHook {
      override call(_path: PropertyPath, args: Payload): Hook {
        args.dispose();
        throw new Error("sync failure");
      }
    }
    const hook = new PromiseHook(Promise.resolve<Hook>(new SyncThrowing(undefined)));
    await expect(hook.stream(["write"], Payload.fromApp([argument])).promise).rejects.toThrow("sync failure");
    argument[Symbol.dispose]();
    expect(spy.wasDisposed()).toBe(true);
  });

  it("default stream() disposes the result hook when pull() throws synchronously", () => {
    let resultDisposed = false;
    class ThrowingPull extends ErrorHook {
      override pull(): never {
        throw new Error("pull failed");
      }
      override dispose(): void {
        resultDisposed = true;
      }
    }
    class LocalCall extends ErrorHook {
      override call(_path: PropertyPath, args: Payload): Hook {
        args.dispose();
        return new ThrowingPull(undefined);
      }
    }
    expect(() => new LocalCall(undefined).stream(["write"], Payload.fromApp([]))).toThrow("pull failed");
    expect(resultDisposed).toBe(true);
  });

  it("stream() disposes owned args when argument serialization fails", async () => {
    const spy = disposalSpy();
    const argument = localStub(spy.target);
    const { client } = linkedSessions({});
    const main = client.remoteMainHook();
    // The stub is exported before the symbol fails the encoding: the export is rolled back.
    expect(() => main.stream(["square"], Payload.fromApp([argument, Symbol("unserializable")]))).toThrow(/Cannot serialize value/);
    expect(client.stats()).toEqual({ imports: 1, exports: 1 });
    argument[Symbol.dispose]();
    expect(spy.wasDisposed()).toBe(true);
  });

  it("disposes copied call arguments when a WritableStream call is invalid", async () => {
    const spy = disposalSpy();
    const argument = localStub(spy.target);
    const hook = new PromiseHook(Promise.resolve(WritableStreamHook.of(new WritableStream())));
    const result = hook.call(["not", "a", "method"], Payload.fromApp([argument]));
    await expect(result.pull()).rejects.toThrow("only supports direct method calls");
    argument[Symbol.dispose]();
    expect(spy.wasDisposed()).toBe(true);
    hook.dispose();
  });

  it("disposes copied call arguments when the WritableStream stub was disposed", async () => {
    const spy = disposalSpy();
    const streamHook = WritableStreamHook.of(new WritableStream());
    streamHook.dispose();
    const argument = localStub(spy.target);
    const result = new PromiseHook(Promise.resolve<Hook>(streamHook)).call(["write"], Payload.fromApp([argument]));
    await expect(result.pull()).rejects.toThrow("after it was disposed");
    argument[Symbol.dispose]();
    expect(spy.wasDisposed()).toBe(true);
  });

  it("a WritableStream sent twice shares one writer, and is aborted once its last export goes", async () => {
    let aborted: unknown;
    const stream = new WritableStream({ abort: (reason) => void (aborted = reason) });
    const first = WritableStreamHook.of(stream);
    const second = WritableStreamHook.of(stream);
    first.dispose();
    expect(aborted).toBeUndefined();
    second.dispose();
    await settle();
    expect(aborted).toBeInstanceOf(CapnWebError);
    expect((aborted as CapnWebError).message).toMatch(/disposed without calling close/);
    // The lock is given back: the stream can be written (or sent) again.
    expect(stream.locked).toBe(false);
  });

  it("the result of a write is an empty value, and a locked stream cannot be sent", async () => {
    const written: unknown[] = [];
    const hook = WritableStreamHook.of(new WritableStream({ write: (chunk) => void written.push(chunk) }));
    const answer = await hook.call(["write"], Payload.fromApp(["x"])).pull();
    expect(answer.value).toBeUndefined();
    expect(written).toEqual(["x"]);
    hook.dispose();
    const locked = new WritableStream();
    locked.getWriter();
    const { client } = linkedSessions({ take: (_stream: WritableStream) => 1 });
    const root = client.remoteMain<{ take(stream: WritableStream): number }>();
    await expect(root.take(locked)).rejects.toMatchObject({ type: "invalid_argument", message: expect.stringMatching(/locked WritableStream/) });
    const reading = new ReadableStream();
    reading.getReader();
    await expect((root as any).take(reading)).rejects.toMatchObject({ type: "invalid_argument", message: expect.stringMatching(/locked ReadableStream/) });
  });
});

// -----------------------------------------------------------------------------------------------
// Two engine sessions joined by a queue that delivers one frame per macrotask, as a socket would.

interface Linked {
  client: CapnWeb.RpcSession;
  server: CapnWeb.RpcSession;
  /** Frames each side sent, in order. */
  fromClient: string[];
  fromServer: string[];
  /** The connection drops: both sides learn it, nothing more is delivered. */
  drop(): void;
}

function linkedSessions(main: object): Linked {
  const fromClient: string[] = [];
  const fromServer: string[] = [];
  let dropped = false;
  const deliver = (to: () => CapnWeb.RpcSession, frame: string) =>
    setImmediate(() => {
      if (!dropped) to().receive(frame);
    });
  const sink = (log: string[], to: () => CapnWeb.RpcSession) => ({
    send(frame: string) {
      log.push(frame);
      deliver(to, frame);
    },
    close() {},
  });
  const client: CapnWeb.RpcSession = new CapnWeb.RpcSession(sink(fromClient, () => server), undefined);
  const server: CapnWeb.RpcSession = new CapnWeb.RpcSession(sink(fromServer, () => client), main);
  return {
    client,
    server,
    fromClient,
    fromServer,
    drop() {
      dropped = true;
      client.transportClosed();
      server.transportClosed();
    },
  };
}

async function settle(turns = 16): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe("a dropped connection ends every stream on both sides", () => {
  it("a stream being read and a stream being written both fail with 'disconnected', and both tables empty", async () => {
    let sourceCancelled: unknown;
    let sinkAborted: unknown;
    let serverWriter: WritableStreamDefaultWriter<string> | undefined;
    let serverWriterClosed: Promise<unknown> | undefined;
    class Api extends CapnWeb.Target {
      // A stream the client reads: never ends by itself.
      feed(): ReadableStream<string> {
        let n = 0;
        return new ReadableStream<string>({
          pull: (controller) => controller.enqueue(`chunk ${n++}`),
          cancel: (reason) => void (sourceCancelled = reason),
        });
      }
      // A stream the server writes into; the call stays pending (the argument lives as long).
      async sinkInto(stream: WritableStream<string>) {
        serverWriter = stream.getWriter();
        await serverWriter.write("first");
        serverWriterClosed = serverWriter.closed.then(
          () => "closed",
          (error) => error,
        );
        await new Promise(() => {});
      }
    }
    const link = linkedSessions(new Api());
    const root = link.client.remoteMain<Api>();
    const feed = await root.feed();
    const reader = feed.getReader();
    expect((await reader.read()).value).toBe("chunk 0");
    const written: string[] = [];
    const sink = new WritableStream<string>({ write: (chunk) => void written.push(chunk), abort: (reason) => void (sinkAborted = reason) });
    const pending = root.sinkInto(sink).then(
      () => undefined,
      (error: unknown) => error,
    );
    while (written.length === 0) await settle(1);
    expect(link.client.stats().imports).toBeGreaterThan(1);

    link.drop();
    await settle();

    // The client's reader, and the server's source behind it.
    const readFailure = await reader.read().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(readFailure).toBeInstanceOf(CapnWebError);
    expect((readFailure as CapnWebError).type).toBe("disconnected");
    expect(sourceCancelled).toBeInstanceOf(CapnWebError);
    expect((sourceCancelled as CapnWebError).type).toBe("disconnected");
    // The client's sink, and the server's writer in front of it.
    expect(sinkAborted).toBeInstanceOf(CapnWebError);
    expect((sinkAborted as CapnWebError).type).toBe("disconnected");
    const writerFailure = await serverWriterClosed;
    expect(writerFailure).toBeInstanceOf(CapnWebError);
    expect((writerFailure as CapnWebError).type).toBe("disconnected");
    await expect(serverWriter!.write("late")).rejects.toMatchObject({ type: "disconnected" });
    expect(await pending).toMatchObject({ type: "disconnected" });
    expect(link.client.stats()).toEqual({ imports: 0, exports: 0 });
    expect(link.server.stats()).toEqual({ imports: 0, exports: 0 });
  });

  it("a stream that completes leaves no pipe or stream entry in either table", async () => {
    class Api extends CapnWeb.Target {
      async count(stream: ReadableStream<number>) {
        let total = 0;
        for await (const n of stream) total += n;
        return total;
      }
      numbers(): ReadableStream<number> {
        return new ReadableStream({
          start(controller) {
            for (let i = 1; i <= 100; i++) controller.enqueue(i);
            controller.close();
          },
        });
      }
    }
    const link = linkedSessions(new Api());
    const root = link.client.remoteMain<Api>();
    let total = 0;
    for await (const n of await root.numbers()) total += n;
    expect(total).toBe(5050);
    expect(await root.count(await root.numbers())).toBe(5050);
    await settle();
    expect(link.client.stats()).toEqual({ imports: 1, exports: 1 });
    expect(link.server.stats()).toEqual({ imports: 1, exports: 1 });
    // One pipe each way per stream, and a stream message per chunk and close; no pull, no
    // release for any of them.
    const pipes = [...link.fromClient, ...link.fromServer].filter((frame) => frame === '["pipe"]');
    expect(pipes).toHaveLength(3);
  });
});

describe("Blobs of every kind the runtime makes", () => {
  // Node 22 gives slice()'s result an internal prototype below Blob.prototype; capnweb's check of
  // the exact prototype refuses it there, and only there.
  it("a slice of a Blob travels as a Blob, and a Blob received with a type is sent on as a plain Blob", async () => {
    class Api extends CapnWeb.Target {
      describe(blob: Blob) {
        return { prototype: Object.getPrototypeOf(blob) === Blob.prototype, type: blob.type, size: blob.size };
      }
      echo(blob: Blob) {
        return blob;
      }
    }
    const link = linkedSessions(new Api());
    const root = link.client.remoteMain<Api>();
    const slice = new Blob(["hello, world"]).slice(0, 5, "text/plain");
    // Bun's slice adds ";charset=utf-8" to a text type: the type is compared as the runtime made it.
    expect(await root.describe(slice)).toEqual({ prototype: true, type: slice.type, size: 5 });
    const echoed = await root.echo(slice);
    expect(Object.getPrototypeOf(echoed)).toBe(Blob.prototype);
    expect([echoed.type, await echoed.text()]).toEqual([slice.type, "hello"]);
  });
});

describe("who ends a stream", () => {
  it("a ReadableStream argument the method leaves unread is cancelled once the call is done (as capnweb)", async () => {
    let cancelled: unknown;
    class Api extends CapnWeb.Target {
      ignore(_stream: ReadableStream) {
        return "ignored";
      }
    }
    const link = linkedSessions(new Api());
    const root = link.client.remoteMain<Api>();
    const source = new ReadableStream({ pull: (controller) => controller.enqueue("data"), cancel: (reason) => void (cancelled = reason) });
    expect(await root.ignore(source)).toBe("ignored");
    await settle();
    expect(cancelled).toMatchObject({ message: expect.stringMatching(/disposed without being consumed/) });
    expect(link.client.stats()).toEqual({ imports: 1, exports: 1 });
    expect(link.server.stats()).toEqual({ imports: 1, exports: 1 });
  });

  it("when the owner holding a received stream ends, the pipe breaks even while it is being read", async () => {
    let cancelled: unknown;
    class Api extends CapnWeb.Target {
      feed(): ReadableStream<string> {
        return new ReadableStream<string>({ pull: (controller) => controller.enqueue("more"), cancel: (reason) => void (cancelled = reason) });
      }
    }
    const link = linkedSessions(new Api());
    const root = link.client.remoteMain<Api>();
    const stream = await root.feed();
    const reader = stream.getReader();
    expect((await reader.read()).value).toBe("more");
    // What an ending scope or actor does with the references it adopted.
    withReleaseReason("owner-ended", () => releaseStub(anchoredStubOf(stream)));
    const failure = await (async () => {
      try {
        for (;;) await reader.read();
      } catch (error) {
        return error;
      }
    })();
    expect(failure).toMatchObject({ type: "released", message: expect.stringMatching(/owner of this ReadableStream ended/) });
    await settle();
    expect(cancelled).toBeDefined();
    expect(link.client.stats()).toEqual({ imports: 1, exports: 1 });
    expect(link.server.stats()).toEqual({ imports: 1, exports: 1 });
  });
});

describe("a peer driving a pipe by hand", () => {
  function rawSession(main: object, limits?: Partial<CapnWeb.Limits>) {
    const sent: unknown[][] = [];
    const session = new CapnWeb.RpcSession({ send: (frame) => void sent.push(JSON.parse(frame)), close() {} }, main, { limits });
    return { sent, session, receive: (frame: unknown[]) => session.receive(JSON.stringify(frame)) };
  }

  class Reader extends CapnWeb.Target {
    async read(stream: ReadableStream<string>) {
      const chunks: string[] = [];
      try {
        for await (const chunk of stream) chunks.push(chunk);
        return chunks;
      } catch (error) {
        return { chunks, error: (error as Error).message };
      }
    }
  }

  it("writes are answered as the reader takes them; close ends the reader; the pipe leaves the table when released", async () => {
    const peer = rawSession(new Reader());
    peer.receive(["pipe"]);
    peer.receive(["push", ["pipeline", 0, ["read"], [["readable", 1]]]]);
    peer.receive(["pull", 2]);
    peer.receive(["stream", ["pipeline", 1, ["write"], ["a"]]]);
    peer.receive(["stream", ["pipeline", 1, ["write"], ["b"]]]);
    peer.receive(["stream", ["pipeline", 1, ["close"], []]]);
    await settle();
    expect(peer.sent).toContainEqual(["resolve", 3, ["undefined"]]);
    expect(peer.sent).toContainEqual(["resolve", 4, ["undefined"]]);
    expect(peer.sent).toContainEqual(["resolve", 5, ["undefined"]]);
    expect(peer.sent).toContainEqual(["resolve", 2, [["a", "b"]]]);
    // The stream calls went by themselves; the pipe and the call wait for the peer's release.
    expect(peer.session.stats()).toEqual({ imports: 1, exports: 3 });
    peer.receive(["release", 1, 1]);
    peer.receive(["release", 2, 1]);
    expect(peer.session.stats()).toEqual({ imports: 1, exports: 1 });
  });

  it("a pipe released before it was closed fails its reader, and the session goes on", async () => {
    const peer = rawSession(new Reader());
    peer.receive(["pipe"]);
    peer.receive(["push", ["pipeline", 0, ["read"], [["readable", 1]]]]);
    peer.receive(["pull", 2]);
    peer.receive(["stream", ["pipeline", 1, ["write"], ["a"]]]);
    await settle();
    peer.receive(["release", 1, 1]);
    await settle();
    expect(peer.sent).toContainEqual(["resolve", 2, { chunks: [["a"]], error: "WritableStream RPC stub was disposed without calling close()" }]);
    expect(peer.session.isEnded).toBe(false);
  });

  it("writes a peer piles up in a pipe nobody reads are held to maxPendingCalls: the session aborts with 'limit'", async () => {
    const peer = rawSession(new Reader(), { maxPendingCalls: 5 });
    peer.receive(["pipe"]);
    for (let i = 0; i < 6; i++) peer.receive(["stream", ["pipeline", 1, ["write"], [`chunk ${i}`]]]);
    await settle();
    expect(peer.session.isEnded).toBe(true);
    expect(peer.session.endedWith).toMatchObject({ type: "limit", limit: "maxPendingCalls" });
    expect(peer.sent.at(-1)?.[0]).toBe("abort");
    expect(peer.session.stats()).toEqual({ imports: 0, exports: 0 });
  });

  it("a write into a pipe whose reader gave up is rejected", async () => {
    class Quitter extends CapnWeb.Target {
      async firstOnly(stream: ReadableStream<string>) {
        const reader = stream.getReader();
        const { value } = await reader.read();
        await reader.cancel(new Error("enough"));
        return value;
      }
    }
    const peer = rawSession(new Quitter());
    peer.receive(["pipe"]);
    peer.receive(["push", ["pipeline", 0, ["firstOnly"], [["readable", 1]]]]);
    peer.receive(["pull", 2]);
    peer.receive(["stream", ["pipeline", 1, ["write"], ["a"]]]);
    peer.receive(["stream", ["pipeline", 1, ["write"], ["b"]]]);
    await settle();
    expect(peer.sent).toContainEqual(["resolve", 2, "a"]);
    const answer = peer.sent.find((message) => message[1] === 4);
    expect(answer?.[0]).toBe("reject");
    expect(JSON.stringify(answer)).toMatch(/enough/);
    expect(peer.session.isEnded).toBe(false);
  });
});

describe("backpressure: a slow reader holds the writer to its window", () => {
  it("10,000 chunks offered to a reader that takes one per turn: unanswered writes stay within the window", async () => {
    const chunk = "x".repeat(1024);
    let offered = 0;
    class Api extends CapnWeb.Target {
      feed(): ReadableStream<string> {
        return new ReadableStream<string>(
          {
            pull(controller) {
              if (offered === 10_000) controller.close();
              else {
                offered++;
                controller.enqueue(chunk);
              }
            },
          },
          { highWaterMark: 0 },
        );
      }
    }
    const link = linkedSessions(new Api());
    const root = link.client.remoteMain<Api>();
    const stream = await root.feed();
    // Bytes of write frames the server sent that the client has not answered yet (answers come
    // in the order of the writes: each when the reader took its chunk).
    let worst = 0;
    const reader = stream.getReader();
    let read = 0;
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
      read++;
      // One chunk per turn of the event loop: far slower than the writer could go.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (read % 100 === 0) {
        const sizes = link.fromServer.filter((frame) => frame.startsWith('["stream"')).map((frame) => frame.length);
        const answered = link.fromClient.filter((frame) => frame.startsWith('["resolve"')).length;
        const unanswered = sizes.slice(answered).reduce((a, b) => a + b, 0);
        worst = Math.max(worst, unanswered);
      }
    }
    expect(read).toBe(10_000);
    // Without flow control all 10 MB would be in flight at once. A reader taking a chunk per turn
    // still reads tens of MB/s in memory, so the window (bandwidth × round trip, from 256 KiB)
    // grows: 0.4 to 1.1 MB was seen on Node 20 to 26. What must hold is that it stays a small
    // part of what was offered. (The README's 512 KiB bound is for a reader slow from the start,
    // one chunk per 10 ms: test/interop/streams-backpressure.test.ts.)
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan((10_000 * chunk.length) / 4);
    expect(worst).toBeLessThan(MAX_WINDOW);
    expect(offered - read).toBeLessThan(1024);
  }, 60_000);
});
