// `npm run bench:paper-scale [-- --sizes 25000,270000 --steps 300 --n 9216 --encode-rows R --keep --json]`
// Peak RSS and wall time of each corpus-wide stage on a synthetic paper-scale store (270k × 1536 float32):
// the synthetic .npy written in chunks, adoption through the npy provider, notebook 01's statistics, SAE
// training, encoding and the family co-occurrence, each step in its own child process. Prints a table (or
// one JSON line with --json) and writes data/bench/paper-scale-<time>.json. Measurements only.
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { writeBenchRecord } from "../dist/tools/bench-record.js";
import { PaperScaleConfig, paperScaleChildMain, paperScaleTable, runPaperScale } from "../dist/tools/paper-scale.js";

const { values } = parseArgs({
  options: {
    sizes: { type: "string" },
    steps: { type: "string" },
    n: { type: "string" },
    k: { type: "string" },
    "encode-rows": { type: "string" },
    keep: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    child: { type: "string" },
    rows: { type: "string" },
    config: { type: "string" },
  },
});

if (values.child !== undefined) {
  await paperScaleChildMain(values.child, Number(values.rows), PaperScaleConfig.parse(JSON.parse(values.config ?? "{}")));
} else {
  const input = {};
  if (values.sizes !== undefined) input.sizes = values.sizes.split(",").map(Number);
  if (values.steps !== undefined) input.steps = Number(values.steps);
  if (values.n !== undefined) input.n = Number(values.n);
  if (values.k !== undefined) input.k = Number(values.k);
  if (values["encode-rows"] !== undefined) input.encodeRows = Number(values["encode-rows"]);
  if (values.keep) input.keep = true;
  const cfg = PaperScaleConfig.parse(input);
  const startedAt = new Date().toISOString();
  const results = runPaperScale(cfg, fileURLToPath(import.meta.url), (r) => {
    if (!values.json) process.stderr.write(`${r.step} N=${r.rows}: ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMB} MB ${JSON.stringify(r.details)}\n`);
  });
  const { path } = writeBenchRecord("paper-scale", { config: cfg, figures: results, startedAt });
  if (values.json) console.log(JSON.stringify({ config: cfg, results }));
  else console.log(`${paperScaleTable(results)}\n\nrecord: ${path}`);
}
