// Bytes without Node globals: base64 both ways for the wire, and the byte arrays handed to the
// application, which are Node Buffers where the runtime has them (as capnweb gives on Node) and
// plain Uint8Arrays elsewhere.

import { nodeBuiltin } from "./builtins.js";

interface BufferClass {
  from(data: ArrayBufferLike, byteOffset?: number, length?: number): Uint8Array & { toString(encoding: "base64"): string };
  from(data: string, encoding: "base64"): Uint8Array;
  prototype: Uint8Array;
}

const NodeBuffer = nodeBuiltin<{ Buffer: BufferClass }>("node:buffer")?.Buffer;

/** Buffer.prototype where Buffers exist: what counts as plain bytes besides Uint8Array. */
export const bufferPrototype: object | undefined = NodeBuffer?.prototype;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;
DECODE["-".charCodeAt(0)] = 62;
DECODE["_".charCodeAt(0)] = 63;

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  if (i < bytes.length) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + (i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63]! : "=") + "=";
  }
  return out;
}

/**
 * Decodes base64 (standard or URL-safe, padding optional) the way Node's Buffer does: characters
 * outside the alphabet are skipped. Returns a Buffer where Buffers exist.
 */
export function fromBase64(text: string): Uint8Array {
  if (NodeBuffer) return NodeBuffer.from(text, "base64");
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
  let length = 0;
  let bits = 0;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 61) break; // "=": the end of the data
    const digit = code < 128 ? DECODE[code]! : -1;
    if (digit < 0) continue;
    value = (value << 6) | digit;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[length++] = (value >> bits) & 0xff;
    }
  }
  return out.subarray(0, length);
}

/** The bytes as the application receives them: a Buffer on runtimes that have them. */
export function appBytes(bytes: Uint8Array): Uint8Array {
  return NodeBuffer ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
}
