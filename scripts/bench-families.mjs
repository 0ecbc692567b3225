// `npm run bench:families [-- --docs 100000 --small-docs 25000 --n 9216 --k 64 --seed 0 --no-real --json]`
// Wall time and peak RSS of the whole family build (co-occurrence streamed from .npy, candidate edges, 4
// forest rounds, recursion, dedupe) on seeded synthetic codes at N = 100k and 25k and on the real stage-2
// codes under data/sae when present, each case in its own child process (`--case`, internal).
// Writes data/bench/families-<timestamp>.json. Measurements only: nothing here gates CI.
import { parseArgs } from "node:util";
import { benchFamiliesMain } from "../dist/families/bench-cli.js";

const { values } = parseArgs({
  options: {
    docs: { type: "string" },
    "small-docs": { type: "string" },
    n: { type: "string" },
    k: { type: "string" },
    seed: { type: "string" },
    "no-real": { type: "boolean", default: false },
    "in-process": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    out: { type: "string" },
    case: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
process.exitCode = benchFamiliesMain(values);
