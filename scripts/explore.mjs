// `npm run explore [-- --run <dir> --port 8450 --host 127.0.0.1 --profile default --force --no-web]`: build the
// front end and the explorer database if needed, then serve the explorer on 127.0.0.1 (src/explore/cli.ts).
import { parseArgs } from "node:util";
import { exploreMain } from "../dist/explore/cli.js";

const { values } = parseArgs({
  options: {
    run: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    profile: { type: "string" },
    force: { type: "boolean", default: false },
    "no-web": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
process.exitCode = await exploreMain(values);
