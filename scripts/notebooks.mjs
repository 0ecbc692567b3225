// `npm run notebooks [-- <prefix>…]` — the build step runs first (see package.json).
import { notebooksMain } from "../dist/runtime/cli.js";

process.exitCode = notebooksMain(process.argv.slice(2));
