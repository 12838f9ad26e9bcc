// capnweb 0.12's RPC and stream cases against the compatible entry alone: both sessions are
// `capnweb-otp/capnweb`, joined in memory the way capnweb's own harness joins its sessions.

import { describe } from "vitest";
import { inMemory } from "./harness.js";
import { rpcCases } from "./rpc-cases.js";
import { localBlobCase, streamCases } from "./stream-cases.js";

describe("compat client ↔ compat server, in memory", () => {
  rpcCases(inMemory());
  streamCases(inMemory());
  localBlobCase();
});
