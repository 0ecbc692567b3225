import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoPath } from "../../src/io/paths.js";

/** A folder of fake commands that shadow the real ones on PATH. */
function shims(commands: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "saerch-shims-"));
  for (const [name, body] of Object.entries(commands)) {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
  }
  return dir;
}

describe("npm run setup", () => {
  it("as a non-root user with packages missing, prints the exact apt command and stops non-zero", () => {
    const dir = shims({ id: 'echo 1000', "dpkg-query": "exit 1" });
    const r = spawnSync("bash", [repoPath("scripts", "setup.sh")], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, SAERCH_SKIP_APT: "" },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      "sudo apt-get update && sudo apt-get install -y --no-install-recommends jupyter-notebook jupyter-nbconvert " +
        "python3-nbclient jupyter-client python3-ipykernel python3-numpy chromium",
    );
    expect(r.stderr).toContain("then: npm run setup");
  });

  it("refuses Node older than 20 with a clear message", () => {
    const dir = shims({ node: 'echo 18' });
    const r = spawnSync("bash", [repoPath("scripts", "setup.sh")], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Node >= 20 is required");
  });
});
