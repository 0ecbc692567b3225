import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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

  it("as a non-root user without Vulkan, prints the loader and the backports Mesa commands and stops non-zero", () => {
    // Every package but the Vulkan ones installed (whether this machine has a driver decides the Mesa line).
    const dir = shims({
      id: "echo 1000",
      "dpkg-query": 'case "$3" in libvulkan1|mesa-vulkan-drivers) exit 1;; *) echo "install ok installed";; esac',
    });
    const r = spawnSync("bash", [repoPath("scripts", "setup.sh")], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, SAERCH_SKIP_APT: "", SAERCH_SKIP_VULKAN: "" },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("the webgpu engine needs Vulkan");
    expect(r.stderr).toContain("sudo apt-get install -y libvulkan1");
    const driver = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"].some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith(".json")));
    if (!driver && /VERSION_CODENAME=bookworm/.test(readFileSync("/etc/os-release", "utf8"))) {
      expect(r.stderr).toContain("deb http://deb.debian.org/debian bookworm-backports main");
      expect(r.stderr).toContain("sudo apt-get install -y -t bookworm-backports mesa-vulkan-drivers");
    }
    expect(r.stderr).toContain("SAERCH_SKIP_VULKAN=1 npm run setup");
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
