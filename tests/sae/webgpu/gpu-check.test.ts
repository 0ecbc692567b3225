/**
 * `npm run bundle:gpu-check` (scripts/bundle-gpu-check.mjs, src/sae/webgpu/gpu-check.ts): the folder it writes
 * is under 60 MiB, and copied to a place with no node_modules it runs with plain node — adapter, every
 * equivalence check passing, the benchmark — one JSON line per check.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoPath } from "../../../src/io/paths.js";
import { GPU_TEST_TIMEOUT_MS, noAdapter } from "./gpu-available.js";

const tmp = mkdtempSync(join(tmpdir(), "saerch-gpu-check-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(noAdapter !== undefined)("bundle:gpu-check", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it("writes a self-contained folder that runs from a copy with nothing but node", () => {
    const out = join(tmp, "bundle");
    const built = spawnSync(process.execPath, [repoPath("scripts", "bundle-gpu-check.mjs"), "--out", out], { encoding: "utf8" });
    expect(built.status, built.stderr).toBe(0);
    const bytes = ["gpu-check.mjs", join("dist", "linux-x64", "dawn.node")].reduce((s, f) => s + statSync(join(out, f)).size, 0);
    expect(bytes).toBeLessThan(60 * 2 ** 20);
    const copy = join(tmp, "elsewhere", "gpu-check");
    cpSync(out, copy, { recursive: true });
    const r = spawnSync(process.execPath, ["gpu-check.mjs", "--bench", "16,48,4,8,1"], { cwd: copy, encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const records = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { check: string; ok: boolean; note?: string; software?: boolean });
    expect(records.map((x) => x.check)).toEqual([
      "adapter",
      "equivalence: d7 n13 k3 kAux5, latents dying",
      "equivalence: k = 1",
      "equivalence: dead from the start, short and long batches",
      "equivalence: past one workgroup and GEMM tile",
      "bench",
    ]);
    expect(records.every((x) => x.ok)).toBe(true);
    if (records[0]!.software) expect(records.at(-1)!.note).toMatch(/correctness run/);
  });
});
