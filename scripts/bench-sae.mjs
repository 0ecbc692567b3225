// `npm run bench:sae [-- --engine onnx --d 1536 --n 8192 --k 32 --batch 1024 --steps 5 --stream overlap|sequential --json]`
// Without --engine: every engine at d = 1536, n = 8192, k = 32, B = 1024 on synthetic unit-norm rows and at
// the real 512-d shared embeddings (n = 4096), plus the dense PyTorch peer when python3-torch is installed.
// With --engine (and --json): one measurement, one JSON line. --stream gathers each batch from shuffled rows and
// streams it as training does, the next batch read and uploaded during the step (overlap) or after it (sequential).
// Measurements only: nothing here gates CI.
import { parseArgs } from "node:util";
import { benchSaeMain } from "../dist/sae/bench-cli.js";

const { values } = parseArgs({
  options: {
    engine: { type: "string" },
    d: { type: "string" },
    n: { type: "string" },
    k: { type: "string" },
    batch: { type: "string" },
    steps: { type: "string" },
    stream: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
process.exitCode = await benchSaeMain(values);
