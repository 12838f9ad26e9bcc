// The servers of the benchmark, in a process of their own (so that the client process is measured
// alone, each side has a core, and 10,000 sessions need 10,000 fds here and 10,000 there):
// starts ours, capnweb's and the raw echo server, reports their URLs over IPC, and closes them
// when told to.

import { startAll } from "./servers.js";

const servers = await startAll();
process.on("message", async (message: { type: string }) => {
  if (message.type === "close") {
    await servers.close();
    process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
process.send!({ type: "ready", urls: servers.urls });
