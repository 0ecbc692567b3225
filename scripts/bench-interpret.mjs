// `npm run bench:interpret [-- --latency-ms 250 --concurrency 1,4,16 --features 8,32,128 --quick --json]`
// Labelling throughput of the real LLM path (labelFeatures → LlmScorer → budget → cache → HTTP client) against
// a local OpenAI-compatible server with a SIMULATED per-request latency, at several client concurrencies; then
// the cost of labelling the paper's SAE16/32/64 in both domains with GPT-4o + GPT-4o-mini at list prices.
// Writes data/bench/interpret-<timestamp>.json. Measurements only: nothing here gates CI.
import { parseArgs } from "node:util";
import { benchInterpretMain } from "../dist/interpret/bench-cli.js";

const { values } = parseArgs({
  options: {
    "latency-ms": { type: "string" },
    concurrency: { type: "string" },
    features: { type: "string" },
    docs: { type: "string" },
    domain: { type: "string" },
    seed: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    out: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
process.exitCode = await benchInterpretMain(values);
