// capnweb's name for the default nesting limit.

import { DEFAULT_LIMITS } from "../protocol/limits.js";

export const DEFAULT_MAX_DEPTH: number = DEFAULT_LIMITS.maxDepth;
