// capnweb 0.12's client against our server (CapnWeb.serve), over WebSocket and HTTP batch.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import { RpcSession, RpcTarget, WebSocketTransport, newHttpBatchRpcSession } from "capnweb";
import * as CapnWeb from "../../src/index.js";
import { OurApi, ServerState, type Api, type UpstreamLike } from "./our-api.js";
import {
  LoggingTransport,
  VALUE_CASES,
  WAIT,
  frameKinds,
  startCapnwebServer,
  type CapnwebServer,
  type LoggedFrame,
} from "./helpers.js";

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

type Remote<T> = CapnWeb.Stub<T>;

/** A capnweb server behind ours: our server proxies capabilities it gets from there. */
class UpstreamCounter extends RpcTarget {
  constructor(private count: number) {
    super();
  }
  increment(amount = 1) {
    this.count += amount;
    return this.count;
  }
}
class UpstreamApi extends RpcTarget {
  makeCounter(start: number) {
    return new UpstreamCounter(start);
  }
}
let upstreamServer: CapnwebServer;
/** Our client's connection to the capnweb upstream, used by our server's methods. */
let upstream: Remote<UpstreamLike>;

/** A capnweb-side Target the client passes to our server. */
class ClientCounter extends RpcTarget {
  constructor(public count: number) {
    super();
  }
  increment(amount: number) {
    this.count += amount;
    return this.count;
  }
}

// -------------------------------------------------------------------------------------------------

let server: CapnWeb.Server;
const states: ServerState[] = [];
const lastState = () => states[states.length - 1]!;

beforeAll(async () => {
  upstreamServer = await startCapnwebServer(() => new UpstreamApi());
  upstream = await CapnWeb.connect(upstreamServer.wsUrl);
  server = await CapnWeb.serve({
    host: "127.0.0.1",
    port: 0,
    main: () => {
      const state = new ServerState();
      states.push(state);
      return new OurApi(state, () => upstream);
    },
  });
});

afterAll(async () => {
  await server.close();
  CapnWeb.close(upstream);
  await upstreamServer.close();
});

/** Something disposable the capnweb client holds. */
const dispose = (...stubs: Array<{ [Symbol.dispose](): void }>) => {
  for (const stub of stubs) stub[Symbol.dispose]();
};

describe.each([{ name: "WebSocket", ws: true }, { name: "HTTP batch", ws: false }])(
  "capnweb client → our server over $name",
  ({ ws }) => {
    /** The capnweb client session (WebSocket only). */
    let session: RpcSession<Api> | undefined;
    let frames: LoggedFrame[] = [];
    let wsApi: any;

    beforeEach(async () => {
      if (!ws) return;
      frames = [];
      const transport = new LoggingTransport(new WebSocketTransport(new WebSocket(server.wsUrl) as any), frames);
      session = new RpcSession<Api>(transport);
      wsApi = session.getRemoteMain();
      expect(await wsApi.square(1)).toBe(1);
      await expectBaseline();
    });

    afterEach(async () => {
      if (ws) {
        // Disposing the main stub shuts the capnweb session down and closes the socket.
        wsApi[Symbol.dispose]();
        await vi.waitFor(() => expect(server.handlers.stats().sessions).toBe(0), WAIT);
      }
      session = undefined;
    });

    /**
     * A stub for the main interface. Over WebSocket it is the one session of the test; over HTTP
     * each call of api() starts a new batch (everything done with it in one turn is one POST).
     */
    function api(): any {
      return ws ? wsApi : newHttpBatchRpcSession<Api>(server.url);
    }

    /** Our server's tables and capnweb's are back to the main interfaces only. */
    async function expectBaseline(): Promise<void> {
      if (ws) {
        await vi.waitFor(() => {
          expect(server.handlers.stats()).toEqual({ sessions: 1, imports: 1, exports: 1 });
          expect(session!.getStats()).toEqual({ imports: 1, exports: 1 });
        }, WAIT);
      } else {
        // A batch session is closed once it has answered: nothing is left on the server.
        await vi.waitFor(() => expect(server.handlers.stats()).toEqual({ sessions: 0, imports: 0, exports: 0 }), WAIT);
      }
    }

    it("a plain call returns our server's answer", async () => {
      const stub = api();
      expect(await Promise.all([stub.square(7), stub.add(2, 40)])).toEqual([49, 42]);
      await expectBaseline();
    });

    it("a four-call pipeline resolves in one round trip's worth of messages", async () => {
      const stub = api();
      const from = frames.length;
      const users = stub.users();
      const user = users.get(1);
      const profile = user.profile();
      const name = profile.name();
      expect(await name).toBe("user-1");
      if (ws) {
        expect(frameKinds(frames, from).slice(0, 6)).toEqual([
          ["out", "push"],
          ["out", "push"],
          ["out", "push"],
          ["out", "push"],
          ["out", "pull"],
          ["in", "resolve"],
        ]);
      }
      dispose(name, profile, user, users);
      await expectBaseline();
    });

    it.runIf(ws)("a callback from the capnweb client is invoked by our server", async () => {
      const seen: number[] = [];
      const result = await api().callFunction((i: number) => {
        seen.push(i);
        return i * 2;
      }, 21);
      expect(result).toEqual({ result: 42 });
      expect(seen).toEqual([21]);
      await expectBaseline();
    });

    it.runIf(ws)("an RpcTarget from the capnweb client is called back by our server", async () => {
      const local = new ClientCounter(4);
      expect(await api().incrementCounter(local, 9)).toBe(13);
      expect(local.count).toBe(13);
      await expectBaseline();
    });

    it.runIf(ws)("the same callback passed twice in one call is released with both references", async () => {
      const double = (x: number) => x * 2;
      expect(await api().callBoth(double, double)).toEqual([2, 4]);
      await expectBaseline();
    });

    it.runIf(ws)("a capability our server returns to the capnweb client is its own Target again", async () => {
      const stub = api();
      const local = new ClientCounter(1);
      const back = await stub.bounce({ counter: local });
      // capnweb gets its own export back and calls it locally.
      expect(await back.counter.increment(1)).toBe(2);
      expect(local.count).toBe(2);
      dispose(back.counter);
    });

    it.runIf(ws)("a capability our server received and released is given back to the capnweb client", async () => {
      const stub = api();
      await stub.drop({ fn: (x: number) => x, counter: new ClientCounter(1) });
      await expectBaseline();
    });

    it.runIf(ws)("a callback our server keeps is called later, and given back when released", async () => {
      const stub = api();
      const events: string[] = [];
      await stub.subscribe((event: string) => {
        events.push(event);
        return `ack ${event}`;
      });
      expect(await stub.notify("one")).toEqual(["ack one"]);
      expect(await stub.notify("two")).toEqual(["ack two"]);
      expect(events).toEqual(["one", "two"]);
      expect(session!.getStats().exports).toBe(2);
      await stub.unsubscribeAll();
      await expectBaseline();
    });

    it.runIf(ws)("a Target our server returns can be called afterwards, and is disposed when released", async () => {
      const counter = await api().makeCounter(2);
      expect(await counter.increment(3)).toBe(5);
      expect(await counter.value).toBe(5);
      await vi.waitFor(() => expect(server.handlers.stats().exports).toBe(2), WAIT);
      const state = lastState();
      dispose(counter);
      await expectBaseline();
      expect(state.countersDisposed).toBe(1);
    });

    it.runIf(!ws)("a Target our server returns is called pipelined in the same batch", async () => {
      const stub = api();
      const counter = stub.makeCounter(2);
      expect(await Promise.all([counter.increment(3), counter.increment(10), counter.value])).toEqual([5, 15, 15]);
      await expectBaseline();
    });

    it("a function our server returns is callable pipelined", async () => {
      const stub = api();
      const add3 = stub.makeAdder(3);
      expect(await add3(4)).toBe(7);
      dispose(add3);
      await expectBaseline();
    });

    it("a Target inside a returned object is reachable by pipelining through the object", async () => {
      const stub = api();
      const result = stub.makeLabelledCounter("hits", 5);
      expect(await Promise.all([result.label, result.counter.increment(2)])).toEqual(["hits", 7]);
      dispose(result);
      await expectBaseline();
    });

    it("our server's own Target passed back to it as an argument is called locally", async () => {
      const stub = api();
      const counter = stub.makeCounter(10);
      expect(await stub.incrementCounter(counter, 5)).toBe(15);
      dispose(counter);
      await expectBaseline();
    });

    it("map() over an array runs on our server, calling the root stub inside the mapper", async () => {
      const stub = api();
      const fib = stub.generateFibonacci(7);
      const squares = await fib.map((i: any) => stub.square(i));
      expect(squares).toEqual([0, 1, 1, 4, 9, 25, 64]);
      dispose(fib);
      await expectBaseline();
    });

    it("map() building objects that create Targets per element", async () => {
      const stub = api();
      const fib = stub.generateFibonacci(4);
      const rows = await fib.map((i: any) => {
        const counter = stub.makeCounter(i);
        return { i, after: counter.increment(10), square: stub.square(i) };
      });
      expect(rows).toEqual([
        { i: 0, after: 10, square: 0 },
        { i: 1, after: 11, square: 1 },
        { i: 1, after: 11, square: 1 },
        { i: 2, after: 12, square: 4 },
      ]);
      dispose(fib);
      await expectBaseline();
    });

    it("nested map() calls run on our server", async () => {
      // Regression: the inner remap's results used to come back as ["promise", -n] that our
      // server then rejected with "This value was already released.".
      const stub = api();
      const fib = stub.generateFibonacci(5);
      const nested = await fib.map((i: any) => stub.generateFibonacci(i).map((j: any) => stub.square(j)));
      expect(nested).toEqual([[], [0], [0], [0, 1], [0, 1, 1]]);
      dispose(fib);
      await expectBaseline();
    });

    it("map() over a single value applies the mapper once", async () => {
      const stub = api();
      const two = stub.square(2);
      expect(await two.map((x: any) => stub.add(x, 1))).toBe(5);
      dispose(two);
      await expectBaseline();
    });

    it("map() rejects when a call inside the mapper throws", async () => {
      const stub = api();
      const fib = stub.generateFibonacci(3);
      const mapped = fib.map(() => stub.notFound());
      // (Not expect(mapped).rejects: vitest would touch the capnweb Proxy and make calls on it.)
      const error = await mapped.then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toBe("no such user");
      dispose(mapped, fib);
      await expectBaseline();
    });

    it.runIf(ws)("map() can make a Target per element; the capnweb client calls and disposes them", async () => {
      const stub = api();
      const fib = stub.generateFibonacci(4);
      const counters = await fib.map((i: any) => stub.makeCounter(i));
      expect(await Promise.all(counters.map((c: any) => c.increment(10)))).toEqual([10, 11, 11, 12]);
      const state = lastState();
      dispose(...counters, fib);
      await expectBaseline();
      expect(state.countersDisposed).toBe(4);
    });

    it("map() over null returns null without running the mapper", async () => {
      const stub = api();
      const nothing = stub.echo(null);
      expect(await nothing.map(() => stub.square(2))).toBe(null);
      dispose(nothing);
      await expectBaseline();
    });

    describe("every value type survives echo(x) both ways", () => {
      it.each(VALUE_CASES.map((c) => [c.name, c] as const))("%s", async (_name, valueCase) => {
        const got = await api().echo(valueCase.make());
        valueCase.check(got);
        // What our server decoded, before encoding it back, is a faithful copy too.
        const received = lastState().received;
        valueCase.check(received[received.length - 1]);
        await expectBaseline();
      });

      it("many values in one call keep their positions", async () => {
        const values = VALUE_CASES.map((c) => c.make());
        const got = (await api().echo(values)) as unknown[];
        expect(got).toHaveLength(values.length);
        VALUE_CASES.forEach((c, i) => c.check(got[i]));
      });
    });

    describe("errors thrown by our server", () => {
      async function rejection(promise: PromiseLike<unknown>): Promise<Error & Record<string, unknown>> {
        try {
          await promise;
        } catch (error) {
          return error as Error & Record<string, unknown>;
        }
        throw new Error("expected a rejection");
      }

      it("a CapnWeb.Error(not_found) arrives with its message, type and props", async () => {
        const error = await rejection(api().notFound());
        expect(error).toBeInstanceOf(Error);
        // capnweb rebuilds unknown error names as plain Error.
        expect(error.name).toBe("Error");
        expect(error.message).toBe("no such user");
        expect(error.id).toBe(7);
        expect(error.type).toBe("not_found");
        await expectBaseline();
      });

      it("a plain TypeError arrives as a TypeError with its message", async () => {
        const error = await rejection(api().throwType());
        expect(error).toBeInstanceOf(TypeError);
        expect(error.name).toBe("TypeError");
        expect(error.message).toBe("expected a number");
      });

      it("a RangeError keeps its class and own props", async () => {
        const error = await rejection(api().throwRange());
        expect(error).toBeInstanceOf(RangeError);
        expect(error.message).toBe("index 12 is out of range");
        expect(error.code).toBe("out_of_range");
        expect(error.index).toBe(12);
      });

      it("the stack is not sent by default", async () => {
        const error = await rejection(api().throwType());
        // capnweb keeps the sent stack when there is one; ours sends none, so the stack is the
        // one capnweb made locally and never mentions our server's source.
        expect(String(error.stack)).not.toContain("capnweb-client-our-server.test.ts:1");
        expect(String(error.stack)).not.toMatch(/OurApi\.throwType/);
      });

      it("an asynchronous rejection arrives the same way", async () => {
        const error = await rejection(api().rejectLater());
        expect(error.message).toBe("try again");
        expect(error.type).toBe("conflict");
        expect(error.retryAfter).toBe(1.5);
      });

      it("a call pipelined on a rejected call rejects with the same error", async () => {
        const stub = api();
        const failed = stub.notFound();
        const error = await rejection(failed.anything());
        expect(error.message).toBe("no such user");
        dispose(failed);
        await expectBaseline();
      });

      it("calling a method our server does not have rejects", async () => {
        const error = await rejection(api().nonexistent());
        expect(error.message).toMatch(/nonexistent/);
      });

      it("reading an instance field of a Target is refused", async () => {
        const error = await rejection(api().state);
        expect(error.message).toMatch(/state/);
      });
    });

    it("20 calls fired without awaiting on one Counter stub arrive in order (E-order)", async () => {
      const stub = api();
      const counter = stub.makeCounter(0);
      const calls = Array.from({ length: 20 }, (_, i) => counter.record(i));
      const log = counter.log();
      const ids = Array.from({ length: 20 }, (_, i) => i);
      const [results, order] = await Promise.all([Promise.all(calls), log]);
      expect(results).toEqual(ids);
      expect(order).toEqual(ids);
      dispose(counter, ...calls, log);
      await expectBaseline();
    });

    it.runIf(ws)("E-order holds on a resolved Counter stub too", async () => {
      const counter = await api().makeCounter(0);
      const calls = Array.from({ length: 20 }, (_, i) => counter.record(i));
      const log = counter.log();
      await Promise.all(calls);
      expect(await log).toEqual(Array.from({ length: 20 }, (_, i) => i));
      dispose(counter);
      await expectBaseline();
    });

    it.runIf(ws)("after the capnweb client disposes what it used, both tables are back to baseline", async () => {
      const stub = api();
      const counter = await stub.makeCounter(1);
      const pending = stub.makeCounter(2); // never awaited
      const users = stub.users();
      const user = users.get(3);
      const profile = user.profile();
      await counter.increment(1);
      await pending.increment(1);
      expect(await profile.name()).toBe("user-3");
      await stub.callFunction((i: number) => i + 1, 1);
      await stub.incrementCounter(new ClientCounter(0), 1);
      expect(server.handlers.stats().exports).toBeGreaterThan(1);
      expect(session!.getStats().imports).toBeGreaterThan(1);
      dispose(counter, pending, users, user, profile);
      await expectBaseline();
    });

    describe("capabilities our server proxies from a capnweb upstream", () => {
      // Each variant pulls the result (awaits the capability itself) and pipelines a call on it.
      async function check(result: any, counterOf: (value: any) => any): Promise<void> {
        const [value, viaPipeline] = await Promise.all([result, counterOf(result).increment(1)]);
        expect(viaPipeline).toBe(6);
        expect(typeof counterOf(value)).toBe("function");
        if (ws) expect(await counterOf(value).increment(1)).toBe(7);
        dispose(counterOf(value), result);
      }

      it("returned as a promise stub, they reach the capnweb client", async () => {
        await check(api().upstreamCounterPromise(5), (c) => c);
      });

      it("returned inside an object after being awaited, they reach the capnweb client", async () => {
        await check(api().upstreamCounterInObject(5), (r) => r.counter);
      });

      it("returned as the whole result after being awaited, they reach the capnweb client", async () => {
        // A method resolving to a resolved (non-promise) stub: pulling its result must give the
        // capability, as capnweb does for a method returning a stub.
        await check(api().upstreamCounterResolved(5), (c) => c);
      });
    });

    it("a pipelined promise inside an argument is resolved before our server sees it", async () => {
      const stub = api();
      const square = stub.square(3);
      const sum = stub.add(1, 2);
      const got = await stub.echo({ square, list: [sum] });
      expect(got).toEqual({ square: 9, list: [3] });
      expect(lastState().received.at(-1)).toEqual({ square: 9, list: [3] });
      dispose(square, sum);
      await expectBaseline();
    });

    it.runIf(ws)("a promise from another capnweb session is resolved before our server sees it", async () => {
      const state = lastState();
      const other = new RpcSession<Api>(new WebSocketTransport(new WebSocket(server.wsUrl) as any));
      const otherApi: any = other.getRemoteMain();
      try {
        // Not our server's own promise on this session: capnweb sends it as ["promise", id].
        const square = otherApi.square(4);
        expect(await api().echo({ n: square })).toEqual({ n: 16 });
        expect(state.received.at(-1)).toEqual({ n: 16 });
        dispose(square);
      } finally {
        otherApi[Symbol.dispose]();
      }
      await expectBaseline();
    });

    it.runIf(ws)("the same Target our server returns three times is released fully", async () => {
      const stub = api();
      const a = await stub.sharedCounter();
      const b = await stub.sharedCounter();
      const c = await stub.sharedCounter();
      expect(await a.increment(1)).toBe(1);
      expect(await b.increment(1)).toBe(2);
      dispose(a, b);
      expect(await c.increment(1)).toBe(3);
      const state = lastState();
      dispose(c);
      await expectBaseline();
      expect(state.countersDisposed).toBe(1);
    });

    describe.runIf(ws)("streams and blobs sent to our server come back", () => {
      it("a Blob argument comes back as an equal Blob, and the session goes on", async () => {
        const stub = api();
        const sent = new Blob(["hello"], { type: "text/plain" });
        const blob: Blob = await stub.echo(sent);
        expect(blob).toBeInstanceOf(Blob);
        // Bun's Blob adds ";charset=utf-8" to a text type: the type comes back as the runtime made it.
        expect(blob.type).toBe(sent.type);
        expect(await blob.text()).toBe("hello");
        expect(await stub.square(4)).toBe(16);
        await expectBaseline();
      });

      it("a ReadableStream argument comes back as a stream of the same chunks", async () => {
        const stub = api();
        const stream: ReadableStream = await stub.echo(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new Uint8Array([1, 2, 3]));
              controller.enqueue(new Uint8Array([4]));
              controller.close();
            },
          }),
        );
        expect(new Uint8Array(await new Response(stream).arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4]));
        expect(await stub.square(4)).toBe(16);
        await expectBaseline();
      });

      it("a WritableStream argument comes back as a stream that writes to the original", async () => {
        const stub = api();
        const written: unknown[] = [];
        const back: WritableStream = await stub.echo(new WritableStream({ write: (chunk) => void written.push(chunk) }));
        const writer = back.getWriter();
        await writer.write("one");
        await writer.write({ two: 2 });
        await writer.close();
        expect(written).toEqual(["one", { two: 2 }]);
        expect(await stub.square(4)).toBe(16);
        await expectBaseline();
      });
    });

    it.runIf(ws)("two capnweb clients each get their own session and main object", async () => {
      const other = new RpcSession<Api>(new WebSocketTransport(new WebSocket(server.wsUrl) as any));
      const otherApi: any = other.getRemoteMain();
      try {
        const counterA = await api().makeCounter(0);
        expect(await otherApi.square(3)).toBe(9);
        expect(server.handlers.stats().sessions).toBe(2);
        await counterA.increment(1);
        dispose(counterA);
      } finally {
        otherApi[Symbol.dispose]();
      }
      await expectBaseline();
    });
  },
);
