// The reporter pattern: the client exports a ProgressReporter and passes it to a long-running
// server method, and the server calls it back with progress, completion or an error. Each
// callback prints a line of a CLI progress bar.

import * as CapnWeb from "capnweb-otp";

// ---- what the server calls back -----------------------------------------------------------------

interface Reporter {
  onProgress(update: { percent: number; message: string }): void;
  onComplete(done: { result: { imported: number } }): void;
  onError(failure: { error: string }): void;
}

// ---- the server's API ---------------------------------------------------------------------------

const STEPS = [
  { percent: 25, message: "Parsing..." },
  { percent: 50, message: "Validating..." },
  { percent: 75, message: "Importing..." },
  { percent: 100, message: "Indexing..." },
];

class Jobs extends CapnWeb.Target {
  /** Imports a file, reporting each step; the reporter belongs to this method until released. */
  async startImport(fileUrl: string, reporter: CapnWeb.Stub<Reporter>) {
    try {
      if (!fileUrl.endsWith(".csv")) {
        const error = `cannot import ${fileUrl}: not a CSV file`;
        await reporter.onError({ error });
        throw new CapnWeb.Error("invalid_argument", error);
      }
      for (const step of STEPS) await reporter.onProgress(step);
      const result = { imported: 1000 };
      await reporter.onComplete({ result });
      return result;
    } finally {
      CapnWeb.release(reporter);
    }
  }
}

class Api extends CapnWeb.Target {
  jobs() {
    return new Jobs();
  }
}

// ---- the client ---------------------------------------------------------------------------------

class ProgressReporter extends CapnWeb.Target implements Reporter {
  onProgress({ percent, message }: { percent: number; message: string }) {
    const filled = Math.round(percent / 10);
    console.log(`[${"#".repeat(filled)}${".".repeat(10 - filled)}] ${percent}% ${message}`);
  }
  onComplete({ result }: { result: { imported: number } }) {
    console.log(`Complete: ${JSON.stringify(result)}`);
  }
  onError({ error }: { error: string }) {
    console.log(`Error: ${error}`);
  }
}

async function main() {
  const server = await CapnWeb.serve({ port: 0, main: () => new Api() });
  const api = await CapnWeb.connect<Api>(server.wsUrl);

  const jobs = api.jobs();

  // Export the reporter as a capability and pass it to the server, which calls it back.
  const reporter = CapnWeb.export(api, new ProgressReporter(), { label: "progress-reporter" });
  const result = await jobs.startImport("https://files.example.com/users.csv", reporter);
  console.log(`startImport returned ${JSON.stringify(result)}\n`);
  CapnWeb.release(reporter);

  // A failing job reports through onError, and the call itself fails with a typed error.
  const failing = CapnWeb.export(api, new ProgressReporter(), { label: "progress-reporter" });
  const outcome = await CapnWeb.await(jobs.startImport("https://files.example.com/users.xlsx", failing));
  if (!outcome.ok) console.log(`startImport failed: type=${outcome.error.type}\n`);
  CapnWeb.release(failing);
  CapnWeb.release(jobs);

  // Every capability has been given back: both sides' tables hold only their main object.
  await waitFor(() => atBaseline(CapnWeb.stats(api)) && atBaseline(server.handlers.stats()));
  console.log(`client tables: ${JSON.stringify(CapnWeb.stats(api))}, server tables: ${JSON.stringify(server.handlers.stats())}`);
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
