// A value that follows the code that set it across awaits: AsyncLocalStorage where the runtime
// has it (Node, Bun, Deno). Elsewhere (browsers) the value is seen only by the synchronous part
// of the callback that set it: code after an `await` inside it runs without it.

import { nodeBuiltin } from "./builtins.js";

export interface AsyncContext<T> {
  getStore(): T | undefined;
  run<R>(store: T, fn: () => R): R;
  exit<R>(fn: () => R): R;
}

interface AsyncLocalStorageClass {
  new <T>(): AsyncContext<T>;
}

class SynchronousContext<T> implements AsyncContext<T> {
  private current: T | undefined;
  getStore(): T | undefined {
    return this.current;
  }
  run<R>(store: T, fn: () => R): R {
    const previous = this.current;
    this.current = store;
    try {
      return fn();
    } finally {
      this.current = previous;
    }
  }
  exit<R>(fn: () => R): R {
    const previous = this.current;
    this.current = undefined;
    try {
      return fn();
    } finally {
      this.current = previous;
    }
  }
}

const AsyncLocalStorage = nodeBuiltin<{ AsyncLocalStorage: AsyncLocalStorageClass }>("node:async_hooks")?.AsyncLocalStorage;

/** Whether contexts follow awaits here (false in browsers: see above). */
export const contextFollowsAwaits = AsyncLocalStorage !== undefined;

export function asyncContext<T>(): AsyncContext<T> {
  return AsyncLocalStorage ? new AsyncLocalStorage<T>() : new SynchronousContext<T>();
}
