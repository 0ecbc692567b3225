/**
 * SAE weights and training checkpoints on disk (METHOD.md §2, "Checkpoint tensors in the released weights").
 *
 * `sae.safetensors` uses the paper's released tensor names so PyTorch users can load ours:
 * `encoder.weight [n, d]` (= wEncFD), `decoder.weight [d, n]` (= wDecFDᵀ: transposed on write, back on read),
 * `pre_bias [d]`, `latent_bias [n]`, all F32, with metadata `format`, `d`, `n`, `k` (and the config).
 *
 * A checkpoint is one directory `<runDir>/checkpoints/step-<S>/` holding
 * - `sae.safetensors`        the weights above;
 * - `optimizer.safetensors`  Adam's moments `<name>.exp_avg` / `<name>.exp_avg_sq` in the same layouts as
 *                            the weights, the dead-latent counters `dead.since_fired [n]` as I64 (exact
 *                            integers; F32 would round beyond 2^24 examples) and Adam's `t` in the metadata;
 * - `train-state.json`       step, epoch and batch of the next batch, examples seen, elapsed time, the config
 *                            hash, the training data's fingerprint and the engine's resolved thread count
 *                            (sums split per thread round differently, so a resume must use the same count;
 *                            there is no RNG state to save: every random choice is a pure function of the
 *                            seed and a label, e.g. "epoch:3");
 * - `config.json`            the resolved config.
 *
 * Commit protocol: all four files are written and fsync'ed into a temporary sibling directory
 * `checkpoints/.step-<S>.tmp-<pid>-<hex>`, which is then renamed to `step-<S>` (a directory rename is atomic),
 * and only then are older `step-*` directories deleted. So every `step-*` directory is complete, and a crash
 * at any moment leaves at least the previous checkpoint; the newest `step-*` directory is the checkpoint.
 * One trainer per run directory (trainSae holds the directory's run lock, src/io/run-lock.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { FormatError, SaerchError } from "../core/errors.js";
import { sortKeys, stableStringify } from "../io/artefact.js";
import { fsyncDir, writeJsonAtomic } from "../io/atomic.js";
import { readSafetensors, type SafetensorsTensor, writeSafetensors } from "../io/safetensors.js";
import { type ResolvedSaeConfig, SaeConfig } from "./config.js";
import type { AdamState, SaeParams } from "./params.js";
import type { TrainState } from "./train-step.js";

/** `format` metadata of `sae.safetensors`. */
export const SAE_WEIGHTS_FORMAT = "saerch-topk-sae";
/** `format` metadata of `optimizer.safetensors`. */
export const SAE_OPTIMIZER_FORMAT = "saerch-topk-sae-optimizer";
/** `format` field of `train-state.json`. */
export const TRAIN_STATE_FORMAT = "saerch-sae-train-state";
/** Version of the checkpoint layout described in the module header. */
export const CHECKPOINT_VERSION = 1;
/** Folder of a run directory that holds the checkpoint directories. */
export const CHECKPOINTS_DIR = "checkpoints";
/** File names inside a checkpoint directory. */
export const CHECKPOINT_FILES = {
  weights: "sae.safetensors",
  optimizer: "optimizer.safetensors",
  state: "train-state.json",
  config: "config.json",
} as const;
/** Digits of the zero-padded step in a checkpoint directory name (sorting uses the number, not the text). */
const STEP_DIGITS = 9;
/** Hex digits kept of SHA-256 digests (config hash, row digest). */
const HASH_CHARS = 16;
/** Config fields that do not change the trained weights (or only their length: steps, epochs). */
const NON_MATH_FIELDS = ["steps", "epochs", "engine", "threads", "checkpointEvery", "logEvery"] as const;

/** Names of the released tensors. */
const T = { enc: "encoder.weight", dec: "decoder.weight", pre: "pre_bias", lat: "latent_bias" } as const;
const DEAD_TENSOR = "dead.since_fired";

/** Optional metadata of saved weights. */
export interface SaeWeightsMeta {
  /** Active latents per input (top-k); recorded so inference needs nothing but the weights file. */
  k: number;
  /** The resolved config, stored as JSON in the metadata (optional). */
  config?: ResolvedSaeConfig;
}

/** Weights read back from `sae.safetensors`. */
export interface SaeWeights {
  params: SaeParams;
  /** k from the metadata. */
  k: number;
  /** The config from the metadata, when it was saved with one. */
  config: ResolvedSaeConfig | undefined;
  /** Every metadata entry. */
  metadata: Record<string, string>;
}

/** Where training stands after `step` completed steps. */
export interface TrainPosition {
  /** Steps completed. */
  step: number;
  /** Epoch of the next batch. */
  epoch: number;
  /** Index within that epoch of the next batch. */
  batch: number;
  /** Training examples seen so far. */
  examples: number;
  /** Seconds of training so far, summed over resumed sessions. */
  elapsedSeconds: number;
}

/** What the training data was, so a resume on other data is refused. */
export interface TrainDataId {
  /** Embedder id of the store. */
  embedderId: string;
  /** Rows of the whole store. */
  storeCount: number;
  /** Dimension D of the store. */
  dim: number;
  /** Training rows M (the subset). */
  rows: number;
  /** First 16 hex digits of SHA-256 of the `[M]` int32 training rows. */
  rowsDigest: string;
}

/** A complete training checkpoint. */
export interface Checkpoint {
  config: ResolvedSaeConfig;
  state: TrainState;
  position: TrainPosition;
  data: TrainDataId;
  /** `saeConfigHash(config)` at save time. */
  configHash: string;
  /** The engine's resolved thread count (`TrainStep.threads`); undefined when its results do not depend on one, or the checkpoint predates the field. */
  threads?: number | undefined;
  /** The checkpoint directory it was read from (set by loadCheckpoint; ignored by saveCheckpoint). */
  dir?: string;
}

const Position = z.strictObject({
  step: z.number().int().min(0),
  epoch: z.number().int().min(0),
  batch: z.number().int().min(0),
  examples: z.number().int().min(0),
  elapsedSeconds: z.number().min(0),
});
const DataId = z.strictObject({
  embedderId: z.string(),
  storeCount: z.number().int().min(0),
  dim: z.number().int().min(1),
  rows: z.number().int().min(0),
  rowsDigest: z.string(),
});
const TrainStateFile = z.strictObject({
  format: z.literal(TRAIN_STATE_FORMAT),
  version: z.literal(CHECKPOINT_VERSION),
  position: Position,
  configHash: z.string(),
  data: DataId,
  /** null: the engine's results do not depend on a thread count; absent in checkpoints written before it was recorded. */
  threads: z.number().int().min(1).nullable().optional(),
});
/** A resolved config as saved: SaeConfig's fields (without its input-only rule "steps or epochs, not both") with kAux, deadWindow and steps filled in. */
const ResolvedConfigFile = z.strictObject({
  ...SaeConfig.shape,
  kAux: z.number().int().min(0),
  deadWindow: z.number().int().min(1),
  steps: z.number().int().min(1),
});

/** Hash of the config fields that determine the trained weights (all but steps, epochs, engine, threads, checkpointEvery, logEvery). */
export function saeConfigHash(config: ResolvedSaeConfig): string {
  const math: Record<string, unknown> = { ...config };
  for (const f of NON_MATH_FIELDS) delete math[f];
  return createHash("sha256").update(stableStringify(math)).digest("hex").slice(0, HASH_CHARS);
}

/** The config fields (outside steps, epochs, engine, threads, checkpointEvery, logEvery) where `a` and `b` differ, as "field: a vs b". */
export function configDifferences(a: ResolvedSaeConfig, b: ResolvedSaeConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const out: string[] = [];
  for (const key of [...keys].sort()) {
    if ((NON_MATH_FIELDS as readonly string[]).includes(key)) continue;
    const va = (a as unknown as Record<string, unknown>)[key];
    const vb = (b as unknown as Record<string, unknown>)[key];
    if (stableStringify(va) !== stableStringify(vb)) out.push(`${key}: ${JSON.stringify(va)} vs ${JSON.stringify(vb)}`);
  }
  return out;
}

/** First 16 hex digits of SHA-256 of the int32 bytes of `rowsM`. */
export function rowsDigest(rowsM: Int32Array): string {
  return createHash("sha256")
    .update(new Uint8Array(rowsM.buffer, rowsM.byteOffset, rowsM.byteLength))
    .digest("hex")
    .slice(0, HASH_CHARS);
}

// ---------------------------------------------------------------------------------------------------------
// layouts

/** `[F, D]` → `[D, F]` (the released decoder layout), or back with the dims swapped. */
function transposed(aRC: Float32Array, rows: number, cols: number): Float32Array {
  const outCR: Float32Array = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) outCR[c * rows + r] = aRC[r * cols + c]!;
  }
  return outCR;
}

type ParamBuffers = Pick<SaeParams, "wEncFD" | "bLatF" | "wDecFD" | "bPreD">;

/** The four parameter-shaped buffers under their released names and shapes (decoder transposed). */
function releasedTensors(p: ParamBuffers, d: number, n: number, suffix = ""): Record<string, SafetensorsTensor> {
  return {
    [T.enc + suffix]: { dtype: "F32", shape: [n, d], data: p.wEncFD },
    [T.dec + suffix]: { dtype: "F32", shape: [d, n], data: transposed(p.wDecFD, n, d) },
    [T.pre + suffix]: { dtype: "F32", shape: [d], data: p.bPreD },
    [T.lat + suffix]: { dtype: "F32", shape: [n], data: p.bLatF },
  };
}

/** Read the four released tensors (with `suffix`) back into our layouts, checking dtype and shapes. */
function paramBuffers(
  file: string,
  tensors: Record<string, SafetensorsTensor>,
  d: number,
  n: number,
  suffix = "",
): ParamBuffers {
  const get = (name: string, shape: number[]): Float32Array => {
    const t = tensors[name];
    if (!t) throw new FormatError(file, `tensor "${name}" is missing`, "rewrite it with saveSaeWeights / saveCheckpoint");
    if (t.dtype !== "F32" || !(t.data instanceof Float32Array)) {
      throw new FormatError(file, `tensor "${name}" is ${t.dtype}; expected F32`);
    }
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new FormatError(file, `tensor "${name}" has shape [${t.shape.join(", ")}]; expected [${shape.join(", ")}]`);
    }
    return t.data;
  };
  return {
    wEncFD: get(T.enc + suffix, [n, d]),
    wDecFD: transposed(get(T.dec + suffix, [d, n]), d, n),
    bPreD: get(T.pre + suffix, [d]),
    bLatF: get(T.lat + suffix, [n]),
  };
}

function checkParams(where: string, p: SaeParams): void {
  const { d, n } = p;
  const sizes: Array<[string, number, number]> = [
    ["wEncFD", p.wEncFD.length, n * d],
    ["wDecFD", p.wDecFD.length, n * d],
    ["bPreD", p.bPreD.length, d],
    ["bLatF", p.bLatF.length, n],
  ];
  for (const [name, got, want] of sizes) {
    if (got !== want) throw new SaerchError(`${where}: ${name} has ${got} elements; d = ${d}, n = ${n} needs ${want}`);
  }
}

function metaInt(file: string, metadata: Record<string, string>, key: string): number {
  const raw = metadata[key];
  const v = raw === undefined ? NaN : Number(raw);
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new FormatError(file, `metadata "${key}" is ${raw === undefined ? "missing" : JSON.stringify(raw)}; expected a non-negative integer`);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// weights

/**
 * Write SAE weights as safetensors (atomically) under the released names: `encoder.weight [n, d]`,
 * `decoder.weight [d, n]`, `pre_bias [d]`, `latent_bias [n]`, F32; metadata format, d, n, k (and config).
 * @param path target file
 * @param params weights in our `[F, D]` layouts
 * @param meta k, optionally the resolved config
 */
export function saveSaeWeights(path: string, params: SaeParams, meta: SaeWeightsMeta): void {
  checkParams(`saveSaeWeights(${path})`, params);
  const metadata: Record<string, string> = {
    format: SAE_WEIGHTS_FORMAT,
    version: String(CHECKPOINT_VERSION),
    d: String(params.d),
    n: String(params.n),
    k: String(meta.k),
  };
  if (meta.config) metadata.config = JSON.stringify(sortKeys(meta.config));
  writeSafetensors(path, releasedTensors(params, params.d, params.n), metadata);
}

/**
 * Read SAE weights written by `saveSaeWeights` (or any file with the released names, shapes and F32 dtype,
 * plus `d`, `n`, `k` metadata).
 * @returns params in our layouts (decoder transposed back to `[F, D]`), k, config (if saved) and metadata
 * @throws FormatError naming the file and the missing or malformed tensor
 */
export function loadSaeWeights(path: string): SaeWeights {
  if (!existsSync(path)) throw new SaerchError(`SAE weights ${path} do not exist`, "train the SAE first (trainSae), or check the path");
  const file = readSafetensors(path);
  const d = metaInt(path, file.metadata, "d");
  const n = metaInt(path, file.metadata, "n");
  const k = metaInt(path, file.metadata, "k");
  let config: ResolvedSaeConfig | undefined;
  if (file.metadata.config !== undefined) config = parseConfig(path, file.metadata.config);
  return { params: { d, n, ...paramBuffers(path, file.tensors, d, n) }, k, config, metadata: file.metadata };
}

function parseConfig(file: string, text: string): ResolvedSaeConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FormatError(file, `config is not valid JSON (${(err as Error).message})`);
  }
  const parsed = ResolvedConfigFile.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "config"}: ${i.message}`).join("; ");
    throw new FormatError(file, `not a resolved SAE config (${issues})`);
  }
  return parsed.data as ResolvedSaeConfig;
}

// ---------------------------------------------------------------------------------------------------------
// checkpoints

const STEP_DIR = /^step-(\d+)$/;

/** Committed checkpoint directories of a run, oldest first: `{ step, path }`. */
export function listCheckpoints(runDir: string): Array<{ step: number; path: string }> {
  const root = join(runDir, CHECKPOINTS_DIR);
  if (!existsSync(root)) return [];
  const out: Array<{ step: number; path: string }> = [];
  for (const name of readdirSync(root)) {
    const m = STEP_DIR.exec(name);
    if (m) out.push({ step: Number(m[1]), path: join(root, name) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/**
 * Save a checkpoint into `runDir/checkpoints/step-<S>/` by the commit protocol of the module header, then
 * delete older checkpoints and leftovers of interrupted saves.
 * @returns the committed checkpoint directory
 * @throws SaerchError when a checkpoint for that step already exists
 */
export function saveCheckpoint(runDir: string, ckpt: Checkpoint): string {
  const { config, state, position } = ckpt;
  const { params, adam } = state;
  checkParams("saveCheckpoint", params);
  if (params.d !== config.d || params.n !== config.n) {
    throw new SaerchError(`saveCheckpoint: params are d = ${params.d}, n = ${params.n} but the config says d = ${config.d}, n = ${config.n}`);
  }
  if (state.sinceFiredF.length !== params.n) {
    throw new SaerchError(`saveCheckpoint: ${state.sinceFiredF.length} dead-latent counters for n = ${params.n} latents`);
  }
  const root = join(runDir, CHECKPOINTS_DIR);
  const name = `step-${String(position.step).padStart(STEP_DIGITS, "0")}`;
  const target = join(root, name);
  if (existsSync(target)) throw new SaerchError(`checkpoint ${target} already exists`, "delete it, or resume from it instead of saving again");
  mkdirSync(root, { recursive: true });
  const tmp = join(root, `.${name}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(tmp);
  try {
    saveSaeWeights(join(tmp, CHECKPOINT_FILES.weights), params, { k: config.k, config });
    const sinceFired = new BigInt64Array(params.n);
    state.sinceFiredF.forEach((v, j) => {
      if (!Number.isSafeInteger(v) || v < 0) throw new SaerchError(`saveCheckpoint: dead-latent counter ${j} is ${v}, not a count`);
      sinceFired[j] = BigInt(v);
    });
    writeSafetensors(
      join(tmp, CHECKPOINT_FILES.optimizer),
      {
        ...releasedTensors(adam.m, params.d, params.n, ".exp_avg"),
        ...releasedTensors(adam.v, params.d, params.n, ".exp_avg_sq"),
        [DEAD_TENSOR]: { dtype: "I64", shape: [params.n], data: sinceFired },
      },
      {
        format: SAE_OPTIMIZER_FORMAT,
        version: String(CHECKPOINT_VERSION),
        d: String(params.d),
        n: String(params.n),
        t: String(adam.t),
        step: String(position.step),
      },
    );
    writeJsonAtomic(join(tmp, CHECKPOINT_FILES.config), sortKeys(config));
    writeJsonAtomic(join(tmp, CHECKPOINT_FILES.state), {
      format: TRAIN_STATE_FORMAT,
      version: CHECKPOINT_VERSION,
      position,
      configHash: ckpt.configHash,
      data: ckpt.data,
      threads: ckpt.threads ?? null,
    });
    fsyncDir(tmp);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  fsyncDir(root);
  // Only now, with the new checkpoint committed, remove older ones and leftovers of killed saves.
  for (const entry of readdirSync(root)) {
    const m = STEP_DIR.exec(entry);
    const stale = m ? Number(m[1]) < position.step : entry.startsWith(".step-") && entry.includes(".tmp-");
    if (stale) rmSync(join(root, entry), { recursive: true, force: true });
  }
  return target;
}

/**
 * Load the newest checkpoint of a run directory.
 * @returns the checkpoint, or undefined when `runDir` has none
 * @throws FormatError when its files are malformed or disagree with each other
 */
export function loadCheckpoint(runDir: string): Checkpoint | undefined {
  const latest = listCheckpoints(runDir).at(-1);
  if (!latest) return undefined;
  return readCheckpointDir(latest.path, latest.step);
}

/** Read one committed checkpoint directory (see the module header). */
export function readCheckpointDir(path: string, expectedStep?: number): Checkpoint {
  const fix = `delete ${path} to fall back to an older checkpoint, or delete the run directory to start over`;
  const files = Object.fromEntries(
    Object.entries(CHECKPOINT_FILES).map(([key, name]) => [key, join(path, name)]),
  ) as Record<keyof typeof CHECKPOINT_FILES, string>;
  for (const f of Object.values(files)) {
    if (!existsSync(f)) throw new FormatError(path, `checkpoint file ${f} is missing`, fix);
  }
  const config = parseConfig(files.config, readJson(files.config));
  const rawState = JSON.parse(readJson(files.state)) as unknown;
  const st = TrainStateFile.safeParse(rawState);
  if (!st.success) {
    const issues = st.error.issues.map((i) => `${i.path.join(".") || "state"}: ${i.message}`).join("; ");
    throw new FormatError(files.state, `not a training state (${issues})`, fix);
  }
  const { position, configHash, data, threads } = st.data;
  if (expectedStep !== undefined && position.step !== expectedStep) {
    throw new FormatError(files.state, `says step ${position.step} but its directory is for step ${expectedStep}`, fix);
  }
  const weights = loadSaeWeights(files.weights);
  const { d, n } = weights.params;
  if (d !== config.d || n !== config.n) {
    throw new FormatError(files.weights, `holds d = ${d}, n = ${n} but ${files.config} says d = ${config.d}, n = ${config.n}`, fix);
  }
  const opt = readSafetensors(files.optimizer);
  if (opt.metadata.format !== SAE_OPTIMIZER_FORMAT) {
    throw new FormatError(files.optimizer, `format is ${JSON.stringify(opt.metadata.format)}; expected "${SAE_OPTIMIZER_FORMAT}"`, fix);
  }
  const t = metaInt(files.optimizer, opt.metadata, "t");
  const optStep = metaInt(files.optimizer, opt.metadata, "step");
  if (optStep !== position.step) {
    throw new FormatError(files.optimizer, `is from step ${optStep} but ${files.state} says step ${position.step}`, fix);
  }
  const adam: AdamState = {
    t,
    m: paramBuffers(files.optimizer, opt.tensors, d, n, ".exp_avg"),
    v: paramBuffers(files.optimizer, opt.tensors, d, n, ".exp_avg_sq"),
  };
  const dead = opt.tensors[DEAD_TENSOR];
  if (!dead || dead.dtype !== "I64" || !(dead.data instanceof BigInt64Array) || dead.data.length !== n) {
    throw new FormatError(files.optimizer, `tensor "${DEAD_TENSOR}" must be I64 [${n}]`, fix);
  }
  const sinceFiredF = Float64Array.from(dead.data, (v) => Number(v));
  return {
    config,
    state: { params: weights.params, adam, sinceFiredF },
    position,
    data,
    configHash,
    threads: threads ?? undefined,
    dir: path,
  };
}

function readJson(path: string): string {
  const text = readFileSync(path, "utf8");
  try {
    JSON.parse(text);
  } catch (err) {
    throw new FormatError(path, `not valid JSON (${(err as Error).message})`);
  }
  return text;
}
