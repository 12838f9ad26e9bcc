// Node's built-in modules where the runtime has them (Node, Bun and Deno do), without a static
// `import "node:..."` that a browser bundle could not resolve. `process.getBuiltinModule` is
// synchronous (Node >= 20.16), so a module that wants one stays free of top-level await, which
// `require()` of an ES module refuses.

interface ProcessWithBuiltins {
  getBuiltinModule?: (id: string) => unknown;
}

export function nodeBuiltin<T>(id: string): T | undefined {
  const process = (globalThis as { process?: ProcessWithBuiltins }).process;
  try {
    return process?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}
