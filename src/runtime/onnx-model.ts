/**
 * Build small ONNX models from TypeScript (through onnx-proto) and run them on onnxruntime-node.
 * The compute engines build their graphs with these helpers; the environment check times one GEMM.
 */
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** ONNX IR version understood by onnx-proto 8 (ONNX 1.10) and onnxruntime 1.30. */
const IR_VERSION = 8;
/** Default operator set: 17 covers every op the project uses (MatMul, TopK, ReduceMean, …). */
const DEFAULT_OPSET = 17;

/** A tensor dimension: a fixed size or a named symbolic one (e.g. "B"). */
export type Dim = number | string;

/** A graph input or output: name, element type, shape. */
export interface ValueSpec {
  name: string;
  type: "float32" | "int32" | "int64";
  shape: Dim[];
}

/** One graph node. Attributes: numbers are ints, arrays of numbers are ints, `{ f: x }` a float. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, number | number[] | { f: number }>;
  name?: string;
}

const ELEM_TYPE = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
} as const;

function valueInfo(v: ValueSpec): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: ELEM_TYPE[v.type],
        shape: { dim: v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: number | number[] | { f: number }): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === "number") return { name, type: T.INT, i: value };
  return { name, type: T.FLOAT, f: value.f };
}

/**
 * Serialise a single-graph ONNX model.
 * @returns the model's protobuf bytes, ready for `InferenceSession.create(bytes)`
 */
export function buildOnnxModel(graph: {
  name: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  opset?: number;
}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: "saerch-ts",
    opsetImport: [{ domain: "", version: graph.opset ?? DEFAULT_OPSET }],
    graph: {
      name: graph.name,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
      node: graph.nodes.map((n, i) => ({
        name: n.name ?? `${n.op}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** A model computing `C = A·B` for float32 `A [M, K]`, `B [K, N]` with symbolic sizes. */
export function matmulModel(): Uint8Array {
  return buildOnnxModel({
    name: "matmul",
    inputs: [
      { name: "A", type: "float32", shape: ["M", "K"] },
      { name: "B", type: "float32", shape: ["K", "N"] },
    ],
    outputs: [{ name: "C", type: "float32", shape: ["M", "N"] }],
    nodes: [{ op: "MatMul", inputs: ["A", "B"], outputs: ["C"] }],
  });
}
