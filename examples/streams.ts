// Streams, Blob and Response as arguments and results, the way capnweb 0.12 carries them: the
// server returns a ReadableStream (a generated export file), takes one (an upload), returns a
// Blob and a Response; the client checks every byte with sha256. A stream obtained inside a
// scope() belongs to it like any capability: the scope's end cancels it, and the server sees its
// source cancelled. Afterwards both sides' tables hold only the main object.

import { createHash } from "node:crypto";
import * as CapnWeb from "capnweb-otp";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** A generated file: `size` bytes in 64 KiB chunks, made as the reader asks (pull). */
function generatedFile(size: number, onCancel?: (reason: unknown) => void): { stream: ReadableStream<Uint8Array>; sha256: () => string } {
  const hash = createHash("sha256");
  let sent = 0;
  let digest = "";
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= size) {
          digest = hash.digest("hex");
          controller.close();
          return;
        }
        const chunk = new Uint8Array(Math.min(CHUNK, size - sent)).map((_, i) => (sent + i) % 251);
        hash.update(chunk);
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel: onCancel,
    },
    { highWaterMark: 0 },
  );
  return { stream, sha256: () => digest };
}

async function sha256Of(stream: ReadableStream<Uint8Array>): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { bytes, sha256: hash.digest("hex") };
}

class Files extends CapnWeb.Target {
  #lastDigest = "";
  #cancelled = 0;

  /** A file as a ReadableStream: the client reads it as it arrives, 64 KiB at a time. */
  exportFile(size: number): ReadableStream<Uint8Array> {
    const file = generatedFile(size, () => this.#cancelled++);
    const stream = file.stream;
    // The digest is known once the last chunk has been pulled.
    const reader = new TransformStream<Uint8Array, Uint8Array>({ flush: () => void (this.#lastDigest = file.sha256()) });
    return stream.pipeThrough(reader);
  }
  digest(): string {
    return this.#lastDigest;
  }
  /** Reads a stream the client passes: the bytes and their sha256. */
  upload(file: ReadableStream<Uint8Array>) {
    return sha256Of(file);
  }
  logo(): Blob {
    return new Blob(['<svg xmlns="http://www.w3.org/2000/svg"/>'], { type: "image/svg+xml" });
  }
  report(): Response {
    return new Response("id,name\n1,Ada Lovelace\n2,Alan Turing\n", { status: 200, headers: { "content-type": "text/csv" } });
  }
  cancelledStreams(): number {
    return this.#cancelled;
  }
}

async function main() {
  const files = new Files();
  const server = await CapnWeb.serve({ port: 0, main: files });
  const api = await CapnWeb.connect<Files>(server.wsUrl);
  const tables = () => `client ${JSON.stringify(CapnWeb.stats(api))}, server ${JSON.stringify(server.handlers.stats())}`;

  // A ReadableStream returned by the server.
  const download = await sha256Of(await api.exportFile(4 * MiB));
  console.log(`download: ${download.bytes} bytes, sha256 matches: ${download.sha256 === (await api.digest())}`);

  // A ReadableStream passed to the server.
  const mine = generatedFile(3 * MiB);
  const upload = await api.upload(mine.stream);
  console.log(`upload: ${upload.bytes} bytes, sha256 matches: ${upload.sha256 === mine.sha256()}`);

  // A Blob keeps its type; a Response its status, headers and body.
  const logo = await api.logo();
  console.log(`blob: ${logo.type}, ${logo.size} bytes`);
  const report = await api.report();
  console.log(`response: ${report.status} ${report.headers.get("content-type")}, ${(await report.text()).split("\n")[1]}`);

  // A stream belongs to whoever obtained it: the scope's end cancels the one left unread.
  await CapnWeb.scope(async () => {
    const big = await api.exportFile(1024 * MiB);
    const reader = big.getReader();
    await reader.read();
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  console.log(`scope ended: the server's stream was cancelled: ${(await api.cancelledStreams()) === 1}`);

  await new Promise((resolve) => setTimeout(resolve, 50));
  console.log(`tables after: ${tables()}`);
  CapnWeb.close(api);
  await server.close();
  console.log("done.");
}

await main();
