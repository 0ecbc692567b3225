// `npm run explore:build [-- --profile default --force --no-maps]`: build (or confirm up to date) the default
// run's explorer database, data/explore/<runId>/explorer.sqlite (src/explore/cli.ts).
import { parseArgs } from "node:util";
import { exploreBuildMain } from "../dist/explore/cli.js";

const { values } = parseArgs({
  options: {
    profile: { type: "string" },
    force: { type: "boolean", default: false },
    "no-maps": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
process.exitCode = await exploreBuildMain(values);
