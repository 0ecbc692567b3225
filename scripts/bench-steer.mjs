// `npm run bench:steer [-- --queries 256 --warmup 20 --only "100k × 512" --no-real --no-large --no-f16 --no-onnx --json]`
// Latency of one steered query end to end (encodeTopK → q' = q + s·d_f → exact top-10 over every indexed row)
// on the real shared store (25k × 512) and on seeded synthetic rows at N = 100k and 1M, d = 512 and 1536,
// float32 and float16, against the memory-bandwidth bound (best read of the stored matrix), with the
// onnxruntime candidates timed on the float32 cases up to 100k rows; each case in its own child process
// (`--case`, internal). Writes data/bench/steer-<timestamp>.json. Measurements only: nothing here gates CI.
import { parseArgs } from "node:util";
import { benchSteerMain } from "../dist/steer/bench-cli.js";

const { values } = parseArgs({
  options: {
    queries: { type: "string" },
    warmup: { type: "string" },
    k: { type: "string" },
    seed: { type: "string" },
    threads: { type: "string" },
    strength: { type: "string" },
    only: { type: "string" },
    "no-real": { type: "boolean", default: false },
    "no-large": { type: "boolean", default: false },
    "no-f16": { type: "boolean", default: false },
    "no-onnx": { type: "boolean", default: false },
    "in-process": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    out: { type: "string" },
    case: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
process.exitCode = await benchSteerMain(values);
