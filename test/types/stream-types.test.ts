// Static types of stream, Blob, Request and Response methods through Stub<T>: they arrive as
// themselves (never mapped into stubs of their methods), and may be passed where declared. The
// checks are done by the compiler (`tsc --noEmit` over test/); the functions are never called.

import { describe, expect, expectTypeOf, it } from "vitest";
import * as CapnWeb from "../../src/index.js";
import type { RpcStub } from "../../src/capnweb.js";

interface Files {
  download(name: string): Promise<ReadableStream<Uint8Array>>;
  upload(name: string, body: ReadableStream<Uint8Array>): Promise<number>;
  sink(): WritableStream<string>;
  record(into: WritableStream<{ n: number }>): Promise<void>;
  thumbnail(name: string): Blob;
  fetch(request: Request): Promise<Response>;
  listing(): { name: string; blob: Blob; body: ReadableStream<string> };
}

/** Never called: the compiler checks its body. */
async function streams(files: CapnWeb.Stub<Files>) {
  const stream = await files.download("a.bin");
  expectTypeOf(stream).toEqualTypeOf<ReadableStream<Uint8Array>>();
  for await (const chunk of stream) expectTypeOf(chunk).toEqualTypeOf<Uint8Array>();
  expectTypeOf(files.upload("b.bin", new ReadableStream<Uint8Array>())).resolves.toEqualTypeOf<number>();
  expectTypeOf(await files.sink()).toEqualTypeOf<WritableStream<string>>();
  await files.record(new WritableStream<{ n: number }>());
  // @ts-expect-error a stream of the wrong chunk type
  await files.upload("c.bin", new ReadableStream<string>());
  const blob = await files.thumbnail("a.png");
  expectTypeOf(blob).toEqualTypeOf<Blob>();
  expectTypeOf(await blob.arrayBuffer()).toEqualTypeOf<ArrayBuffer>();
  const response = await files.fetch(new Request("https://example.com/"));
  expectTypeOf(response).toEqualTypeOf<Response>();
  expectTypeOf(response.status).toEqualTypeOf<number>();
  // A stream's methods are local: they are not pipelined on the promise of one.
  // @ts-expect-error getReader is not a remote member
  files.download("a.bin").getReader();
  // @ts-expect-error nor is a Blob's text()
  files.thumbnail("a.png").text();
  const listing = await files.listing();
  expectTypeOf(listing).toEqualTypeOf<{ name: string; blob: Blob; body: ReadableStream<string> }>();
}

/** The compatible entry types them the same way. */
async function compatible(files: RpcStub<Files>) {
  expectTypeOf(await files.download("a.bin")).toEqualTypeOf<ReadableStream<Uint8Array>>();
  expectTypeOf(await files.fetch(new Request("https://example.com/"))).toEqualTypeOf<Response>();
}

describe("stream types (checked by tsc)", () => {
  it("the type-level checks compile", () => {
    for (const fn of [streams, compatible]) expect(typeof fn).toBe("function");
  });

  it("streams and bodies resolve to themselves", () => {
    expectTypeOf<CapnWeb.Resolved<ReadableStream<Uint8Array>>>().toEqualTypeOf<ReadableStream<Uint8Array>>();
    expectTypeOf<CapnWeb.Resolved<WritableStream<string>>>().toEqualTypeOf<WritableStream<string>>();
    expectTypeOf<CapnWeb.Resolved<Promise<Blob>>>().toEqualTypeOf<Blob>();
    expectTypeOf<CapnWeb.Resolved<Request>>().toEqualTypeOf<Request>();
    expectTypeOf<CapnWeb.Resolved<Response>>().toEqualTypeOf<Response>();
  });
});
