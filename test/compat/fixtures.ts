// The objects capnweb's suite calls, built on whichever library a side of the pair runs: the same
// behaviour as its test utilities, written here for our port.

import type { Library } from "./harness.js";

export function testObjects(library: Library) {
  const { RpcTarget } = library;

  class Counter extends RpcTarget {
    #i: number;
    constructor(i = 0) {
      super();
      this.#i = i;
    }
    increment(amount = 1): number {
      this.#i += amount;
      return this.#i;
    }
    get value(): number {
      return this.#i;
    }
  }

  // A named function, so that a test can look for it in a stack trace.
  function throwErrorImpl(): never {
    throw new RangeError("test error");
  }

  class TestTarget extends RpcTarget {
    square(i: number) {
      return i * i;
    }
    callSquare(self: any, i: number) {
      return { result: self.square(i) };
    }
    async callFunction(fn: any, i: number) {
      return { result: await fn(i) };
    }
    throwError() {
      throwErrorImpl();
    }
    makeCounter(i: number) {
      return new Counter(i);
    }
    incrementCounter(counter: any, i = 1) {
      return counter.increment(i);
    }
    generateFibonacci(length: number) {
      const result = [0, 1];
      if (length <= result.length) return result.slice(0, length);
      while (result.length < length) result.push(result[result.length - 1]! + result[result.length - 2]!);
      return result;
    }
    returnNull() {
      return null;
    }
    returnUndefined() {
      return undefined;
    }
    returnNumber(i: number) {
      return i;
    }
    async echoBlob(blob: Blob): Promise<Blob> {
      return new Blob([await blob.arrayBuffer()], { type: blob.type });
    }
  }

  return { Counter, TestTarget };
}

/**
 * A server that writes 20 chunks of 40,000 characters into the stream it is given, awaiting each
 * write (some 7 fill the initial 256 KiB window), then closes it; `writesSent` counts the writes
 * it started.
 */
export function windowFiller(library: Library) {
  let writesSent = 0;
  class StreamReceiver extends library.RpcTarget {
    async receiveStream(stream: WritableStream<string>) {
      const writer = stream.getWriter();
      const chunk = "x".repeat(40000);
      for (let i = 0; i < 20; i++) {
        writesSent++;
        await writer.write(chunk);
      }
      await writer.close();
    }
  }
  return { target: new StreamReceiver(), writesSent: () => writesSent };
}

/** Not serializable: a class instance, shown by its toString. */
export class NotSerializable {
  constructor(readonly i: number) {}
  toString() {
    return `NotSerializable(${this.i})`;
  }
}
