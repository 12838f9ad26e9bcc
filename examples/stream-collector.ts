// A stateful callback target, the original GenServer with handle_rpc/3: the client exports a
// StreamCollector made with CapnWeb.target({ init, handlers }), the server streams query rows
// into it, and the client reads what it collected from the actor's state. Calls reach the
// collector one at a time, in arrival order, through its mailbox, so the server can push every
// row without waiting and still have onDone see them all. Afterwards both sides' tables are back
// at their baseline: only the main object remains.

import * as CapnWeb from "capnweb-otp";

type Row = { id: number; name: string };

interface Collector {
  onItem(item: Row): null;
  onDone(): number;
}

// ---- the server's API ---------------------------------------------------------------------------

const USERS: Row[] = [
  { id: 1, name: "Ada Lovelace" },
  { id: 2, name: "Alan Turing" },
  { id: 3, name: "Grace Hopper" },
  { id: 4, name: "Barbara Liskov" },
  { id: 5, name: "Joe Armstrong" },
];

class Data extends CapnWeb.Target {
  /** Streams the rows of a query into `collector`; the collector belongs to this method until released. */
  async streamQuery(sql: string, collector: CapnWeb.Stub<Collector>) {
    try {
      if (sql !== "SELECT * FROM users") throw new CapnWeb.Error("invalid_argument", `Unknown query: ${sql}`);
      // Every onItem leaves at once; the collector's mailbox takes them in order.
      const sent = USERS.map((row) => collector.onItem(row));
      const [, count] = await Promise.all([Promise.all(sent), collector.onDone()]);
      return { streamed: USERS.length, collectorCounted: count };
    } finally {
      CapnWeb.release(collector);
    }
  }
}

class Api extends CapnWeb.Target {
  data() {
    return new Data();
  }
}

// ---- the client ---------------------------------------------------------------------------------

type CollectorState = { items: Row[]; count: number };

const StreamCollector = CapnWeb.target<CollectorState, Collector>({
  init: () => ({ items: [], count: 0 }),
  handlers: {
    onItem: ([item], state) => ({ reply: null, state: { items: [...state.items, item], count: state.count + 1 } }),
    onDone: (_args, state) => ({ reply: state.count, state }),
  },
});

async function main() {
  const server = await CapnWeb.serve({ port: 0, main: () => new Api() });
  const api = await CapnWeb.connect<Api>(server.wsUrl);
  console.log(`baseline: client ${JSON.stringify(CapnWeb.stats(api))}, server ${JSON.stringify(server.handlers.stats())}`);

  // Export the collector (a child actor of the session) and pass it to the server.
  const collectorCap = CapnWeb.export(api, StreamCollector, { label: "stream-collector" });
  const data = api.data();
  const summary = await data.streamQuery("SELECT * FROM users", collectorCap);
  console.log(`streamQuery returned ${JSON.stringify(summary)}`);

  // The server streamed the rows into our collector: read them from the actor's state.
  const actor = CapnWeb.targetActorOf(collectorCap)!;
  const { items, count } = actor.snapshot();
  for (const item of items) console.log(`  collected #${item.id} ${item.name}`);
  console.log(`collector count: ${count}, items: ${items.length}`);

  // Give everything back; the server has already released its reference to the collector.
  CapnWeb.release([collectorCap, data]);
  await waitFor(() => atBaseline(CapnWeb.stats(api)) && atBaseline(server.handlers.stats()));
  const { status, stopReason, calls } = actor.inspect();
  console.log(`collector actor: ${status} (${stopReason}) after ${calls} calls`);
  console.log(`after release: client ${JSON.stringify(CapnWeb.stats(api))}, server ${JSON.stringify(server.handlers.stats())}`);

  CapnWeb.close(api);
  await server.close();
  console.log("done.");
}

/** Only the main object left in the session's tables. */
function atBaseline({ imports, exports }: CapnWeb.SessionStats): boolean {
  return imports === 1 && exports === 1;
}

/** Releases travel asynchronously; waits (briefly) until the peer has processed them. */
async function waitFor(condition: () => boolean, timeoutMs = 1_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
