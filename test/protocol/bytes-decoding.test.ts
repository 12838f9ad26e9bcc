// Decoded byte arrays: large ones are the decoded memory itself (no second copy), small ones a
// copy out of Buffer's shared pool; either way the array's buffer holds exactly its bytes.

import { describe, expect, it } from "vitest";
import { deserialize, serialize } from "../../src/protocol/codec.js";

describe("a decoded Uint8Array", () => {
  for (const length of [0, 1, 5, 100, 4095, 4096, 64 * 1024, 64 * 1024 + 3]) {
    it(`of ${length} bytes owns exactly its bytes`, () => {
      const bytes = new Uint8Array(length).map((_, i) => (i * 131 + 7) & 0xff);
      const decoded = deserialize(serialize(bytes)) as Uint8Array;
      expect(Object.getPrototypeOf(decoded)).toBe(Uint8Array.prototype);
      expect(decoded.byteOffset).toBe(0);
      expect(decoded.buffer.byteLength).toBe(length);
      expect(Buffer.from(decoded).equals(Buffer.from(bytes))).toBe(true);
    });
  }
});
