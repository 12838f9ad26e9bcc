// A capnweb program, unchanged but for its import: `capnweb-otp/capnweb` gives capnweb's names
// with capnweb's semantics on our engine. Then three pieces of our own API that capnweb programs
// ask for: a local stub, a capability that stands for a promise, and a listener of a lost
// connection that can be stopped.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { RpcTarget, RpcStub, newWebSocketRpcSession, newHttpBatchRpcSession, nodeHttpBatchRpcResponse } from "capnweb-otp/capnweb";
import * as CapnWeb from "capnweb-otp";

class Counter extends RpcTarget {
  constructor(private count: number) {
    super();
  }
  increment(by = 1) {
    return (this.count += by);
  }
}

class Api extends RpcTarget {
  square(i: number) {
    return i * i;
  }
  makeCounter(start: number) {
    return new Counter(start);
  }
  // capnweb's rule: the callback is released when this call is done.
  async callTwice(fn: RpcStub<(x: number) => number>) {
    return [await fn(1), await fn(2)];
  }
  fail(): never {
    throw new RangeError("out of range");
  }
}

// capnweb's RpcTargets are ours: a supervised server serves them as they are (WebSocket and
// HTTP batch on one port), where a capnweb program would mount newWebSocketRpcSession on `ws`.
const server = await CapnWeb.serve({ host: "127.0.0.1", port: 0, main: () => new Api() });
const port = server.port;

// And an HTTP batch endpoint the capnweb way, on a plain node:http server.
const http = createServer((request, response) => void nodeHttpBatchRpcResponse(request, response, new Api()));
await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
const batchPort = (http.address() as AddressInfo).port;

// A client the capnweb way.
interface ApiShape {
  square(i: number): number;
  makeCounter(start: number): Counter;
  callTwice(fn: (x: number) => number): number[];
  fail(): void;
}
const api = newWebSocketRpcSession<ApiShape>(`ws://127.0.0.1:${port}`);
console.log(`square(7) = ${await api.square(7)}`);
using counter = await api.makeCounter(10);
console.log(`counter: ${await counter.increment(5)}`);
console.log(`callTwice: ${JSON.stringify(await api.callTwice((x: number) => x * 100))}`);
const failure = await api.fail().catch((error: unknown) => error);
console.log(`fail(): ${failure instanceof RangeError ? "RangeError" : "?"}: ${(failure as Error).message}`);
const batch = newHttpBatchRpcSession<ApiShape>(`http://127.0.0.1:${batchPort}`);
console.log(`HTTP batch: ${JSON.stringify(await Promise.all([batch.square(2), batch.square(3)]))}`);

// Our API: a local stub, a promised capability, a stoppable broken-listener.
const local = CapnWeb.stub(new Counter(1));
console.log(`local stub: ${await local.increment(1)}`);
const later = CapnWeb.promised(new Promise<Counter>((resolve) => setTimeout(() => resolve(new Counter(100)), 10)));
console.log(`promised: ${await later.increment(1)} (the call waited for the promise)`);
const watched = await CapnWeb.connect<ApiShape>(`ws://127.0.0.1:${port}`);
let told = 0;
const listening = CapnWeb.onBroken(watched, () => told++);
listening[Symbol.dispose](); // stop listening before the connection goes
CapnWeb.close(watched);
await new Promise((resolve) => setTimeout(resolve, 20));
console.log(`broken-listener told after it was stopped: ${told}`);

api[Symbol.dispose]();
await server.close();
http.closeAllConnections();
http.close();
console.log("done.");
