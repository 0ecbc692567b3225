/**
 * The trained SAE's weights hash (src/sae/weights-hash.ts): recorded at training, checked when the run is
 * reopened — by the SAE stage itself and by every later stage — so another SAE's `sae.safetensors` in a
 * finished run is refused with the file and the fix; codes of other weights are encoded again.
 */
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace } from "../../src/core/vector.js";
import { adoptNpy } from "../../src/embed/adopt-npy.js";
import { DOMAINS_FILE } from "../../src/embed/stage.js";
import { EmbeddingStore } from "../../src/embed/store-reader.js";
import { sha256Hex } from "../../src/io/identity.js";
import { writeNpy } from "../../src/io/npy.js";
import { CODES_MARKER_FILE, codesProblem } from "../../src/sae/encode.js";
import { runSaeStage, type SaeDomainResult } from "../../src/sae/stage.js";
import { readWeightsRecord, SAE_WEIGHTS_FILE, verifiedWeightsHash, WEIGHTS_RECORD_FILE, WeightsMismatchError } from "../../src/sae/weights-hash.js";
import { useTempDataDir } from "../helpers/temp-data.js";

const root = useTempDataDir("saerch-weights-hash-");
const D = 8;
const ROWS = 120;
const SIZES = { n: 12, k: 2, steps: 10, batch: 16, checkpointEvery: 5, logEvery: 5 };

describe("weights hash", () => {
  let store: EmbeddingStore;
  let sae: SaeDomainResult;
  let other: SaeDomainResult;

  beforeAll(async () => {
    const embND = new Float32Array(ROWS * D);
    new Rng("weights-hash").fillNormalInPlace(embND);
    normalizeRowsInPlace(embND, ROWS, D);
    writeNpy(join(root, "e.npy"), embND, [ROWS, D]);
    const ids = Array.from({ length: ROWS }, (_, i) => `d${i}`);
    writeFileSync(join(root, "ids.json"), JSON.stringify(ids));
    adoptNpy({ embeddingsPath: join(root, "e.npy"), idsPath: join(root, "ids.json"), dir: join(root, "store"), model: "synthetic" });
    writeFileSync(join(root, "store", DOMAINS_FILE), JSON.stringify(ids.map(() => "x")));
    store = EmbeddingStore.open(join(root, "store"));
    [sae] = (await runSaeStage(store, ["x"], SIZES)) as [SaeDomainResult];
    [other] = (await runSaeStage(store, ["x"], { ...SIZES, seed: 1 })) as [SaeDomainResult];
  });

  it("training records the SHA-256 of sae.safetensors, and the codes record the same weights", () => {
    const sha = sha256Hex(readFileSync(join(sae.dir, SAE_WEIGHTS_FILE)));
    expect(readWeightsRecord(sae.dir)?.sha256).toBe(sha);
    expect(sae.weightsSha256).toBe(sha);
    expect(verifiedWeightsHash(sae.dir)).toBe(sha);
    expect((JSON.parse(readFileSync(join(sae.dir, CODES_MARKER_FILE), "utf8")) as { weights: string }).weights).toBe(sha);
    expect(other.weightsSha256).not.toBe(sha);
  });

  it("a finished run whose sae.safetensors was swapped for another SAE's is refused on reopen, naming the file and the fix", async () => {
    const path = join(sae.dir, SAE_WEIGHTS_FILE);
    const own = readFileSync(path);
    copyFileSync(join(other.dir, SAE_WEIGHTS_FILE), path);
    try {
      expect(() => verifiedWeightsHash(sae.dir)).toThrow(WeightsMismatchError);
      await expect(runSaeStage(store, ["x"], SIZES)).rejects.toThrow(new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not the SAE trained in this run[\\s\\S]*fix: restore this run's own sae\\.safetensors`));
    } finally {
      writeFileSync(path, own);
    }
    const [reopened] = await runSaeStage(store, ["x"], SIZES);
    expect(reopened!.resumed).toBe(true);
    expect(reopened!.weightsSha256).toBe(sae.weightsSha256);
  });

  it("a run trained before weights were recorded is checked against its checkpoint, then recorded", async () => {
    rmSync(join(sae.dir, WEIGHTS_RECORD_FILE));
    const path = join(sae.dir, SAE_WEIGHTS_FILE);
    const own = readFileSync(path);
    copyFileSync(join(other.dir, SAE_WEIGHTS_FILE), path);
    await expect(runSaeStage(store, ["x"], SIZES)).rejects.toThrow(/tensors differ from the run's final checkpoint/);
    writeFileSync(path, own);
    const [reopened] = await runSaeStage(store, ["x"], SIZES);
    expect(readWeightsRecord(sae.dir)?.sha256).toBe(reopened!.weightsSha256);
  });

  it("codes recorded for other weights are a problem, so the stage encodes them again", () => {
    const expected = { count: sae.rows.length, k: SIZES.k };
    expect(codesProblem(sae.dir, { ...expected, weightsSha256: sae.weightsSha256 })).toBeUndefined();
    expect(codesProblem(sae.dir, { ...expected, weightsSha256: other.weightsSha256 })).toMatch(/codes were made by weights/);
  });
});
