// Making throwaway apps that install capnweb-otp the way users do: from the tarball `npm pack`
// makes, from a path, from a git URL. Everything runs in a temporary folder outside the checkout,
// with the parent npm's environment removed (under `npm test`, npm_* variables would leak the
// checkout's configuration into the app's install).

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const exec = promisify(execFile);

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const require = createRequire(import.meta.url);

/** The versions the checkout uses, so that an app's install is served from npm's cache. */
export const versions = {
  typescript: (require("typescript/package.json") as { version: string }).version,
  typesNode: (require("@types/node/package.json") as { version: string }).version,
};

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith("npm_") && key !== "INIT_CWD") env[key] = value;
  }
  return env;
}

export interface Run {
  stdout: string;
  stderr: string;
}

/** Runs a command; on failure the error names the command and shows its output. */
export async function run(file: string, args: string[], cwd: string, timeoutMs = 300_000): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(file, args, { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(" ")} failed in ${cwd}:\n${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

export const npm = (args: string[], cwd: string): Promise<Run> =>
  run("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], cwd);

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `capnweb-otp-${prefix}-`));
}

/** A fresh app folder with a package.json of its own. */
export async function makeApp(root: string, name: string, type: "module" | "commonjs" = "module"): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, type }, null, 2));
  return dir;
}

/** `npm pack` of the checkout (its `prepare` builds dist/); returns the tarball's path. */
export async function packCheckout(destination: string): Promise<string> {
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", destination, "--loglevel=error"], repoRoot);
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as { filename: string }[];
  return join(destination, packed!.filename);
}

/**
 * A script that uses the installed package as an application would: a server, a plain client,
 * and a supervised session, each checked. Written once, wrapped as ESM (import) or CJS (require).
 */
const SMOKE_BODY = `
  class Api extends CapnWeb.Target {
    square(x) { return x * x; }
    greet(name) { return "hello " + name; }
  }
  const server = await CapnWeb.serve({ host: "127.0.0.1", port: 0, main: () => new Api() });
  const api = await CapnWeb.connect(server.wsUrl);
  const squared = await api.square(7);
  const app = await CapnWeb.Supervisor.start([CapnWeb.Session.spec({ name: "smoke", url: server.wsUrl })]);
  const greeted = await CapnWeb.session("smoke").greet("otp");
  const batch = await CapnWeb.connect(server.url, { transport: "http" });
  const overHttp = await batch.square(3);
  CapnWeb.close(api);
  await app.close();
  await server.close();
  console.log(JSON.stringify({ squared, greeted, overHttp }));
`;

export const smokeEsm = `import * as CapnWeb from "capnweb-otp";\n${SMOKE_BODY}`;
export const smokeCjs = `const CapnWeb = require("capnweb-otp");\n(async () => {${SMOKE_BODY}})().catch((error) => { console.error(error); process.exitCode = 1; });\n`;
export const SMOKE_OUTPUT = { squared: 49, greeted: "hello otp", overHttp: 9 };

export async function runSmoke(appDir: string): Promise<{ esm: unknown; cjs: unknown }> {
  await writeFile(join(appDir, "smoke.mjs"), smokeEsm);
  await writeFile(join(appDir, "smoke.cjs"), smokeCjs);
  const esm = JSON.parse((await run(process.execPath, ["smoke.mjs"], appDir, 60_000)).stdout.trim());
  const cjs = JSON.parse((await run(process.execPath, ["smoke.cjs"], appDir, 60_000)).stdout.trim());
  return { esm, cjs };
}
