// Bidirectional communication: a chat room. Each client exports a ChatClient (a stateful target
// that keeps what it saw) and joins a room with it; the server keeps the member's stub, which is
// its own until it releases it (no dup() needed), and calls every member back with
// onUserJoined, onMessage and onUserLeft. Joining returns a room capability through which the
// client sends messages and leaves; leaving (or dropping the room capability) releases the member.

import * as CapnWeb from "capnweb-otp";

// ---- what the server calls back -----------------------------------------------------------------

interface ChatMember {
  onMessage(message: { sender: string; text: string }): null;
  onUserJoined(event: { user: string }): null;
  onUserLeft(event: { user: string }): null;
}

// ---- the server ---------------------------------------------------------------------------------

/** A room's members, shared by every connection. Not a Target: it never travels. */
class ChatRoom {
  readonly members = new Map<string, CapnWeb.Stub<ChatMember>>();

  constructor(readonly id: string) {}

  /** Calls every member (but `except`) and waits for all; a member that fails is dropped. */
  async broadcast(call: (member: CapnWeb.Stub<ChatMember>) => PromiseLike<unknown>, except?: string): Promise<void> {
    const targets = [...this.members].filter(([user]) => user !== except);
    const results = await Promise.allSettled(targets.map(([, member]) => call(member)));
    results.forEach((result, i) => {
      if (result.status === "rejected") this.remove(targets[i]![0]);
    });
  }

  remove(user: string): boolean {
    const member = this.members.get(user);
    if (!member) return false;
    this.members.delete(user);
    CapnWeb.release(member);
    return true;
  }
}

const ROOMS = new Map<string, ChatRoom>();

/** The capability join() returns: speaking and leaving as this user, in this room. */
class RoomMembership extends CapnWeb.Target {
  constructor(private readonly room: ChatRoom, private readonly user: string) {
    super();
  }
  members() {
    return [...this.room.members.keys()];
  }
  async sendMessage(text: string) {
    if (!this.room.members.has(this.user)) throw new CapnWeb.Error("released", `${this.user} has left ${this.room.id}.`);
    await this.room.broadcast((member) => member.onMessage({ sender: this.user, text }));
    return { delivered: this.room.members.size };
  }
  async leave() {
    if (this.room.remove(this.user)) await this.room.broadcast((member) => member.onUserLeft({ user: this.user }));
  }
  /** The client released the room capability (or its connection ended) without leaving. */
  [Symbol.dispose]() {
    void this.leave();
  }
}

class Rooms extends CapnWeb.Target {
  constructor(private readonly user: string) {
    super();
  }
  /** Joins `roomId`; the server keeps `member` (it owns it from now on) until the user leaves. */
  async join(roomId: string, member: CapnWeb.Stub<ChatMember>) {
    let room = ROOMS.get(roomId);
    if (!room) ROOMS.set(roomId, (room = new ChatRoom(roomId)));
    if (room.members.has(this.user)) throw new CapnWeb.Error("invalid_argument", `${this.user} is already in ${roomId}.`);
    await room.broadcast((other) => other.onUserJoined({ user: this.user }));
    room.members.set(this.user, member);
    return new RoomMembership(room, this.user);
  }
}

class Api extends CapnWeb.Target {
  constructor(private readonly user: string) {
    super();
  }
  rooms() {
    return new Rooms(this.user);
  }
}

// ---- the clients --------------------------------------------------------------------------------

type Seen = { lines: string[] };

/** A ChatClient: keeps every line the server sent it, one call at a time through its mailbox. */
const chatClient = () =>
  CapnWeb.target<Seen, ChatMember>({
    init: () => ({ lines: [] }),
    handlers: {
      onMessage: ([{ sender, text }], state) => ({ reply: null, state: { lines: [...state.lines, `${sender}: ${text}`] } }),
      onUserJoined: ([{ user }], state) => ({ reply: null, state: { lines: [...state.lines, `* ${user} joined the room`] } }),
      onUserLeft: ([{ user }], state) => ({ reply: null, state: { lines: [...state.lines, `* ${user} left the room`] } }),
    },
  });

async function joinAs(server: CapnWeb.Server, user: string, roomId: string) {
  // The server knows who we are from the connection's token, not from anything we claim later.
  const api = await CapnWeb.connect<Api>(server.wsUrl, { headers: { authorization: `Bearer ${user}` } });
  const me = CapnWeb.export<ChatMember>(api, chatClient(), { label: `chat-client:${user}` });
  const seen = CapnWeb.targetActorOf(me)!;
  const rooms = api.rooms();
  const room = await rooms.join(roomId, me);
  CapnWeb.release(rooms);
  console.log(`${user} joined ${roomId}; members: ${(await room.members()).join(", ")}`);
  return { user, api, me, room, seen };
}

async function main() {
  const server = await CapnWeb.serve({
    port: 0,
    authenticate: (request) => request.headers.authorization?.replace(/^Bearer /, "") || false,
    main: ({ auth }) => new Api(String(auth)),
  });

  const alice = await joinAs(server, "alice", "lobby");
  const bob = await joinAs(server, "bob", "lobby");

  // Each send returns once every member has been called back.
  const sent = await alice.room.sendMessage("hi bob!");
  console.log(`alice sent a message, delivered to ${sent.delivered}`);
  await bob.room.sendMessage("hello alice, how are you?");
  await alice.room.sendMessage("great, thanks");

  await bob.room.leave();
  console.log(`bob left; members: ${(await alice.room.members()).join(", ")}`);

  // carol joins and hangs up without leaving: her session ends, the server releases what it had
  // exported to her, and the room capability's disposer takes her out of the room.
  const carol = await joinAs(server, "carol", "lobby");
  CapnWeb.close(carol.api);
  await waitFor(() => ROOMS.get("lobby")!.members.size === 1 && lines(alice).at(-1) === "* carol left the room");
  console.log(`carol hung up; members: ${(await alice.room.members()).join(", ")}`);
  await alice.room.sendMessage("anyone still here?");
  await alice.room.leave();
  console.log(`alice left; lobby has ${ROOMS.get("lobby")!.members.size} members\n`);

  for (const client of [alice, bob]) {
    console.log(`what ${client.user} saw:`);
    for (const line of lines(client)) console.log(`  ${line}`);
  }

  // The server released each member when it left, which stopped its ChatClient actor.
  console.log(`\nchat clients: alice ${actorStatus(alice)}, bob ${actorStatus(bob)}`);
  for (const { room, me } of [alice, bob]) CapnWeb.release([room, me]);
  await waitFor(() => [alice.api, bob.api].every((api) => atBaseline(CapnWeb.stats(api))) && atBaseline(server.handlers.stats(), 2));
  console.log(`tables after release: alice ${JSON.stringify(CapnWeb.stats(alice.api))}, bob ${JSON.stringify(CapnWeb.stats(bob.api))}, server ${JSON.stringify(server.handlers.stats())}`);

  CapnWeb.close(alice.api);
  CapnWeb.close(bob.api);
  await server.close();
  console.log("done.");
}

type Client = { seen: CapnWeb.TargetActor };

function lines({ seen }: Client): string[] {
  return (seen.snapshot() as Seen).lines;
}

function actorStatus({ seen }: Client): string {
  const { status, stopReason } = seen.inspect();
  return `${status} (${stopReason})`;
}

/** Only the main object (one per session) left in the tables. */
function atBaseline({ imports, exports }: CapnWeb.SessionStats, sessions = 1): boolean {
  return imports === sessions && exports === sessions;
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
