// `npm test [-- vitest args]`: runs vitest, then prints the plain summary line `N passed, N failed` that
// CI reads (vitest's own summary is not recognised there). Exit code: vitest's.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "saerch-vitest-"));
const report = join(dir, "report.json");
const vitest = join(import.meta.dirname, "..", "node_modules", "vitest", "vitest.mjs");
const r = spawnSync(
  process.execPath,
  [vitest, "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: "inherit" },
);
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const json = JSON.parse(readFileSync(report, "utf8"));
  passed = json.numPassedTests;
  // A file that failed to load has no test results: count it as one failure so it cannot pass silently.
  const brokenFiles = json.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0);
  failed = json.numFailedTests + brokenFiles.length;
  skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
} catch {
  failed = 1; // vitest did not produce a report: count the run itself as one failure
}
rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exitCode = r.status ?? 1;
