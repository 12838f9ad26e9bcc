// What differs between the runtimes the suite runs on, where a test's expectation depends on it.
// Each flag names the behaviour, and says on which runtimes it holds and why.

const isBun = "Bun" in globalThis;
const isDeno = "Deno" in globalThis;

/** Node's major version when the runtime is Node itself (Bun and Deno report a Node version too). */
export const nodeMajor: number | undefined = isBun || isDeno ? undefined : Number(process.versions.node.split(".")[0]);

/**
 * capnweb 0.12's HTTP batch client sends a Blob argument's stream as `blob.stream()` gives it, and
 * on Node 24 and later that stream reports its end a macrotask after its last byte: the batch goes
 * without the pipe's close, and the call never completes (capnweb's client against capnweb's
 * server too). Ours ends a Blob's pipe with its last byte.
 */
export const capnwebBatchLosesBlobEnd = nodeMajor !== undefined && nodeMajor >= 24;

/**
 * Whether a short stream that capnweb's HTTP batch server returns gets its chunk out before the
 * batch response does: on Bun (a Blob's bytes too), and on Node 24 and later (a stream only).
 */
export const capnwebBatchServerSendsShortStream = isBun || (nodeMajor !== undefined && nodeMajor >= 24);
export const capnwebBatchServerSendsBlob = isBun;
