/**
 * Best matches between two sets of unit vectors in both directions from one `[S, D]·[L, D]ᵀ` product on
 * onnxruntime (Gemm, then ReduceMax/ArgMax along each axis). Matching decoders of SAEs with thousands of
 * latents (METHOD.md §6) is one GEMM: seconds here, where the plain-JS loop takes about a minute.
 */
import { availableParallelism } from "node:os";
import { SaerchError } from "../core/errors.js";
import { type MaxCosine, normalizeRowsInPlace } from "../core/vector.js";
import { buildOnnxModel } from "../compute/onnx-model.js";

function model(d: number): Uint8Array {
  return buildOnnxModel({
    name: "max-cosine",
    inputs: [
      { name: "A", type: "float32", shape: ["S", d] },
      { name: "B", type: "float32", shape: ["L", d] },
    ],
    outputs: [
      { name: "aMax", type: "float32", shape: ["S"] },
      { name: "aArg", type: "int64", shape: ["S"] },
      { name: "bMax", type: "float32", shape: ["L"] },
      { name: "bArg", type: "int64", shape: ["L"] },
    ],
    nodes: [
      { op: "Gemm", inputs: ["A", "B"], outputs: ["C"], attrs: { transB: 1 } },
      { op: "ReduceMax", inputs: ["C"], outputs: ["aMax"], attrs: { axes: [1], keepdims: 0 } },
      { op: "ArgMax", inputs: ["C"], outputs: ["aArg"], attrs: { axis: 1, keepdims: 0, select_last_index: 0 } },
      { op: "ReduceMax", inputs: ["C"], outputs: ["bMax"], attrs: { axes: [0], keepdims: 0 } },
      { op: "ArgMax", inputs: ["C"], outputs: ["bArg"], attrs: { axis: 0, keepdims: 0, select_last_index: 0 } },
    ],
  });
}

/**
 * For every row of a its most similar row of b by cosine, and the reverse (ties → lower index).
 * @param aSD `[S, D]` rows, @param bLD `[L, D]` rows (not mutated; normalised copies are used)
 */
export async function maxCosineBothWays(
  aSD: Float32Array,
  bLD: Float32Array,
  d: number,
): Promise<{ aToB: MaxCosine; bToA: MaxCosine }> {
  if (d < 1 || aSD.length % d !== 0 || bLD.length % d !== 0) {
    throw new SaerchError(`maxCosineBothWays: buffers of length ${aSD.length} and ${bLD.length} are not [·, ${d}] matrices`);
  }
  const s = aSD.length / d;
  const l = bLD.length / d;
  const a = aSD.slice();
  const b = bLD.slice();
  normalizeRowsInPlace(a, s, d);
  normalizeRowsInPlace(b, l, d);
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(model(d), { intraOpNumThreads: availableParallelism(), interOpNumThreads: 1 });
  try {
    const out = await session.run({ A: new ort.Tensor("float32", a, [s, d]), B: new ort.Tensor("float32", b, [l, d]) });
    const ints = (t: unknown): Int32Array => Int32Array.from(t as BigInt64Array, (v) => Number(v));
    return {
      aToB: { indexN: ints(out.aArg!.data), valueN: out.aMax!.data as Float32Array },
      bToA: { indexN: ints(out.bArg!.data), valueN: out.bMax!.data as Float32Array },
    };
  } finally {
    await session.release();
  }
}
