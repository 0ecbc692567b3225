/**
 * A stage test's private data folder: a fresh temp root whose `data/` is SAERCH_DATA while the file's tests
 * run (progress output on stderr silenced), restored and removed afterwards.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, vi } from "vitest";

/**
 * Register the beforeAll/afterAll hooks and return the temp root.
 * @param prefix temp folder name prefix, e.g. "saerch-steer-stage-"
 */
export function useTempDataDir(prefix: string): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const savedData = process.env.SAERCH_DATA;
  beforeAll(() => {
    process.env.SAERCH_DATA = join(root, "data");
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  });
  afterAll(() => {
    vi.restoreAllMocks();
    if (savedData === undefined) delete process.env.SAERCH_DATA;
    else process.env.SAERCH_DATA = savedData;
    rmSync(root, { recursive: true, force: true });
  });
  return root;
}
