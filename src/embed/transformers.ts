/**
 * Local sentence-embedding models: any feature-extraction ONNX model (a Hugging Face model folder with
 * `config.json`, tokenizer files and `onnx/model.onnx`) run through @huggingface/transformers on
 * onnxruntime-node. A stand-in for the paper's text-embedding-3-small (METHOD.md §1) when no API is at
 * hand: the SAE stages only need unit-norm `[N, D]` vectors.
 *
 * The library tokenizes and runs the model; pooling is ours (attention-mask-weighted mean, or the first
 * token), followed by L2 normalisation, so the arithmetic is visible and tested on hand-set numbers.
 *
 * Offline by default: with `allowRemote: false` the library is told `env.allowRemoteModels = false`, and a
 * missing model fails before any load with a message naming where it looked and how to provide one.
 * @huggingface/transformers (and with it onnxruntime-node and sharp) is imported lazily, on the first
 * `createTransformersEmbedder` call, so importing this module costs nothing and touches no network.
 */
import { existsSync, statSync } from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { SaerchError, describeError } from "../core/errors.js";
import { normalizeRowsInPlace } from "../core/vector.js";
import { dataDir } from "../io/paths.js";
import type { Embedder, EmbedProgress } from "./embedder.js";

/** The file whose presence marks a model folder (every Hugging Face model has one). */
const CONFIG_FILE = "config.json";
/** Further files transformers.js needs for a fp32 feature-extraction model (checked before loading). */
const REQUIRED_FILES = ["tokenizer.json", "tokenizer_config.json", join("onnx", "model.onnx")];

/** Options of the transformers (local ONNX) provider. */
export const TransformersEmbedOptions = z.object({
  model: z
    .string()
    .min(1)
    .describe("A model folder (absolute, or relative to the cwd) or a hub id such as Xenova/all-MiniLM-L6-v2, looked up under localModelPath"),
  localModelPath: z
    .string()
    .optional()
    .describe("Folder holding hub-id model folders (<localModelPath>/<org>/<name>); default <data>/models, git-ignored"),
  cacheDir: z
    .string()
    .optional()
    .describe("Download cache when allowRemote is true (also searched offline); default <data>/cache/transformers"),
  allowRemote: z
    .boolean()
    .default(false)
    .describe("Allow downloads from the Hugging Face hub; off because runs must not depend on the network"),
  pooling: z
    .enum(["mean", "cls"])
    .default("mean")
    .describe("Token pooling: attention-mask-weighted mean (sentence-transformers' default) or the first ([CLS]) token"),
  normalize: z
    .boolean()
    .default(true)
    .describe("L2-normalise each row, as the paper's embeddings are (cosine = dot product downstream)"),
  maxBatch: z
    .number()
    .int()
    .min(1)
    .default(32)
    .describe("Texts per forward pass; 32 keeps padded [B, T, D] activations small on a 2-core CPU"),
  maxLength: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("Token limit per text (longer texts truncated); default the tokenizer's model_max_length"),
  dtype: z
    .enum(["fp32"])
    .default("fp32")
    .describe("Weights precision; fp32 (onnx/model.onnx) is the only one whose outputs are tested here"),
});

/** Parsed options (defaults filled). */
export type TransformersEmbedOptions = z.infer<typeof TransformersEmbedOptions>;
/** Options as written by a caller. */
export type TransformersEmbedOptionsInput = z.input<typeof TransformersEmbedOptions>;

/** An attention mask as tokenizers return it (int64 in transformers.js, int32 or float elsewhere). */
export type MaskArray = Int32Array | BigInt64Array | Uint8Array | Float32Array | ArrayLike<number>;

/**
 * Attention-mask-weighted mean over tokens: out[b] = Σ_t m[b,t]·h[b,t,:] / Σ_t m[b,t].
 * @param hiddenBTD `[B, T, D]` token states, row-major
 * @param maskBT `[B, T]` attention mask (1 = real token, 0 = padding)
 * @returns `[B, D]` pooled vectors
 * @throws SaerchError when a row has no unmasked token (its mean is undefined; never returned as zeros)
 */
export function meanPool(hiddenBTD: Float32Array, maskBT: MaskArray, b: number, t: number, d: number): Float32Array {
  checkShapes("meanPool", hiddenBTD, maskBT, b, t, d);
  const outBD: Float32Array = new Float32Array(b * d);
  const accD = new Float64Array(d);
  for (let i = 0; i < b; i++) {
    accD.fill(0);
    let weight = 0;
    for (let j = 0; j < t; j++) {
      const m = Number(maskBT[i * t + j]!);
      if (m === 0) continue;
      weight += m;
      const base = (i * t + j) * d;
      for (let p = 0; p < d; p++) accD[p]! += m * hiddenBTD[base + p]!;
    }
    if (weight === 0) throw new SaerchError(`meanPool: row ${i} has no unmasked token`);
    for (let p = 0; p < d; p++) outBD[i * d + p] = accD[p]! / weight;
  }
  return outBD;
}

/**
 * First-token pooling: out[b] = h[b, 0, :] (the [CLS] token of BERT-style models with right padding).
 * @param hiddenBTD `[B, T, D]` token states
 * @returns `[B, D]`
 */
export function clsPool(hiddenBTD: Float32Array, b: number, t: number, d: number): Float32Array {
  if (hiddenBTD.length !== b * t * d || t < 1) {
    throw new SaerchError(`clsPool: buffer length ${hiddenBTD.length} does not match [${b}, ${t}, ${d}] with T ≥ 1`);
  }
  const outBD: Float32Array = new Float32Array(b * d);
  for (let i = 0; i < b; i++) outBD.set(hiddenBTD.subarray(i * t * d, i * t * d + d), i * d);
  return outBD;
}

/** Scale each row of `[B, D]` to unit L2 norm (zero rows stay zero). Mutates `xBD`. */
export function l2NormalizeRowsInPlace(xBD: Float32Array, b: number, d: number): void {
  normalizeRowsInPlace(xBD, b, d);
}

function checkShapes(fn: string, hiddenBTD: Float32Array, maskBT: MaskArray, b: number, t: number, d: number): void {
  if (hiddenBTD.length !== b * t * d) {
    throw new SaerchError(`${fn}: hidden buffer length ${hiddenBTD.length} does not match [${b}, ${t}, ${d}]`);
  }
  if (maskBT.length !== b * t) throw new SaerchError(`${fn}: mask length ${maskBT.length} does not match [${b}, ${t}]`);
}

/** Where a model is looked for, and how the library should be asked for it. */
export interface ModelLocation {
  /** What to pass to `from_pretrained`: an absolute folder, or a hub id. */
  ref: string;
  /** Short name for the embedder id: the hub id, or the folder's name. */
  name: string;
  /** Folders that were (or would be) searched, first match wins. */
  searched: string[];
  /** The folder holding config.json, when one was found. */
  found: string | undefined;
  /** True when `model` named a folder (which cannot be downloaded), false for a hub id. */
  isFolder: boolean;
}

/** True for `model` values that name a folder rather than a hub id ("/x", "./x", "../x", "C:\\x"). */
function looksLikePath(model: string): boolean {
  return isAbsolute(model) || model.startsWith("./") || model.startsWith("../") || model.startsWith(".\\");
}

function hasConfig(dir: string): boolean {
  const file = join(dir, CONFIG_FILE);
  return existsSync(file) && statSync(file).isFile();
}

/**
 * Resolve `model` to a folder on disk: an explicit path (absolute or ./relative) or an existing folder
 * relative to the cwd is used as is; a hub id is looked for under localModelPath, then cacheDir.
 */
export function locateModel(model: string, localModelPath: string, cacheDir: string): ModelLocation {
  const direct = resolve(model);
  if (looksLikePath(model) || (existsSync(direct) && statSync(direct).isDirectory())) {
    const found = hasConfig(direct) ? direct : undefined;
    return { ref: direct, name: basename(direct), searched: [direct], found, isFolder: true };
  }
  const searched = [join(localModelPath, model), join(cacheDir, model)];
  return { ref: model, name: model, searched, found: searched.find(hasConfig), isFolder: false };
}

function modelNotFound(model: string, searched: string[], detail?: string): SaerchError {
  return new SaerchError(
    `embedding model "${model}" not found locally: no ${CONFIG_FILE} in ${searched.join(" or ")}` +
      (detail ? ` (${detail})` : ""),
    `download the model folder (config.json, tokenizer files, onnx/model.onnx) on a machine with internet and copy it to ` +
      `${searched[0]}, or pass its folder as \`model\`, or set allowRemote: true where the Hugging Face hub is reachable`,
  );
}

/** The slice of transformers.js objects this module uses (their published types are mostly `any`). */
interface TensorLike {
  dims: number[];
  data: ArrayLike<number> | BigInt64Array;
  type?: string;
}
type TokenizeFn = (
  texts: string[],
  opts: { padding: boolean; truncation: boolean; max_length?: number },
) => Record<string, TensorLike>;
type ModelFn = ((inputs: Record<string, TensorLike>) => Promise<Record<string, TensorLike>>) & {
  config?: Record<string, unknown>;
  dispose?: () => Promise<unknown>;
};

/** The `[B, T, D]` token states among a model's outputs: `last_hidden_state`, else the first 3-D float output. */
function hiddenStates(outputs: Record<string, TensorLike>): TensorLike {
  const named = outputs.last_hidden_state ?? outputs.token_embeddings;
  if (named) return named;
  const any3d = Object.values(outputs).find((v) => v && Array.isArray(v.dims) && v.dims.length === 3);
  if (!any3d) {
    throw new SaerchError(
      `the model returned no [B, T, D] output (outputs: ${Object.keys(outputs).join(", ")})`,
      "use a feature-extraction (encoder) ONNX export whose output is last_hidden_state",
    );
  }
  return any3d;
}

/**
 * Load a local feature-extraction model and wrap it as an Embedder.
 *
 * `id` is "transformers:<name>:<D>:<pooling>[+l2]" where name is the hub id or the model folder's name.
 * Each `embed` call tokenizes up to `maxBatch` texts at a time (padding to the longest, truncating at
 * maxLength), runs the model, pools with `meanPool` / `clsPool` and normalises.
 * @throws SaerchError "not found locally" (naming the folders searched and how to provide the model)
 */
export async function createTransformersEmbedder(input: TransformersEmbedOptionsInput): Promise<Embedder> {
  const parsed = TransformersEmbedOptions.safeParse(input);
  if (!parsed.success) {
    throw new SaerchError(`invalid transformers embedding options: ${z.prettifyError(parsed.error)}`);
  }
  const o = parsed.data;
  const localModelPath = resolve(o.localModelPath ?? join(dataDir(), "models"));
  const cacheDir = resolve(o.cacheDir ?? join(dataDir(), "cache", "transformers"));
  const loc = locateModel(o.model, localModelPath, cacheDir);
  if (!loc.found && (!o.allowRemote || loc.isFolder)) {
    throw modelNotFound(o.model, loc.searched, o.allowRemote ? "a folder path cannot be downloaded" : "allowRemote is false");
  }

  if (loc.found) {
    const missing = REQUIRED_FILES.filter((f) => !existsSync(join(loc.found!, f)));
    if (missing.length > 0) {
      throw new SaerchError(
        `embedding model folder ${loc.found} is incomplete: missing ${missing.join(", ")}`,
        "copy the whole model folder (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx)",
      );
    }
  }

  const tf = await import("@huggingface/transformers");
  tf.env.allowRemoteModels = o.allowRemote;
  tf.env.allowLocalModels = true;
  tf.env.localModelPath = `${localModelPath}/`;
  tf.env.cacheDir = `${cacheDir}/`;
  // A folder found on disk is passed by absolute path (the library then reads it directly).
  const ref = loc.found ?? loc.ref;
  const hubOpts = { local_files_only: !o.allowRemote, cache_dir: `${cacheDir}/` };
  let tokenize: TokenizeFn;
  let model: ModelFn;
  try {
    tokenize = (await tf.AutoTokenizer.from_pretrained(ref, hubOpts)) as unknown as TokenizeFn;
    model = (await tf.AutoModel.from_pretrained(ref, { ...hubOpts, dtype: o.dtype, device: "cpu" })) as unknown as ModelFn;
  } catch (err) {
    const msg = describeError(err);
    if (/not found locally|ModelFileNotFound|ENOENT|no such file/i.test(msg)) throw modelNotFound(o.model, loc.searched, msg);
    throw new SaerchError(`cannot load embedding model "${o.model}" from ${loc.found ?? ref}: ${msg}`);
  }

  const embedChunk = async (texts: string[]): Promise<{ pooledBD: Float32Array; d: number }> => {
    const enc = tokenize(texts, { padding: true, truncation: true, ...(o.maxLength ? { max_length: o.maxLength } : {}) });
    const maskTensor = enc.attention_mask;
    if (!maskTensor) throw new SaerchError("the tokenizer returned no attention_mask");
    const hidden = hiddenStates(await model(enc));
    const [b, t, d] = hidden.dims as [number, number, number];
    if (!(hidden.data instanceof Float32Array)) {
      throw new SaerchError(`the model's hidden states are ${hidden.type ?? "not float32"}; use an fp32 model`);
    }
    if (b !== texts.length) throw new SaerchError(`the model returned ${b} rows for ${texts.length} texts`);
    const pooledBD =
      o.pooling === "mean"
        ? meanPool(hidden.data, maskTensor.data as MaskArray, b, t, d)
        : clsPool(hidden.data, b, t, d);
    if (o.normalize) l2NormalizeRowsInPlace(pooledBD, b, d);
    for (let i = 0; i < pooledBD.length; i++) {
      if (!Number.isFinite(pooledBD[i]!)) throw new SaerchError(`non-finite embedding value for text ${Math.floor(i / d)}`);
    }
    return { pooledBD, d };
  };

  // D from the config when it states one, else from one probe text.
  const configDim = model.config?.hidden_size ?? model.config?.d_model ?? model.config?.dim;
  const dim = typeof configDim === "number" ? configDim : (await embedChunk(["dimension probe"])).d;

  return {
    id: `transformers:${loc.name}:${dim}:${o.pooling}${o.normalize ? "+l2" : ""}`,
    provider: "transformers",
    model: loc.name,
    dim,
    normalized: o.normalize,
    maxBatch: o.maxBatch,

    async embed(texts: string[], onProgress?: EmbedProgress): Promise<Float32Array> {
      const outBD: Float32Array = new Float32Array(texts.length * dim);
      for (let start = 0; start < texts.length; start += o.maxBatch) {
        const chunk = texts.slice(start, start + o.maxBatch);
        const { pooledBD, d } = await embedChunk(chunk);
        if (d !== dim) throw new SaerchError(`the model returned D = ${d}, but its config says ${dim}`);
        outBD.set(pooledBD, start * dim);
        onProgress?.(start + chunk.length);
      }
      return outBD;
    },

    async close(): Promise<void> {
      await model.dispose?.();
    },
  };
}
