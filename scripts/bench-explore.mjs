// `npm run bench:explore [-- --requests 200 --domain astro-ph --socket --json --out <file> --no-pages --screenshots]`: server-side latency
// of POST /api/search (a new query) and of a slider change (same query, one feature moved), p50/p95 over 200
// requests each, on the default run, then each page's time to first paint and to interactive in Chromium, cold
// (src/explore/bench.ts). Writes data/bench/explore-<timestamp>.json.
// Measurements only: nothing here gates CI.
import { parseArgs } from "node:util";
import { benchExploreMain } from "../dist/explore/bench.js";

const { values } = parseArgs({
  options: {
    requests: { type: "string" },
    domain: { type: "string" },
    socket: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    out: { type: "string" },
    "no-pages": { type: "boolean", default: false },
    screenshots: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
process.exitCode = await benchExploreMain(values);
