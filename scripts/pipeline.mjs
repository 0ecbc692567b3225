// `npm run pipeline` — the main job: build, then every stage notebook in order at PROFILE (default "default").
import { pipelineMain } from "../dist/tools/cli.js";

process.exitCode = pipelineMain();
