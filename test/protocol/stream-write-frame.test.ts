// A stream write whose one argument is a byte array is framed by joining text around its base64
// (soleBytesArgsJson), not by JSON.stringify: the text must be exactly what the general encoder
// makes of the same arguments, and what capnweb 0.12 makes of them, for every padding length.

import { describe, expect, it } from "vitest";
import { serialize as capnwebSerialize } from "capnweb";
import { Encoder, soleBytesArgsJson } from "../../src/protocol/codec.js";

const noExports = {
  exportTarget: () => {
    throw new Error("no exports here");
  },
} as unknown as Parameters<typeof Encoder.encodeArgs>[1];

const general = (args: unknown[]) => JSON.stringify(Encoder.encodeArgs(args, noExports));
// capnweb serializes one value; a call's arguments are the array's elements in the same form.
const capnwebArgs = (args: unknown[]) => capnwebSerialize(args).slice(1, -1);

describe("a write of one byte array", () => {
  for (const length of [0, 1, 2, 3, 4, 5, 64 * 1024, 64 * 1024 + 1]) {
    it(`frames ${length} bytes as the encoder and capnweb do`, () => {
      const bytes = new Uint8Array(length).map((_, i) => (i * 37 + 11) & 0xff);
      for (const value of [bytes, Buffer.from(bytes), bytes.subarray(length > 2 ? 1 : 0)]) {
        const fast = soleBytesArgsJson([value]);
        expect(fast).toBe(general([value]));
        expect(fast).toBe(capnwebArgs([value]));
      }
    });
  }

  it("leaves every other argument list to the encoder", () => {
    expect(soleBytesArgsJson([])).toBeUndefined();
    expect(soleBytesArgsJson([new Uint8Array(1), new Uint8Array(1)])).toBeUndefined();
    expect(soleBytesArgsJson(["text"])).toBeUndefined();
    expect(soleBytesArgsJson([null])).toBeUndefined();
    expect(soleBytesArgsJson([new Uint16Array(2)])).toBeUndefined();
    expect(soleBytesArgsJson([new Uint8Array(2).buffer])).toBeUndefined();
    expect(soleBytesArgsJson([{ bytes: new Uint8Array(2) }])).toBeUndefined();
  });
});
