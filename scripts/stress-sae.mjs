// `npm run stress:sae -- --runs N [--load] [--jitter MS] [--late-notify MS] [--shape small|tiny] [--threads T] [--steps S] [--seed S] [--json]`
// Many short trainings of the onnx engine on two kernel threads, each checked against a repeat of its seed
// (bit-identical) and against one thread; exits 1 when any run failed or mismatched (src/sae/stress.ts).
// The JSON line carries `stateHash`, a hash of the trained states: run `npm run build` once, then
// `node --liftoff-only scripts/stress-sae.mjs …` and `node --no-liftoff scripts/stress-sae.mjs …` must print the same.
import { parseArgs } from "node:util";
import { stressSaeMain } from "../dist/sae/stress-cli.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string" },
    load: { type: "boolean", default: false },
    jitter: { type: "string" },
    "late-notify": { type: "string" },
    shape: { type: "string" },
    threads: { type: "string" },
    steps: { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
process.exitCode = await stressSaeMain({ ...values, lateNotify: values["late-notify"] });
