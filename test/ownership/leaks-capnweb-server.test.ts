// Ownership scenarios (scenarios.ts) of our client against a real capnweb 0.12 server: after
// each one, our session's tables (CapnWeb.stats) and the capnweb server's session that served
// the connection (RpcSession.getStats) are back at { imports: 1, exports: 1 }.

import { afterAll, beforeAll, expect } from "vitest";
import * as CapnWeb from "../../src/index.js";
import { startCapnwebServer, type CapnwebServer } from "../interop/helpers.js";
import { CwApi, ServerState } from "./helpers.js";
import { ownershipScenarios, type Client } from "./scenarios.js";

let server: CapnwebServer;
const states: ServerState[] = [];

beforeAll(async () => {
  server = await startCapnwebServer(() => {
    const state = new ServerState();
    states.push(state);
    return new CwApi(state);
  });
});

afterAll(async () => {
  await server.close();
});

/** A new connection, with the capnweb session and the main object's state that serve it. */
async function connectClient(): Promise<Client> {
  const api = await CapnWeb.connect<any>(server.wsUrl);
  const peer = await server.lastSession();
  // The main object is made right before its session, on accept.
  const state = states[states.length - 1]!;
  expect(await api.square(2)).toBe(4);
  return { api, state, peerStats: () => peer.session.getStats() };
}

ownershipScenarios(connectClient);
