// capnweb 0.12's RPC and stream cases with our engine on one side and the real capnweb package on the other,
// both directions, over WebSocket, MessagePort and HTTP batch (and in memory, for the cases that
// need the in-memory harness). The same cases as in-memory.test.ts; see rpc-cases.ts.

import { afterAll, describe } from "vitest";
import { CAPNWEB, COMPAT, inMemory, overHttpBatch, overMessagePort, overWebSocket, type Setup } from "./harness.js";
import { rpcCases } from "./rpc-cases.js";
import { batchBlobCase, streamCases } from "./stream-cases.js";

const setups: Setup[] = [
  inMemory(CAPNWEB, COMPAT),
  inMemory(COMPAT, CAPNWEB),
  overWebSocket(CAPNWEB, COMPAT),
  overWebSocket(COMPAT, CAPNWEB),
  overMessagePort(CAPNWEB, COMPAT),
  overMessagePort(COMPAT, CAPNWEB),
  overHttpBatch(CAPNWEB, COMPAT),
  overHttpBatch(COMPAT, CAPNWEB),
];

for (const setup of setups) {
  describe(setup.label, () => {
    afterAll(async () => setup.close?.());
    rpcCases(setup);
    streamCases(setup);
    if (setup.medium === "http-batch") batchBlobCase(setup);
  });
}
