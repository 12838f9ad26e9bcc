// capnweb's limits, under capnweb's names: the three it has. Ours has more (table sizes, send
// buffers, timeouts: `CapnWeb.DEFAULT_LIMITS` in the main entry), and they apply here too with
// their defaults; an application written for capnweb sees exactly capnweb's object.

import { DEFAULT_LIMITS as OUR_LIMITS } from "../protocol/limits.js";

/** capnweb 0.12's RpcLimits. */
export interface RpcLimits {
  maxBigIntDigits: number;
  maxDepth: number;
  maxMessageSize: number;
}

export const DEFAULT_LIMITS: Readonly<RpcLimits> = Object.freeze({
  maxBigIntDigits: OUR_LIMITS.maxBigIntDigits,
  maxDepth: OUR_LIMITS.maxDepth,
  maxMessageSize: OUR_LIMITS.maxMessageSize,
});

export const DEFAULT_MAX_DEPTH: number = OUR_LIMITS.maxDepth;
