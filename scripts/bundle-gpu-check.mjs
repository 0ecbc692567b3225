// `npm run bundle:gpu-check [-- --out <folder>]`: one self-contained folder for GPU nodes without internet or
// npm: gpu-check.mjs (the webgpu engine, the naive reference and the checks of src/sae/webgpu/gpu-check.ts,
// bundled by esbuild), the Linux x64 Dawn binary beside it, and a README. Copy the folder anywhere and run
// `node gpu-check.mjs` (Node >= 20 and the GPU's Vulkan driver; nothing else): one JSON line per check.
// `node gpu-check.mjs --bench d,n,k,batch,steps` sets the benchmark shape (default the paper's 1536,9216,64,1024,5).
import { copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { out: { type: "string", default: join(ROOT, "data", "gpu-check") } } });
const OUT = resolve(values.out);
const require = createRequire(import.meta.url);
const DAWN = join(dirname(require.resolve("webgpu/package.json")), "dist", "linux-x64", "dawn.node");

const ENTRY = `
import { runGpuChecks } from ${JSON.stringify(join(ROOT, "src", "sae", "webgpu", "gpu-check.ts"))};
const i = process.argv.indexOf("--bench");
const bench = i > 0 ? Object.fromEntries(["d", "n", "k", "batch", "steps"].map((key, j) => [key, Number(process.argv[i + 1].split(",")[j])])) : undefined;
const records = await runGpuChecks({ bench, onRecord: (r) => console.log(JSON.stringify(r)) });
process.exitCode = records.every((r) => r.ok) ? 0 : 1;
`;

rmSync(OUT, { recursive: true, force: true });
mkdirSync(join(OUT, "dist", "linux-x64"), { recursive: true });
await build({
  stdin: { contents: ENTRY, resolveDir: ROOT, loader: "ts", sourcefile: "gpu-check-entry.ts" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outfile: join(OUT, "gpu-check.mjs"),
  // The bundle loads CommonJS pieces (debug, …) through require: give the ES module one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  // Not reached by the checks (loaded lazily by modules they import); keeps the bundle free of other natives.
  external: ["onnxruntime-node", "@tensorflow/*", "playwright-core"],
  logLevel: "warning",
});
// webgpu's index.js loads dist/<platform>-<arch>/dawn.node next to the importing file: here, the bundle.
copyFileSync(DAWN, join(OUT, "dist", "linux-x64", "dawn.node"));
writeFileSync(
  join(OUT, "README.txt"),
  `saerch-ts GPU check — runs with Node >= 20 and the GPU's Vulkan driver (libvulkan1 + the vendor ICD), nothing else.

  node gpu-check.mjs                          # adapter, equivalence with the naive reference, determinism, benchmark
  node gpu-check.mjs --bench 1536,9216,64,1024,5   # benchmark shape: d,n,k,batch,steps

One JSON line per check ({"check": ..., "ok": true|false, ...}); the exit code is 0 when every check passed.
`,
);
const mb = (p) => statSync(p).size / 2 ** 20;
const total = mb(join(OUT, "gpu-check.mjs")) + mb(join(OUT, "dist", "linux-x64", "dawn.node"));
console.log(`wrote ${OUT} (${total.toFixed(1)} MiB: gpu-check.mjs ${mb(join(OUT, "gpu-check.mjs")).toFixed(2)} MiB + dawn.node)`);
