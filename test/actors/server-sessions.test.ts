// Every connection our server accepts is a child of the server's dynamic supervisor: it shows in
// inspection, leaves it when the client goes, and is stopped when the server closes.

import { describe, expect, it, vi } from "vitest";
import * as CapnWeb from "../../src/index.js";

class Api extends CapnWeb.Target {
  square(i: number) {
    return i * i;
  }
}

describe("server sessions under supervision", () => {
  it("appear in inspect(), leave it when their client goes, and stop when the server closes", async () => {
    const server = await CapnWeb.serve({ port: 0, main: () => new Api() });
    const a = await CapnWeb.connect<Api>(server.wsUrl);
    const b = await CapnWeb.connect<Api>(server.wsUrl);
    expect(await a.square(2)).toBe(4);
    expect(await b.square(3)).toBe(9);

    await vi.waitFor(() => expect((CapnWeb.inspect(server.handlers).children as any[]).length).toBe(2));
    const tree = CapnWeb.inspect(server.handlers) as any;
    expect(tree).toMatchObject({ kind: "supervisor", name: "server_sessions", status: "running" });
    expect(tree.children.map((c: any) => [c.restart, c.actor.kind, c.actor.status, c.actor.transport])).toEqual([
      ["temporary", "server-session", "open", "websocket"],
      ["temporary", "server-session", "open", "websocket"],
    ]);

    CapnWeb.close(a);
    await vi.waitFor(() => expect((CapnWeb.inspect(server.handlers).children as any[]).length).toBe(1));

    const ended = new Promise<CapnWeb.ConnectionState>((resolve) => {
      const connection = CapnWeb.connectionOf(b)!;
      connection.whenEnded().then(() => resolve(connection.state));
    });
    await server.close();
    expect(await ended).toBe("broken");
    expect((CapnWeb.inspect(server.handlers) as any).status).toBe("stopped");
  });
});
