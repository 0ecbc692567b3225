// `npm run build:web [-- --force | --watch]`: bundles the explorer's front end (src/explore/web) with esbuild
// into dist/explore/web/: index.html, app.js (an ES module; the maps' WebGL code is split into a chunk loaded
// on first use), app.css, and plotly.min.js copied from node_modules (loaded by the pages that draw charts):
// plotly's cartesian bundle (bar, scatter, heatmap and the other 2-D traces; 1.4 MB instead of the full 4.8 MB,
// which took most of a chart page's load in a cold browser).
// No CDN: everything the page loads comes from this folder. A rerun with nothing changed does nothing
// (sources and this script are compared by modification time with a stamp file), so the server and the
// browser tests can call it on every start.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src", "explore", "web");
const OUT = join(ROOT, "dist", "explore", "web");
/** Dot-named, so the server (which skips dotfiles) never serves it. */
const STAMP = join(OUT, ".build-stamp");
/** Inputs besides src/explore/web: the API contract the pages import, and this script. */
const EXTRA_INPUTS = [join(ROOT, "src", "explore", "api.ts"), fileURLToPath(import.meta.url)];
const OUTPUTS = ["index.html", "app.js", "app.css", "plotly.min.js"];
const require = createRequire(import.meta.url);
const PLOTLY = require.resolve("plotly.js-cartesian-dist-min/plotly-cartesian.min.js");

/** Newest modification time (ms) of the files under `dir`. */
function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** True when every output exists and the stamp is newer than every input. */
function upToDate() {
  if (!existsSync(STAMP) || OUTPUTS.some((name) => !existsSync(join(OUT, name)))) return false;
  const newest = Math.max(newestMtime(SRC), ...EXTRA_INPUTS.map((p) => statSync(p).mtimeMs), statSync(PLOTLY).mtimeMs);
  return newest < statSync(STAMP).mtimeMs;
}

/** esbuild options shared by a one-off build and --watch. */
function esbuildOptions() {
  return {
    entryPoints: { app: join(SRC, "app.ts"), "app-style": join(SRC, "app.css") },
    outdir: OUT,
    bundle: true,
    format: "esm",
    splitting: true,
    platform: "browser",
    target: ["es2022", "chrome110", "firefox110", "safari16"],
    minify: true,
    sourcemap: "linked",
    chunkNames: "chunk-[hash]",
    legalComments: "linked",
    logLevel: "warning",
    metafile: true,
  };
}

/** Copy the static files beside the bundle (index.html, plotly) and rename the CSS output to app.css. */
function finish() {
  copyFileSync(join(SRC, "index.html"), join(OUT, "index.html"));
  const plotlyOut = join(OUT, "plotly.min.js");
  if (!existsSync(plotlyOut) || statSync(plotlyOut).size !== statSync(PLOTLY).size) copyFileSync(PLOTLY, plotlyOut);
  for (const ext of [".css", ".css.map"]) {
    const from = join(OUT, `app-style${ext}`);
    if (!existsSync(from)) continue;
    writeFileSync(join(OUT, `app${ext}`), readFileSync(from, "utf8").replace("app-style.css.map", "app.css.map"));
    rmSync(from);
  }
  // A CSS entry point in a splitting build also emits a small JS stub; the page never loads it.
  for (const stub of ["app-style.js", "app-style.js.map"]) rmSync(join(OUT, stub), { force: true });
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}

/** Empty the output folder (it is this script's alone), keeping the big plotly copy when it is current. */
function clean() {
  mkdirSync(OUT, { recursive: true });
  for (const name of readdirSync(OUT)) {
    if (name === "plotly.min.js" && statSync(join(OUT, name)).size === statSync(PLOTLY).size) continue;
    rmSync(join(OUT, name), { recursive: true, force: true });
  }
}

/** Remove chunks of earlier builds that this build did not write. */
function removeStaleChunks(metafile) {
  const current = new Set(Object.keys(metafile.outputs).map((p) => p.split("/").pop()));
  for (const name of readdirSync(OUT)) {
    if (/^chunk-[A-Z0-9]+\.js(\.map)?$/.test(name) && !current.has(name)) rmSync(join(OUT, name));
  }
}

/**
 * Build the front end unless it is up to date.
 * @param {{ force?: boolean }} [opts]
 * @returns {Promise<{ built: boolean, ms: number }>}
 */
export async function buildWeb(opts = {}) {
  const t0 = performance.now();
  if (!opts.force && upToDate()) return { built: false, ms: performance.now() - t0 };
  const esbuild = await import("esbuild");
  clean();
  const result = await esbuild.build(esbuildOptions());
  removeStaleChunks(result.metafile);
  finish();
  return { built: true, ms: performance.now() - t0 };
}

/** Rebuild on every change under src/explore/web (esbuild's incremental context). */
async function watch() {
  const esbuild = await import("esbuild");
  clean();
  const plugin = {
    name: "finish",
    setup(build) {
      build.onEnd((result) => {
        if (result.errors.length > 0) return;
        removeStaleChunks(result.metafile);
        finish();
        console.log(`build:web: rebuilt at ${new Date().toLocaleTimeString()}`);
      });
    },
  };
  const ctx = await esbuild.context({ ...esbuildOptions(), plugins: [plugin] });
  await ctx.watch();
  console.log(`build:web: watching ${SRC}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes("--watch")) {
    await watch();
  } else {
    const { built, ms } = await buildWeb({ force: args.includes("--force") });
    console.log(built ? `build:web: dist/explore/web built in ${ms.toFixed(0)} ms` : "build:web: dist/explore/web is up to date");
  }
}
