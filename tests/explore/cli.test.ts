/**
 * Tests for src/explore/cli.ts's `--run` path: serving an explorer database built earlier, with the store
 * and SAE weights found from the directories its meta table records, and a stale database served with the
 * reason in /api/domains (the pages show it) instead of failing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { DomainsResponse } from "../../src/explore/api.js";
import { openRunDir } from "../../src/explore/cli.js";
import { SAE_WEIGHTS_FILE } from "../../src/explore/inputs.js";
import { ensureExplorerDb } from "../../src/explore/run.js";
import { createExplorerApp } from "../../src/explore/server.js";
import { writeNpy } from "../../src/io/npy.js";
import { saveSaeWeights } from "../../src/sae/checkpoint.js";
import { CODES_VALUES_FILE } from "../../src/sae/encode.js";
import { type Fixture, fixtureInputs } from "./fixture.js";

const root = mkdtempSync(join(tmpdir(), "saerch-explore-cli-"));
const savedData = process.env.SAERCH_DATA;
let fx: Fixture;

beforeAll(async () => {
  process.env.SAERCH_DATA = join(root, "data");
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  fx = await fixtureInputs(join(root, "data", "run"));
  const d = fx.inputs.domains[0]!;
  saveSaeWeights(join(d.saeDir, SAE_WEIGHTS_FILE), d.params, { k: d.k });
});
afterAll(() => {
  vi.restoreAllMocks();
  if (savedData === undefined) delete process.env.SAERCH_DATA;
  else process.env.SAERCH_DATA = savedData;
  rmSync(root, { recursive: true, force: true });
});

describe("openRunDir (npm run explore -- --run <dir>)", () => {
  it("serves a built database from its recorded directories, and says when it is stale", async () => {
    const { path } = await ensureExplorerDb(fx.inputs, { embedder: fx.embedder, progress: false, maps: false });
    const search = async (app: ReturnType<typeof createExplorerApp>) =>
      (await app.request("/api/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ domain: "x", query: "galaxy cluster" }) })).status;

    let opened = await openRunDir(dirname(path), fx.embedder, undefined);
    let app = createExplorerApp(opened.ctx);
    let d = (await (await app.request("/api/domains")).json()) as DomainsResponse;
    expect(d.stale).toBeUndefined();
    expect(d.domains[0]!.domain).toBe("x");
    expect(await search(app)).toBe(200);
    await opened.close();

    const dom = fx.inputs.domains[0]!;
    writeNpy(join(dom.saeDir, CODES_VALUES_FILE), dom.codes.values.map((v) => v + 0.01), [dom.rows.length, dom.k]);
    opened = await openRunDir(path, fx.embedder, undefined);
    app = createExplorerApp(opened.ctx);
    d = (await (await app.request("/api/domains")).json()) as DomainsResponse;
    expect(d.stale).toBe("the artefacts this database was built from have changed since: run npm run explore:build");
    expect(await search(app)).toBe(200);
    await opened.close();
  });

  it("names the fix for a folder without a database", async () => {
    await expect(openRunDir(join(root, "nothing"), fx.embedder, undefined)).rejects.toThrow(/no explorer database in .*\n {2}fix: pass a data\/explore\/<runId> folder/);
  });
});
