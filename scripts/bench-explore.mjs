// `npm run bench:explore [-- --requests 200 --domain astro-ph --socket --json --out <file>]`: server-side latency
// of POST /api/search (a new query) and of a slider change (same query, one feature moved), p50/p95 over 200
// requests each, on the default run (src/explore/bench.ts). Writes data/bench/explore-<timestamp>.json.
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
    help: { type: "boolean", default: false },
  },
});
process.exitCode = await benchExploreMain(values);
