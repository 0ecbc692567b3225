// `npm run tune:baseline [-- --profile default --seed 7 --features 150 --validation-features 150 --objective f1+pearson --json]`
// Tunes the offline baseline's parameters on seed-7 SAEs (the profile's stage-2 config with another seed), so
// the scores reported for the seed-0 stage-2 and sweep SAEs come from parameters fitted elsewhere. Writes
// data/tune-baseline/<runId>/tuning.json.
import { parseArgs } from "node:util";
import { tuneBaselineMain } from "../dist/interpret/tune-baseline-stage.js";

const { values } = parseArgs({
  options: {
    profile: { type: "string" },
    seed: { type: "string" },
    features: { type: "string" },
    "validation-features": { type: "string" },
    objective: { type: "string" },
    rounds: { type: "string" },
    force: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
process.exitCode = await tuneBaselineMain(values);
