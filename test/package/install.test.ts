// The package as users install it: packed by `npm pack` (which runs `prepare`, the build),
// installed into fresh apps from the tarball, from the checkout's path and from a git URL, and
// run under plain `node` with both `import` and `require`. Its declarations are type-checked
// from an app with `skipLibCheck: false` under the node16, nodenext and bundler resolutions,
// the examples compile against them, and a helper's emitted declaration stays small.

import { cp, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HELPER, SURFACE } from "./consumer-sources.js";
import { SMOKE_OUTPUT, makeApp, npm, packCheckout, repoRoot, run, runSmoke, tempDir, versions } from "./helpers.js";
import { unexportedTypes } from "./public-types.js";
import { rm } from "node:fs/promises";
import { build } from "esbuild";

const SLOW = 300_000;
/** The bound on the helper's declaration: a few KB (it was 162 KB, or failed with TS7056). */
const HELPER_DECLARATION_MAX_BYTES = 2_048;

let work: string;
let tarball: string;
let app: string;

beforeAll(async () => {
  work = await tempDir("package");
  tarball = await packCheckout(work);
  app = await makeApp(work, "tarball-app");
  await npm(["install", tarball, `typescript@${versions.typescript}`, `@types/node@${versions.typesNode}`], app);
}, SLOW);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the tarball", () => {
  it("holds the build, its declaration maps, the license, the README and the examples, and no tests", async () => {
    const { stdout } = await run("tar", ["-tzf", tarball], work);
    const files = stdout.split("\n").filter(Boolean);
    for (const needed of [
      "package/dist/index.js",
      "package/dist/index.d.ts",
      "package/dist/index.d.ts.map",
      "package/dist/protocol/session.js",
      // The observer page's script, bundled by the build: an installed package serves it without esbuild.
      "package/dist/observer/observer-page.js",
      "package/src/index.ts",
      "package/LICENSE",
      "package/README.md",
      "package/examples/demo.ts",
      "package/package.json",
    ]) {
      expect(files).toContain(needed);
    }
    expect(files.filter((file) => file.startsWith("package/test/") || file.startsWith("package/bench/"))).toEqual([]);
  });

  it("runs a server, a client and a supervised session under plain node, through import and through require", async () => {
    const { esm, cjs } = await runSmoke(app);
    expect(esm).toEqual(SMOKE_OUTPUT);
    expect(cjs).toEqual(SMOKE_OUTPUT);
  }, SLOW);
});

describe("the observer page, from the tarball under plain node", () => {
  it("serves the page and its prebuilt script (the app has no esbuild)", async () => {
    const script = `
import * as CapnWeb from "capnweb-otp";
const app = await CapnWeb.Supervisor.start([], { name: "installed" });
const observer = await CapnWeb.observe(app);
const page = await (await fetch(observer.url)).text();
const bundle = await fetch(new URL("observer-page.js", observer.url));
const text = await bundle.text();
let esbuild = true;
try { await import("esbuild"); } catch { esbuild = false; }
console.log(JSON.stringify({ page: page.includes("observer-page.js"), status: bundle.status, bytes: text.length > 10000, esbuild }));
await observer.close();
await app.close();
`;
    await writeFile(join(app, "observer.mjs"), script);
    const { stdout } = await run(process.execPath, ["observer.mjs"], app, 60_000);
    expect(JSON.parse(stdout.trim())).toEqual({ page: true, status: 200, bytes: true, esbuild: false });
  }, SLOW);
});

describe("the declarations, from an app with skipLibCheck: false", () => {
  const resolutions = [
    { name: "node16", module: "node16", moduleResolution: "node16" },
    { name: "nodenext", module: "nodenext", moduleResolution: "nodenext" },
    { name: "bundler", module: "esnext", moduleResolution: "bundler" },
  ] as const;

  beforeAll(async () => {
    await writeFile(join(app, "surface.ts"), SURFACE);
    await writeFile(join(app, "helper.ts"), HELPER);
  });

  for (const { name, module, moduleResolution } of resolutions) {
    it(`type-check and emit declarations of the whole surface under ${name} resolution`, async () => {
      const config = `tsconfig.${name}.json`;
      await writeFile(
        join(app, config),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            lib: ["ES2022"],
            module,
            moduleResolution,
            types: ["node"],
            strict: true,
            skipLibCheck: false,
            declaration: true,
            outDir: `out-${name}`,
          },
          files: ["surface.ts", "helper.ts"],
        }),
      );
      await run(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", config], app);
      const helper = await readFile(join(app, `out-${name}`, "helper.d.ts"), "utf8");
      expect(helper).toContain("CapnWeb.Pipelined<User>");
    }, SLOW);
  }

  it(`a helper returning a pipelined call emits a declaration under ${HELPER_DECLARATION_MAX_BYTES} bytes`, async () => {
    const { size } = await stat(join(app, "out-nodenext", "helper.d.ts"));
    expect(size).toBeLessThan(HELPER_DECLARATION_MAX_BYTES);
  });

  it("every type a public signature mentions is exported, from the Node entry, the browser entry and the capnweb-compatible entry", () => {
    expect(unexportedTypes(join(app, "node_modules/capnweb-otp/dist/index.d.ts"))).toEqual([]);
    expect(unexportedTypes(join(app, "node_modules/capnweb-otp/dist/browser.d.ts"))).toEqual([]);
    expect(unexportedTypes(join(app, "node_modules/capnweb-otp/dist/capnweb.d.ts"))).toEqual([]);
  });

  it("the examples compile against the published types", async () => {
    const examples = join(app, "examples");
    await cp(join(repoRoot, "examples"), examples, { recursive: true });
    const files = (await readdir(examples)).filter((file) => file.endsWith(".ts")).map((file) => `examples/${file}`);
    expect(files.length).toBeGreaterThan(5);
    await writeFile(
      join(app, "tsconfig.examples.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2023", "ESNext.Disposable"],
          module: "nodenext",
          moduleResolution: "nodenext",
          types: ["node"],
          strict: true,
          skipLibCheck: false,
          noEmit: true,
        },
        files,
      }),
    );
    await run(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.examples.json"], app);
  }, SLOW);
});

describe("the export conditions", () => {
  it("a browser bundler resolves the browser entry: no ws, no server, no Node built-ins", async () => {
    await writeFile(join(app, "browser-app.js"), `import * as CapnWeb from "capnweb-otp";\nexport const connect = CapnWeb.connect, spec = CapnWeb.Session.spec;\n`);
    const result = await build({ entryPoints: [join(app, "browser-app.js")], absWorkingDir: app, bundle: true, platform: "browser", format: "esm", write: false, metafile: true, logLevel: "silent" });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.includes("capnweb-otp/dist/browser.js"))).toBe(true);
    expect(inputs.filter((input) => /node_modules\/ws\/|dist\/server\/|dist\/observer\/|dist\/transports\/websocket\.js/.test(input))).toEqual([]);
    expect(result.outputFiles[0]!.text).not.toMatch(/from\s*["']node:/);
  });

  it("Node resolves the Node entry, for import and for require", async () => {
    await writeFile(join(app, "which.cjs"), `console.log(typeof require("capnweb-otp").serve);\n`);
    await writeFile(join(app, "which.mjs"), `import * as CapnWeb from "capnweb-otp";\nconsole.log(typeof CapnWeb.serve);\n`);
    expect((await run(process.execPath, ["which.cjs"], app)).stdout.trim()).toBe("function");
    expect((await run(process.execPath, ["which.mjs"], app)).stdout.trim()).toBe("function");
  });
});

describe("other ways to install", () => {
  it("from the checkout's path", async () => {
    const pathApp = await makeApp(work, "path-app");
    await npm(["install", repoRoot], pathApp);
    const { esm, cjs } = await runSmoke(pathApp);
    expect(esm).toEqual(SMOKE_OUTPUT);
    expect(cjs).toEqual(SMOKE_OUTPUT);
  }, SLOW);

  it("from a git+file URL (the committed HEAD: npm clones it and runs its prepare)", async () => {
    const gitApp = await makeApp(work, "git-app");
    await npm(["install", `git+file://${repoRoot.replace(/\/$/, "")}`], gitApp);
    const installed = JSON.parse(await readFile(join(gitApp, "node_modules/capnweb-otp/package.json"), "utf8")) as { name: string };
    expect(installed.name).toBe("capnweb-otp");
    const { esm, cjs } = await runSmoke(gitApp);
    expect(esm).toEqual(SMOKE_OUTPUT);
    expect(cjs).toEqual(SMOKE_OUTPUT);
  }, SLOW);
});
