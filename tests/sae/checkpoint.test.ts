/**
 * Tests for src/sae/checkpoint.ts: the released tensor layout (read back by a 10-line numpy reader that
 * recomputes x̂ the PyTorch way), exact round trips of weights, Adam state and dead counters, and the commit
 * protocol (newest complete directory wins; interrupted saves are ignored and cleaned up).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FormatError, SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from "../../src/io/safetensors.js";
import {
  type Checkpoint,
  configDifferences,
  listCheckpoints,
  loadCheckpoint,
  loadSaeWeights,
  rowsDigest,
  saeConfigHash,
  saveCheckpoint,
  saveSaeWeights,
} from "../../src/sae/checkpoint.js";
import { resolveSaeConfig } from "../../src/sae/config.js";
import { decodeSparse, encodeTopK } from "../../src/sae/model.js";
import { initSaeParams, type SaeParams, zeroAdamState } from "../../src/sae/params.js";

const PYTHON = "/usr/bin/python3";
const hasNumpy = spawnSync(PYTHON, ["-c", "import numpy"]).status === 0;

const D = 6;
const N = 10;
const K = 3;
const CONFIG = resolveSaeConfig({ d: D, n: N, k: K, steps: 100, batch: 8 }, 64);

/** Parameters with unit-norm decoder rows and non-trivial encoder and biases (not tied). */
function someParams(seed = 1): SaeParams {
  const rng = new Rng(seed);
  const sampleRD = new Float32Array(20 * D);
  rng.fillNormalInPlace(sampleRD);
  const p = initSaeParams(D, N, sampleRD, seed);
  rng.fillNormalInPlace(p.wEncFD, 0, 0.5);
  rng.fillNormalInPlace(p.bLatF, 0, 0.1);
  return p;
}

/** A checkpoint at `step` with random Adam moments and dead counters beyond 2^24 (and 2^32). */
function someCheckpoint(step: number, seed = 1): Checkpoint {
  const params = someParams(seed);
  const adam = zeroAdamState(D, N);
  const rng = new Rng(seed + 100);
  for (const mom of [adam.m, adam.v]) for (const buf of Object.values(mom)) rng.fillNormalInPlace(buf);
  adam.t = step;
  const sinceFiredF = Float64Array.from({ length: N }, (_, j) => (j === 0 ? 2 ** 40 + 3 : j === 1 ? 2 ** 24 + 1 : j * 8));
  return {
    config: CONFIG,
    state: { params, adam, sinceFiredF },
    position: { step, epoch: Math.floor(step / 8), batch: step % 8, examples: step * 8, elapsedSeconds: 1.5 },
    data: { embedderId: "npy:synthetic:6", storeCount: 64, dim: D, rows: 64, rowsDigest: "abc" },
    configHash: saeConfigHash(CONFIG),
  };
}

const bytes = (a: Float32Array | Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectSameParams(a: SaeParams, b: SaeParams): void {
  expect([a.d, a.n]).toEqual([b.d, b.n]);
  for (const key of ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const) expect(bytes(a[key]).equals(bytes(b[key])), key).toBe(true);
}

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-ckpt-"));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("saveSaeWeights / loadSaeWeights", () => {
  it("writes the released names, shapes and F32 with metadata, and reads back bit for bit", () => {
    const p = someParams();
    const path = join(tmp, "sae.safetensors");
    saveSaeWeights(path, p, { k: K, config: CONFIG });
    const h = readSafetensorsHeader(path);
    expect(Object.keys(h.entries).sort()).toEqual(["decoder.weight", "encoder.weight", "latent_bias", "pre_bias"]);
    expect(h.entries["encoder.weight"]).toMatchObject({ dtype: "F32", shape: [N, D] });
    expect(h.entries["decoder.weight"]).toMatchObject({ dtype: "F32", shape: [D, N] });
    expect(h.entries.pre_bias).toMatchObject({ dtype: "F32", shape: [D] });
    expect(h.entries.latent_bias).toMatchObject({ dtype: "F32", shape: [N] });
    expect(h.metadata).toMatchObject({ format: "saerch-topk-sae", d: String(D), n: String(N), k: String(K) });
    // decoder.weight [d, n] is wDecFDᵀ: column j is latent j's direction
    const dec = readSafetensors(path).tensors["decoder.weight"]!.data as Float32Array;
    expect(dec[2 * N + 7]).toBe(p.wDecFD[7 * D + 2]);
    const back = loadSaeWeights(path);
    expectSameParams(back.params, p);
    expect(back.k).toBe(K);
    expect(back.config).toEqual(CONFIG);
    // a config given in epochs resolves to both epochs and steps, and still reads back
    const byEpochs = resolveSaeConfig({ d: D, n: N, k: K, epochs: 2.5, batch: 8 }, 64);
    saveSaeWeights(path, p, { k: K, config: byEpochs });
    expect(loadSaeWeights(path).config).toEqual(byEpochs);
  });

  it("names the file and the tensor when something is wrong", () => {
    expect(() => loadSaeWeights(join(tmp, "nope.safetensors"))).toThrow(/do not exist[\s\S]*fix: train the SAE first/);
    const path = join(tmp, "sae.safetensors");
    saveSaeWeights(path, someParams(), { k: K });
    const file = readSafetensors(path);
    const rest = { ...file.tensors };
    delete rest.latent_bias;
    const bad = join(tmp, "bad.safetensors");
    writeSafetensors(bad, rest, file.metadata);
    expect(() => loadSaeWeights(bad)).toThrow(FormatError);
    expect(() => loadSaeWeights(bad)).toThrow(/bad.safetensors: tensor "latent_bias" is missing/);
    writeSafetensors(bad, file.tensors, { ...file.metadata, k: "x" });
    expect(() => loadSaeWeights(bad)).toThrow(/metadata "k" is "x"/);
    expect(() => saveSaeWeights(bad, { ...someParams(), bLatF: new Float32Array(3) }, { k: K })).toThrow(/bLatF has 3 elements/);
  });

  it.skipIf(!hasNumpy)("loads in Python/numpy with PyTorch semantics: x̂ = W_dec relu-topk(W_enc (x − b_pre) + b_lat) + b_pre", () => {
    const p = someParams(4);
    const path = join(tmp, "sae.safetensors");
    saveSaeWeights(path, p, { k: K });
    const xD = new Float32Array(D);
    new Rng(9).fillNormalInPlace(xD);
    const codes = encodeTopK(p, xD, 1, K);
    const ours = decodeSparse(p, codes.indicesBK, codes.valuesBK, 1, K);
    const script = `
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__", {})
T = {k: np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], dtype={"F32": np.float32}[v["dtype"]]).reshape(v["shape"]) for k, v in header.items()}
x = np.array(json.loads(sys.argv[2]), dtype=np.float32)
h = T["encoder.weight"] @ (x - T["pre_bias"]) + T["latent_bias"]
z = np.zeros_like(h); top = np.argsort(-h, kind="stable")[: int(meta["k"])]; z[top] = np.maximum(h[top], 0)
xhat = T["decoder.weight"] @ z + T["pre_bias"]
print(json.dumps({"names": sorted(T), "shapes": {k: list(v.shape) for k, v in T.items()}, "dtypes": sorted({str(v.dtype) for v in T.values()}),
  "colnorms": np.linalg.norm(T["decoder.weight"], axis=0).tolist(), "xhat": xhat.tolist(), "top": sorted(top.tolist())}))
`;
    const run = spawnSync(PYTHON, ["-c", script, path, JSON.stringify(Array.from(xD))], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { names: string[]; shapes: Record<string, number[]>; dtypes: string[]; colnorms: number[]; xhat: number[]; top: number[] };
    expect(out.names).toEqual(["decoder.weight", "encoder.weight", "latent_bias", "pre_bias"]);
    expect(out.shapes).toEqual({ "encoder.weight": [N, D], "decoder.weight": [D, N], pre_bias: [D], latent_bias: [N] });
    expect(out.dtypes).toEqual(["float32"]);
    for (const c of out.colnorms) expect(c).toBeCloseTo(1, 5);
    expect(out.top).toEqual(Array.from(codes.indicesBK).sort((a, b) => a - b));
    out.xhat.forEach((v, i) => expect(v).toBeCloseTo(ours[i]!, 5));
  });
});

describe("saveCheckpoint / loadCheckpoint", () => {
  it("round-trips weights, Adam state (t included), dead counters beyond 2^24, position and config exactly", () => {
    const c = someCheckpoint(40);
    const path = saveCheckpoint(tmp, c);
    expect(path).toBe(join(tmp, "checkpoints", "step-000000040"));
    expect(readdirSync(path).sort()).toEqual(["config.json", "optimizer.safetensors", "sae.safetensors", "train-state.json"]);
    const back = loadCheckpoint(tmp)!;
    expectSameParams(back.state.params, c.state.params);
    expect(back.state.adam.t).toBe(40);
    for (const mom of ["m", "v"] as const) expectSameParams({ d: D, n: N, ...back.state.adam[mom] }, { d: D, n: N, ...c.state.adam[mom] });
    expect(Array.from(back.state.sinceFiredF)).toEqual(Array.from(c.state.sinceFiredF));
    expect(back.position).toEqual(c.position);
    expect(back.config).toEqual(CONFIG);
    expect(back.data).toEqual(c.data);
    expect(back.configHash).toBe(saeConfigHash(CONFIG));
    expect(back.dir).toBe(path);
    // optimizer moments use the released layouts too
    const opt = readSafetensorsHeader(join(path, "optimizer.safetensors"));
    expect(opt.entries["decoder.weight.exp_avg_sq"]).toMatchObject({ dtype: "F32", shape: [D, N] });
    expect(opt.entries["dead.since_fired"]).toMatchObject({ dtype: "I64", shape: [N] });
    expect(opt.metadata).toMatchObject({ t: "40", step: "40" });
  });

  it("returns undefined for a run without checkpoints", () => {
    expect(loadCheckpoint(join(tmp, "nothing-here"))).toBeUndefined();
    mkdirSync(join(tmp, "checkpoints"));
    expect(loadCheckpoint(tmp)).toBeUndefined();
  });

  it("keeps only the newest checkpoint once it is committed, and refuses to overwrite one", () => {
    saveCheckpoint(tmp, someCheckpoint(10, 1));
    saveCheckpoint(tmp, someCheckpoint(20, 2));
    expect(listCheckpoints(tmp).map((c) => c.step)).toEqual([20]);
    expectSameParams(loadCheckpoint(tmp)!.state.params, someParams(2));
    expect(() => saveCheckpoint(tmp, someCheckpoint(20, 3))).toThrow(SaerchError);
    expect(() => saveCheckpoint(tmp, someCheckpoint(20, 3))).toThrow(/step-000000020 already exists/);
  });

  it("a save killed before its rename leaves the previous checkpoint in charge; the next save cleans up", () => {
    saveCheckpoint(tmp, someCheckpoint(10, 1));
    // what a kill -9 in the middle of saving step 20 leaves: a temp directory with some of the files
    const dead = join(tmp, "checkpoints", ".step-000000020.tmp-99999-deadbeef");
    mkdirSync(dead);
    saveSaeWeights(join(dead, "sae.safetensors"), someParams(2), { k: K });
    writeFileSync(join(dead, ".train-state.json.tmp-99999-0000"), "{");
    const back = loadCheckpoint(tmp)!;
    expect(back.position.step).toBe(10);
    expectSameParams(back.state.params, someParams(1));
    saveCheckpoint(tmp, someCheckpoint(30, 3));
    expect(readdirSync(join(tmp, "checkpoints"))).toEqual(["step-000000030"]);
    expect(existsSync(dead)).toBe(false);
  });

  it("the newest directory wins by step number, not by name length", () => {
    saveCheckpoint(tmp, someCheckpoint(9, 1));
    // an older checkpoint left behind by a crash during cleanup is ignored
    const stale = join(tmp, "checkpoints", "step-8");
    cpSync(join(tmp, "checkpoints", "step-000000009"), stale, { recursive: true });
    expect(listCheckpoints(tmp).map((c) => c.step)).toEqual([8, 9]);
    expect(loadCheckpoint(tmp)!.position.step).toBe(9);
  });

  it("names the file when a checkpoint is inconsistent or incomplete", () => {
    const path = saveCheckpoint(tmp, someCheckpoint(10, 1));
    rmSync(join(path, "optimizer.safetensors"));
    expect(() => loadCheckpoint(tmp)).toThrow(FormatError);
    expect(() => loadCheckpoint(tmp)).toThrow(/optimizer.safetensors is missing[\s\S]*fix: delete .*step-000000010 to fall back/);
    rmSync(path, { recursive: true });
    const p2 = saveCheckpoint(tmp, someCheckpoint(10, 1));
    // a train-state.json from another step
    const other = join(tmp, "other");
    saveCheckpoint(other, someCheckpoint(11, 1));
    cpSync(join(other, "checkpoints", "step-000000011", "train-state.json"), join(p2, "train-state.json"));
    expect(() => loadCheckpoint(tmp)).toThrow(/says step 11 but its directory is for step 10/);
  });
});

describe("config hash, differences and row digests", () => {
  it("ignores steps, epochs, engine, threads and logging; sees everything else", () => {
    const base = resolveSaeConfig({ d: 4, n: 8, k: 2, steps: 10 }, 100);
    const same = resolveSaeConfig({ d: 4, n: 8, k: 2, steps: 99, engine: "tfjs", threads: 3, logEvery: 1, checkpointEvery: 2 }, 100);
    expect(saeConfigHash(same)).toBe(saeConfigHash(base));
    expect(configDifferences(base, same)).toEqual([]);
    const other = resolveSaeConfig({ d: 4, n: 8, k: 2, steps: 10, lr: 2e-4, seed: 5 }, 100);
    expect(saeConfigHash(other)).not.toBe(saeConfigHash(base));
    expect(configDifferences(base, other)).toEqual(["lr: 0.0001 vs 0.0002", "seed: 0 vs 5"]);
    expect(rowsDigest(Int32Array.of(1, 2, 3))).toMatch(/^[0-9a-f]{16}$/);
    expect(rowsDigest(Int32Array.of(1, 2, 3))).not.toBe(rowsDigest(Int32Array.of(1, 3, 2)));
  });
});
