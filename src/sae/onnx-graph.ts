/**
 * The top-k SAE training step as ONNX graphs (METHOD.md §2, THE STEP SPEC), built from TypeScript with
 * `buildOnnxModel` and run by `onnx-step.ts` on onnxruntime-node.
 *
 * - The select graph (CPU engine): the one dense product h = (x − bPre)·wEncᵀ + bLat (`[B, D]·[D, F]`, a Gemm)
 *   and the two top-k selections — K over all latents, KA over the dead ones (their columns gathered, so the
 *   cost scales with the number of dead latents). Everything after touches only the selected latents and runs
 *   in WebAssembly (`cpu-kernels.ts`).
 * - The step graph ("graph" update, the CUDA default): the whole step — forward, AuxK, the hand-derived
 *   backward pass, decoder-gradient projection, global clip, Adam, decoder renormalisation — sparse-aware: the
 *   decoder, its gradient, the encoder's gradient and AuxK touch only the K (+ KA) selected latents per row
 *   (rows of wDec gathered `[B, K, D]`, decoded by batched `[1, K]·[K, D]` products, gradient contributions
 *   scatter-added into `[F, D]` buffers with ScatterND, reduction "add", opset ≥ 16).
 *
 *   forward   xc = x − bPre;  h = xc·wEncᵀ + bLat;  (v, idx) = topK(h);  z = ReLU(v);  x̂ = bPre + Σ_q z_q·wDec[idx_q]
 *   aux       (va, ia) = topKA(h over the dead latents);  za = ReLU(va);  ê = Σ_q za_q·wDec[ia_q];  e = x − x̂ (detached)
 *   backward  r = dL/dx̂ = 2·mseScale·(x̂ − x);  rA = dL/dê = 2·auxWeight·(ê − e) / Σ(e − ē)²
 *             dz = wDec[idx]·r;  dh = dz·[v > 0];  (same for aux with rA)
 *             gDec[idx_q] += z_q·r;  gDec[ia_q] += za_q·rA;  gEnc[idx_q] += dh_q·xc;  gLat[idx_q] += dh_q
 *             gPre = Σ_b r − gLat·wEnc        (x̂ adds bPre; xc subtracts it: Σ_b dL/dxc = gLat·wEnc)
 */
import { buildOnnxModel, type AttrValue, type NodeSpec, type TensorSpec, type ValueSpec } from "../compute/onnx-model.js";

/** Opset of the graphs: ScatterND's `reduction` needs 16; 17 keeps ReduceSum's axes as an input. */
const STEP_OPSET = 17;
/** PyTorch clip_grad_norm_'s guard: coef = gradClip / (norm + 1e-6). */
const CLIP_NORM_EPS = 1e-6;
/** Floor of a norm or variance before dividing by it (an all-zero decoder row stays zero). */
const MIN_ROW_NORM = 1e-30;

/** Sizes every graph is built for (B stays symbolic, so a short last batch runs on the same session). */
export interface SelectGraphSpec {
  /** Input dimension D. */
  d: number;
  /** Latents F. */
  n: number;
  /** Active latents per row K. */
  k: number;
}

/** The step graph also needs Adam's betas and the clip norm (constants of the graph). */
export interface StepGraphSpec extends SelectGraphSpec {
  beta1: number;
  beta2: number;
  gradClip: number;
}

/** The four trainable tensors, in graph-name form. */
export const PARAM_NAMES = ["wEnc", "bLat", "wDec", "bPre"] as const;
/** A parameter's graph name. */
export type ParamName = (typeof PARAM_NAMES)[number];

function paramShapes(spec: SelectGraphSpec): Record<ParamName, number[]> {
  const { d, n } = spec;
  return { wEnc: [n, d], bLat: [n], wDec: [n, d], bPre: [d] };
}

function f32(name: string, shape: (number | string)[]): ValueSpec {
  return { name, type: "float32", shape };
}

/**
 * Inputs of both graphs: `x [B, D]`, the parameters (the select graph skips wDec), `deadIdx` int64 `[nDead]`
 * (the dead latents, ascending), `kAux` int64 `[1]` (latents AuxK selects per row, ≤ nDead; 0 turns it off).
 * The step graph adds `auxWeight` (auxCoef, or 0 when AuxK is off), `mseScale` = 1 / (B·D·mean((x̄ − x)²)), the
 * moments `m<Param>` / `v<Param>` and `adamStep` = lr·√(1 − β2ᵗ)/(1 − β1ᵗ), `adamEps` = eps·√(1 − β2ᵗ).
 */
export function graphInputs(spec: SelectGraphSpec, which: "select" | "step"): ValueSpec[] {
  const shapes = paramShapes(spec);
  const params = which === "select" ? PARAM_NAMES.filter((p) => p !== "wDec") : PARAM_NAMES;
  const inputs: ValueSpec[] = [
    f32("x", ["B", spec.d]),
    ...params.map((p) => f32(p, shapes[p])),
    { name: "deadIdx", type: "int64", shape: ["nDead"] },
    { name: "kAux", type: "int64", shape: [1] },
  ];
  if (which === "step") {
    inputs.push(f32("auxWeight", []), f32("mseScale", []));
    for (const p of PARAM_NAMES) inputs.push(f32(momentName("m", p), shapes[p]), f32(momentName("v", p), shapes[p]));
    inputs.push(f32("adamStep", []), f32("adamEps", []));
  }
  return inputs;
}

/**
 * Outputs. Both: `indices` int32 `[B, K]` (the main selection, for the dead-latent tracker). Select graph:
 * `values [B, K]` (the selected pre-activations), `auxIndices` int32 `[B, KA]`, `auxValues [B, KA]`. Step graph:
 * `sse` = Σ(x̂ − x)², `auxSse` = Σ(ê − e)², `auxVar` = Σ(e − ē)² (auxk = auxSse / auxVar), `gradSq` (squared
 * global norm after the projection, before clipping), all float64, and the new parameters and moments, named
 * `<name>Next`.
 */
export function graphOutputs(spec: SelectGraphSpec, which: "select" | "step"): ValueSpec[] {
  const indices: ValueSpec = { name: "indices", type: "int32", shape: ["B", spec.k] };
  if (which === "select") {
    return [
      indices,
      f32("values", ["B", spec.k]),
      { name: "auxIndices", type: "int32", shape: ["B", "KA"] },
      f32("auxValues", ["B", "KA"]),
    ];
  }
  const shapes = paramShapes(spec);
  const outputs: ValueSpec[] = [indices];
  for (const name of ["sse", "auxSse", "auxVar", "gradSq"]) outputs.push({ name, type: "float64", shape: [] });
  for (const p of PARAM_NAMES) {
    for (const name of [p, momentName("m", p), momentName("v", p)]) outputs.push(f32(nextName(name), shapes[p]));
  }
  return outputs;
}

/** `m` + `wEnc` → `mWEnc`. */
export function momentName(moment: "m" | "v", p: ParamName): string {
  return moment + p[0]!.toUpperCase() + p.slice(1);
}

/** The output carrying a state tensor's value after the step. */
export function nextName(name: string): string {
  return `${name}Next`;
}

/** A tiny graph builder: fresh names for intermediates, constants as initializers. */
class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: (TensorSpec & { name: string })[] = [];
  private count = 0;

  /** Add one node; returns its output names (fresh unless given). */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs: number | string[] = 1): string[] {
    const outs = typeof outputs === "number" ? Array.from({ length: outputs }, () => `${op}_${this.count++}`) : outputs;
    this.nodes.push({ op, inputs, outputs: outs, attrs });
    return outs;
  }

  /** Add a node with one output. */
  op1(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    return this.op(op, inputs, attrs, output === undefined ? 1 : [output])[0]!;
  }

  /** A constant tensor. */
  const(type: TensorSpec["type"], dims: number[], data: number[]): string {
    const name = `const_${this.count++}`;
    this.initializers.push({ name, type, dims, data });
    return name;
  }

  /** A float32 scalar constant. */
  scalar(value: number): string {
    return this.const("float32", [], [value]);
  }
}

/** ONNX TensorProto element type codes used by Cast. */
const CAST_TO = { float32: 1, int32: 6, float64: 11 } as const;

/** Graph-wide constants and helpers. */
function commonParts(g: GraphBuilder): { axis0: string; axis1: string; axis2: string; unsq: (t: string, axis: string) => string } {
  const axis0 = g.const("int64", [1], [0]);
  const axis1 = g.const("int64", [1], [1]);
  const axis2 = g.const("int64", [1], [2]);
  return { axis0, axis1, axis2, unsq: (t, axis) => g.op1("Unsqueeze", [t, axis]) };
}

/** The encoder product and both selections (shared by the two graphs). */
function selections(g: GraphBuilder, k: number): { xc: string; h: string; val: string; idx: string; valA: string; idxA: string } {
  const xc = g.op1("Sub", ["x", "bPre"]);
  const h = g.op1("Gemm", [xc, "wEnc", "bLat"], { transB: 1 });
  const [val, idx] = g.op("TopK", [h, g.const("int64", [1], [k])], { axis: -1, largest: 1, sorted: 1 }, 2) as [string, string];
  g.op1("Cast", [idx], { to: CAST_TO.int32 }, "indices");
  // AuxK: top-kAux over the dead latents only (their columns gathered), mapped back to latent ids. deadIdx is
  // ascending, so ties still go to the lower latent index.
  const hDead = g.op1("Gather", [h, "deadIdx"], { axis: 1 }); // [B, nDead]
  const [valA, posA] = g.op("TopK", [hDead, "kAux"], { axis: -1, largest: 1, sorted: 1 }, 2) as [string, string];
  const idxA = g.op1("Gather", ["deadIdx", posA], { axis: 0 }); // [B, KA]
  return { xc, h, val, idx, valA, idxA };
}

/** The select graph (CPU engine): see the module comment. */
export function buildSelectGraph(spec: SelectGraphSpec): Uint8Array {
  const g = new GraphBuilder();
  const { val, valA, idxA } = selections(g, spec.k);
  g.op1("Identity", [val], {}, "values");
  g.op1("Cast", [idxA], { to: CAST_TO.int32 }, "auxIndices");
  g.op1("Identity", [valA], {}, "auxValues");
  return buildOnnxModel({
    name: "sae-select",
    inputs: graphInputs(spec, "select"),
    outputs: graphOutputs(spec, "select"),
    nodes: g.nodes,
    initializers: g.initializers,
    opset: STEP_OPSET,
  });
}

/** The step graph ("graph" update): see the module comment. */
export function buildStepGraph(spec: StepGraphSpec): Uint8Array {
  const { d, n } = spec;
  const g = new GraphBuilder();
  const { axis0, axis1, axis2, unsq } = commonParts(g);
  const two = g.scalar(2);
  const sumSqDouble = (t: string): string => {
    // Per-row float32 sums (short), then a float64 total: accurate at any B·D.
    const rows = g.op1("ReduceSumSquare", [t], { axes: [-1], keepdims: 0 });
    return g.op1("ReduceSum", [g.op1("Cast", [rows], { to: CAST_TO.float64 })], { keepdims: 0 });
  };

  // Forward: the one dense product, then the K selected latents.
  const { xc, val, idx, valA, idxA } = selections(g, spec.k);
  const z = g.op1("Relu", [val]);
  const wDecSel = g.op1("Gather", ["wDec", idx], { axis: 0 }); // [B, K, D]
  const dec = g.op1("Squeeze", [g.op1("MatMul", [unsq(z, axis1), wDecSel]), axis1]); // [B, D]
  const diff = g.op1("Sub", [g.op1("Add", [dec, "bPre"]), "x"]); // x̂ − x = −e
  g.op1("Identity", [sumSqDouble(diff)], {}, "sse");

  // AuxK, decoded without bias.
  const zA = g.op1("Relu", [valA]);
  const wDecSelA = g.op1("Gather", ["wDec", idxA], { axis: 0 }); // [B, KA, D]
  const eHat = g.op1("Squeeze", [g.op1("MatMul", [unsq(zA, axis1), wDecSelA]), axis1]);
  const auxErr = g.op1("Add", [eHat, diff]); // ê − e
  g.op1("Identity", [sumSqDouble(auxErr)], {}, "auxSse");
  const diffCentred = g.op1("Sub", [diff, g.op1("ReduceMean", [diff], { axes: [0], keepdims: 1 })]);
  const auxVar = g.op1("Identity", [sumSqDouble(diffCentred)], {}, "auxVar");

  // Upstream gradients: r = dL/dx̂, rA = dL/dê (0 when every residual row is the same: nothing to explain).
  const r = g.op1("Mul", [diff, g.op1("Mul", ["mseScale", two])]);
  const auxVarF = g.op1("Cast", [auxVar], { to: CAST_TO.float32 });
  const zeroF = g.scalar(0);
  const auxScale = g.op1("Where", [
    g.op1("Greater", [auxVarF, zeroF]),
    g.op1("Div", [g.op1("Mul", ["auxWeight", two]), g.op1("Max", [auxVarF, g.scalar(MIN_ROW_NORM)])]),
    zeroF,
  ]);
  const rA = g.op1("Mul", [auxErr, auxScale]);

  // Through the decoders: dz = wDec[idx]·r, masked by ReLU'.
  const dz = g.op1("Squeeze", [g.op1("MatMul", [wDecSel, unsq(r, axis2)]), axis2]); // [B, K]
  const dh = g.op1("Mul", [dz, g.op1("Sign", [z])]);
  const dzA = g.op1("Squeeze", [g.op1("MatMul", [wDecSelA, unsq(rA, axis2)]), axis2]);
  const dhA = g.op1("Mul", [dzA, g.op1("Sign", [zA])]);

  // Scatter-add both selections' contributions into [F, D] gradients. The decoder's update rows come from one
  // batched product [B, K + KA, 2]·[B, 2, D] whose coefficients put z against r and za against rA.
  const idxAll = unsq(g.op1("Concat", [idx, idxA], { axis: 1 }), axis2); // [B, K + KA, 1]
  const coefEnc = g.op1("Concat", [dh, dhA], { axis: 1 }); // [B, K + KA]
  const coefDec = g.op1(
    "Concat",
    [g.op1("Mul", [unsq(z, axis2), g.const("float32", [2], [1, 0])]), g.op1("Mul", [unsq(zA, axis2), g.const("float32", [2], [0, 1])])],
    { axis: 1 },
  ); // [B, K + KA, 2]
  const rBoth = g.op1("Concat", [unsq(r, axis1), unsq(rA, axis1)], { axis: 1 }); // [B, 2, D]
  const zeros = (shape: number[]): string =>
    g.op1("ConstantOfShape", [g.const("int64", [shape.length], shape)], { value: { t: { type: "float32", dims: [1], data: [0] } } });
  const add = { reduction: { s: "add" } };
  const gDec = g.op1("ScatterND", [zeros([n, d]), idxAll, g.op1("MatMul", [coefDec, rBoth])], add);
  const gEnc = g.op1("ScatterND", [zeros([n, d]), idxAll, g.op1("Mul", [unsq(coefEnc, axis2), unsq(xc, axis1)])], add);
  const gLat = g.op1("ScatterND", [zeros([n]), idxAll, coefEnc], add);
  const gPre = g.op1("Sub", [
    g.op1("ReduceSum", [r, axis0], { keepdims: 0 }),
    g.op1("Squeeze", [g.op1("MatMul", [unsq(gLat, axis0), "wEnc"]), axis0]),
  ]);
  denseUpdate(g, spec, { wEnc: gEnc, bLat: gLat, wDec: gDec, bPre: gPre });

  return buildOnnxModel({
    name: "sae-step",
    inputs: graphInputs(spec, "step"),
    outputs: graphOutputs(spec, "step"),
    nodes: g.nodes,
    initializers: g.initializers,
    opset: STEP_OPSET,
  });
}

/** Steps 9–12 inside the graph: projection, global norm and clip, Adam, decoder renormalisation. */
function denseUpdate(g: GraphBuilder, spec: StepGraphSpec, grads: Record<ParamName, string>): void {
  const axis1 = g.const("int64", [1], [1]);
  // 9. Remove from each decoder row's gradient its component along the row.
  const along = g.op1("ReduceSum", [g.op1("Mul", [grads.wDec, "wDec"]), axis1], { keepdims: 1 }); // [F, 1]
  const gDecProj = g.op1("Sub", [grads.wDec, g.op1("Mul", [along, "wDec"])]);
  const projected: Record<ParamName, string> = { ...grads, wDec: gDecProj };

  // 10. Global norm (float64 total of per-row float32 sums) and the clip coefficient.
  const rowSq = (t: string): string => g.op1("Cast", [g.op1("ReduceSumSquare", [t], { axes: [-1], keepdims: 0 })], { to: CAST_TO.float64 });
  const total = (t: string): string => g.op1("ReduceSum", [t], { keepdims: 0 });
  const gradSq = g.op1(
    "Sum",
    [total(rowSq(projected.wEnc)), total(rowSq(projected.wDec)), total(g.op1("Cast", [g.op1("Mul", [projected.bLat, projected.bLat])], { to: CAST_TO.float64 })), rowSq(projected.bPre)],
    {},
    "gradSq",
  );
  const clip = g.const("float64", [], [spec.gradClip]);
  const coef64 = g.op1("Min", [
    g.const("float64", [], [1]),
    g.op1("Div", [clip, g.op1("Add", [g.op1("Sqrt", [gradSq]), g.const("float64", [], [CLIP_NORM_EPS])])]),
  ]);
  const coef = g.op1("Cast", [coef64], { to: CAST_TO.float32 });

  // 11. Adam: m' = β1·m + (1 − β1)·c·g;  v' = β2·v + (1 − β2)·c²·g²;  p' = p − step·m' / (√v' + eps').
  const beta1 = g.scalar(spec.beta1);
  const beta2 = g.scalar(spec.beta2);
  const a1 = g.op1("Mul", [coef, g.scalar(1 - spec.beta1)]);
  const a2 = g.op1("Mul", [g.op1("Mul", [coef, coef]), g.scalar(1 - spec.beta2)]);
  for (const p of PARAM_NAMES) {
    const gp = projected[p];
    const m = momentName("m", p);
    const v = momentName("v", p);
    const mNext = g.op1("Add", [g.op1("Mul", [m, beta1]), g.op1("Mul", [gp, a1])], {}, nextName(m));
    const vNext = g.op1("Add", [g.op1("Mul", [v, beta2]), g.op1("Mul", [g.op1("Mul", [gp, gp]), a2])], {}, nextName(v));
    const update = g.op1("Mul", [g.op1("Div", [mNext, g.op1("Add", [g.op1("Sqrt", [vNext]), "adamEps"])]), "adamStep"]);
    if (p !== "wDec") {
      g.op1("Sub", [p, update], {}, nextName(p));
      continue;
    }
    // 12. Decoder rows back to unit norm.
    const wDecNew = g.op1("Sub", [p, update]);
    const norm = g.op1("Sqrt", [g.op1("ReduceSumSquare", [wDecNew], { axes: [1], keepdims: 1 })]);
    g.op1("Div", [wDecNew, g.op1("Max", [norm, g.scalar(MIN_ROW_NORM)])], {}, nextName(p));
  }
}
