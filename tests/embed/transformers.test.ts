/**
 * Tests for the transformers (local ONNX) provider: the pooling functions on hand-set numbers, the
 * "model not found locally" errors (no model can be downloaded here), and an end-to-end run through
 * @huggingface/transformers on a tiny hand-built BERT-style model folder (word-level tokenizer + an ONNX
 * graph that is one embedding lookup), so the whole path runs offline with exact expected vectors.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import {
  clsPool,
  createTransformersEmbedder,
  l2NormalizeRowsInPlace,
  locateModel,
  meanPool,
} from "../../src/embed/transformers.js";

const { onnx } = onnxProto;

/*
 * The worked example (B 2, T 4, D 3), used both by the pure tests and by the tiny model:
 *   vocab: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, alpha 4, beta 5, gamma 6
 *   token vectors W: [PAD] (100,100,100), [UNK] (0,0,1), [CLS] (1,0,0), [SEP] (0,1,0),
 *                    alpha (2,0,0), beta (0,4,0), gamma (0,0,8)
 *   "alpha beta" → [CLS] alpha beta [SEP]  = ids 2 4 5 3, mask 1 1 1 1
 *   "gamma"      → [CLS] gamma [SEP] [PAD] = ids 2 6 3 0, mask 1 1 1 0
 * mean pooling: row 0 = ((1,0,0)+(2,0,0)+(0,4,0)+(0,1,0)) / 4 = (3,5,0)/4 = (0.75, 1.25, 0)
 *               row 1 = ((1,0,0)+(0,0,8)+(0,1,0)) / 3      = (1,1,8)/3 = (1/3, 1/3, 8/3)
 *               (the [PAD] row (100,100,100) must not leak in: its mask is 0)
 * L2: row 0 = (3,5,0)/√34, row 1 = (1,1,8)/√66.   cls pooling: both rows (1,0,0).
 */
const W_VD = [
  [100, 100, 100],
  [0, 0, 1],
  [1, 0, 0],
  [0, 1, 0],
  [2, 0, 0],
  [0, 4, 0],
  [0, 0, 8],
];
const IDS_BT = [2, 4, 5, 3, 2, 6, 3, 0];
const MASK_BT = [1, 1, 1, 1, 1, 1, 1, 0];
const hiddenBTD = Float32Array.from(IDS_BT.flatMap((id) => W_VD[id]!));
const MEAN_BD = [0.75, 1.25, 0, 1 / 3, 1 / 3, 8 / 3];
const MEAN_L2_BD = [3 / Math.sqrt(34), 5 / Math.sqrt(34), 0, 1 / Math.sqrt(66), 1 / Math.sqrt(66), 8 / Math.sqrt(66)];

function expectClose(actual: ArrayLike<number>, expected: number[], digits = 6): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, digits));
}

describe("pooling (pure)", () => {
  it("meanPool weights by the attention mask (int32 and int64 masks)", () => {
    expectClose(meanPool(hiddenBTD, Int32Array.from(MASK_BT), 2, 4, 3), MEAN_BD);
    expectClose(meanPool(hiddenBTD, BigInt64Array.from(MASK_BT.map(BigInt)), 2, 4, 3), MEAN_BD);
  });

  it("clsPool takes token 0; l2NormalizeRowsInPlace gives the hand-derived unit rows", () => {
    expect(Array.from(clsPool(hiddenBTD, 2, 4, 3))).toEqual([1, 0, 0, 1, 0, 0]);
    const x = meanPool(hiddenBTD, Int32Array.from(MASK_BT), 2, 4, 3);
    l2NormalizeRowsInPlace(x, 2, 3);
    expectClose(x, MEAN_L2_BD);
  });

  it("does not mutate its inputs; rejects bad shapes and fully masked rows", () => {
    const copy = hiddenBTD.slice();
    meanPool(hiddenBTD, Int32Array.from(MASK_BT), 2, 4, 3);
    clsPool(hiddenBTD, 2, 4, 3);
    expect(hiddenBTD).toEqual(copy);
    expect(() => meanPool(hiddenBTD, Int32Array.from(MASK_BT), 2, 4, 2)).toThrow(/does not match \[2, 4, 2\]/);
    expect(() => meanPool(hiddenBTD, Int32Array.from([1, 1]), 2, 4, 3)).toThrow(/mask length 2/);
    expect(() => meanPool(hiddenBTD, new Int32Array(8).fill(1).fill(0, 4), 2, 4, 3)).toThrow(/row 1 has no unmasked token/);
    expect(() => clsPool(hiddenBTD, 3, 4, 3)).toThrow(SaerchError);
  });
});

/** Write a model folder the library can load: config, word-level tokenizer, onnx/model.onnx (a Gather). */
function writeTinyModel(dir: string): void {
  mkdirSync(join(dir, "onnx"), { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "bert", architectures: ["BertModel"], hidden_size: 3 }));
  const special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"];
  const vocab: Record<string, number> = Object.fromEntries(
    [...special, "alpha", "beta", "gamma"].map((w, i) => [w, i]),
  );
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: special.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: "Lowercase" },
    pre_tokenizer: { type: "Whitespace" },
    post_processor: { type: "BertProcessing", sep: ["[SEP]", 3], cls: ["[CLS]", 2] },
    decoder: null,
    model: { type: "WordLevel", vocab, unk_token: "[UNK]" },
  };
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({ tokenizer_class: "PreTrainedTokenizer", pad_token: "[PAD]", unk_token: "[UNK]", model_max_length: 16 }),
  );
  const T = onnx.TensorProto.DataType;
  const io = (name: string, elemType: number, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: "saerch-ts-test",
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "tiny-bert",
      input: [io("input_ids", T.INT64, ["B", "T"]), io("attention_mask", T.INT64, ["B", "T"])],
      output: [io("last_hidden_state", T.FLOAT, ["B", "T", 3])],
      initializer: [{ name: "W", dims: [W_VD.length, 3], dataType: T.FLOAT, floatData: W_VD.flat() }],
      node: [{ name: "lookup", opType: "Gather", input: ["W", "input_ids"], output: ["last_hidden_state"] }],
    },
  });
  writeFileSync(join(dir, "onnx", "model.onnx"), onnx.ModelProto.encode(model).finish());
}

describe("createTransformersEmbedder", () => {
  let root: string;
  let modelDir: string;
  let fetchSpy: ReturnType<typeof vi.spyOn>;

  beforeAll(() => {
    // Any network attempt by the library (it binds globalThis.fetch when first imported) would show here.
    fetchSpy = vi.spyOn(globalThis, "fetch");
    root = mkdtempSync(join(tmpdir(), "saerch-transformers-"));
    modelDir = join(root, "models", "test-org", "tiny-bert");
    writeTinyModel(modelDir);
  });
  afterAll(() => {
    expect(fetchSpy).not.toHaveBeenCalled();
    fetchSpy.mockRestore();
    rmSync(root, { recursive: true, force: true });
  });

  it("a missing hub id fails with the folders searched and how to provide the model", async () => {
    const err = await createTransformersEmbedder({
      model: "Xenova/all-MiniLM-L6-v2",
      localModelPath: join(root, "models"),
      cacheDir: join(root, "cache"),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SaerchError);
    const msg = (err as Error).message;
    expect(msg).toContain(`not found locally: no config.json in ${join(root, "models", "Xenova/all-MiniLM-L6-v2")}`);
    expect(msg).toContain(join(root, "cache", "Xenova/all-MiniLM-L6-v2"));
    expect((err as SaerchError).fix).toMatch(/download the model folder .* copy it to .*set allowRemote: true/);
  });

  it("a missing folder path fails the same way, even with allowRemote", async () => {
    const missing = join(root, "nowhere", "model");
    await expect(createTransformersEmbedder({ model: missing, allowRemote: true })).rejects.toThrow(
      /not found locally: no config.json in .*nowhere\/model \(a folder path cannot be downloaded\)/,
    );
  });

  it("a folder with config.json but no tokenizer or ONNX weights names the missing files", async () => {
    const partial = join(root, "partial");
    mkdirSync(partial, { recursive: true });
    writeFileSync(join(partial, "config.json"), JSON.stringify({ model_type: "bert" }));
    writeFileSync(join(partial, "tokenizer.json"), "{}");
    await expect(createTransformersEmbedder({ model: partial })).rejects.toThrow(
      /partial is incomplete: missing tokenizer_config.json, onnx\/model.onnx/,
    );
  });

  it("locateModel: paths vs hub ids", () => {
    expect(locateModel(modelDir, "/m", "/c")).toMatchObject({ ref: modelDir, name: "tiny-bert", found: modelDir, isFolder: true });
    expect(locateModel("test-org/tiny-bert", join(root, "models"), "/c")).toMatchObject({
      ref: "test-org/tiny-bert",
      name: "test-org/tiny-bert",
      found: modelDir,
      isFolder: false,
    });
  });

  it("embeds through the library with our mean pooling + L2 (exact hand-derived vectors)", async () => {
    const e = await createTransformersEmbedder({ model: "test-org/tiny-bert", localModelPath: join(root, "models"), maxBatch: 2 });
    try {
      expect([e.id, e.provider, e.model, e.dim, e.normalized, e.maxBatch]).toEqual([
        "transformers:test-org/tiny-bert:3:mean+l2",
        "transformers",
        "test-org/tiny-bert",
        3,
        true,
        2,
      ]);
      const progress: number[] = [];
      // Batches of 2: ["alpha beta", "gamma"] is the worked example (padding on row 1); "Beta zeta" → beta + [UNK].
      const out = await e.embed(["alpha beta", "gamma", "Beta zeta"], (d) => progress.push(d));
      // "Beta zeta" → [CLS] beta [UNK] [SEP]: ((1,0,0)+(0,4,0)+(0,0,1)+(0,1,0))/4 ∝ (1,5,1)/√27
      expectClose(out, [...MEAN_L2_BD, 1 / Math.sqrt(27), 5 / Math.sqrt(27), 1 / Math.sqrt(27)]);
      expect(progress).toEqual([2, 3]);
      expect((await e.embed([])).length).toBe(0);
    } finally {
      await e.close();
    }
  });

  it("cls pooling without normalisation, from a folder path", async () => {
    const e = await createTransformersEmbedder({ model: modelDir, pooling: "cls", normalize: false });
    try {
      expect(e.id).toBe("transformers:tiny-bert:3:cls");
      expect(e.normalized).toBe(false);
      expect(Array.from(await e.embed(["alpha beta", "gamma"]))).toEqual([1, 0, 0, 1, 0, 0]);
    } finally {
      await e.close();
    }
  });

  it("mean pooling without normalisation gives the raw means", async () => {
    const e = await createTransformersEmbedder({ model: modelDir, normalize: false });
    try {
      expectClose(await e.embed(["alpha beta", "gamma"]), MEAN_BD);
    } finally {
      await e.close();
    }
  });
});
