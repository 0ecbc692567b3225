// `npm run notebooks [-- <prefix>…]` — the build step runs first (see package.json).
import { notebooksMain } from "../dist/tools/cli.js";

process.exitCode = notebooksMain(process.argv.slice(2));
