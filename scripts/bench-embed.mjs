// `npm run bench:embed`: documents/s of the offline embedding providers on this machine and the embedding
// store's write/read throughput. Prints a table and the targets (USE-lite 2 workers ≥ 1.8× 1 worker;
// store read ≥ 1 GB/s from the page cache). Writes data/bench/embed-<timestamp>.json. Not a test: nothing
// here gates CI.
import { availableParallelism } from "node:os";
import { benchStore, benchUseLite, readBenchTexts } from "../dist/embed/bench-providers.js";
import { displayPath } from "../dist/io/paths.js";
import { writeBenchRecord } from "../dist/tools/bench-record.js";

const startedAt = new Date().toISOString();
const useLite = [];

const texts = await readBenchTexts(256);
const rows = [];
for (const workers of [1, Math.min(2, availableParallelism())]) {
  const r = await benchUseLite({ texts, workers, backend: "onnx" });
  useLite.push({ backend: "onnx", workers, texts: texts.length, ...r });
  rows.push({ provider: "use-lite (onnx)", workers, "docs/s": r.docsPerSecond.toFixed(1), "cores busy": r.coresBusy.toFixed(2) });
}
const wasm = await benchUseLite({ texts: texts.slice(0, 64), workers: 1, backend: "tfjs-wasm" });
useLite.push({ backend: "tfjs-wasm", workers: 1, texts: 64, ...wasm });
rows.push({ provider: "use-lite (tfjs-wasm, reference)", workers: 1, "docs/s": wasm.docsPerSecond.toFixed(1), "cores busy": wasm.coresBusy.toFixed(2) });
console.log(`embedding ${texts.length} real abstracts (title + abstract), batch 16:`);
console.table(rows);
const speedup = Number(rows[1]["docs/s"]) / Number(rows[0]["docs/s"]);
console.log(`use-lite 2 workers / 1 worker: ${speedup.toFixed(2)}x (target ≥ 1.8x)`);
console.log("transformers: no local ONNX model is shipped (none can be downloaded here), so it is not timed");

const s = await benchStore(25_662, 512);
console.log(`\nembedding store, ${s.rows} × ${s.dim} float32:`);
console.table([
  { operation: "write (embedToStore, instant embedder)", throughput: `${Math.round(s.writeRowsPerSecond).toLocaleString("en-US")} rows/s` },
  { operation: "sequential read (rows)", throughput: `${(s.readBytesPerSecond / 1e9).toFixed(2)} GB/s` },
  { operation: "shuffled batches, B = 1024", throughput: `${Math.round(s.batchRowsPerSecond).toLocaleString("en-US")} rows/s` },
]);
console.log(`store read target ≥ 1 GB/s: ${s.readBytesPerSecond >= 1e9 ? "met" : "NOT met"}`);

const { path } = writeBenchRecord("embed", {
  config: { texts: texts.length, useLite: useLite.map(({ backend, workers, texts: n }) => ({ backend, workers, texts: n })), store: { rows: 25_662, dim: 512 } },
  figures: { useLite, useLiteSpeedup2Over1: speedup, store: s },
  startedAt,
});
console.log(`\nrecorded in ${displayPath(path)}`);
