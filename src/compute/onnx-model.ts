/**
 * Build small ONNX models from TypeScript (through onnx-proto) and run them on onnxruntime-node.
 * The compute engines build their graphs with these helpers; the environment check times one GEMM.
 */
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** ONNX IR version understood by onnx-proto 8 (ONNX 1.10) and onnxruntime 1.30. */
const IR_VERSION = 8;
/** Default operator set: 17 covers every op the project uses (MatMul, TopK, ScatterND with reduction, …). */
const DEFAULT_OPSET = 17;

/** A tensor dimension: a fixed size or a named symbolic one (e.g. "B"). */
export type Dim = number | string;

/** Element types the helpers can declare and store. */
export type ElemType = "float32" | "float64" | "int32" | "int64" | "bool";

/** A graph input or output: name, element type, shape. */
export interface ValueSpec {
  name: string;
  type: ElemType;
  shape: Dim[];
}

/** A constant tensor (an initializer, or the value of a tensor-valued attribute). `dims: []` is a scalar. */
export interface TensorSpec {
  name?: string;
  type: "float32" | "float64" | "int32" | "int64";
  dims: number[];
  /** Row-major values; int64 values must be safe integers. */
  data: ArrayLike<number>;
}

/**
 * An attribute value. Plain numbers are ints and arrays of numbers are ints (as before); `{ f }` is a float,
 * `{ floats }` a float list, `{ s }` a string (e.g. ScatterND's `reduction: { s: "add" }`), `{ t }` a tensor
 * (e.g. Constant's `value`).
 */
export type AttrValue = number | number[] | { f: number } | { floats: number[] } | { s: string } | { t: TensorSpec };

/** One graph node. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  name?: string;
  /** Operator domain; "" (default) is the standard ONNX domain. */
  domain?: string;
}

const ELEM_TYPE = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
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

/** A TensorProto with the values stored as raw little-endian bytes (compact, exact for every type). */
function tensorProto(t: TensorSpec, name: string): onnxProto.onnx.ITensorProto {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) {
    throw new RangeError(`tensor ${name}: ${t.data.length} values for dims [${t.dims.join(", ")}] (${count} expected)`);
  }
  let bytes: Uint8Array;
  switch (t.type) {
    case "float32":
      bytes = new Uint8Array(Float32Array.from(t.data).buffer);
      break;
    case "float64":
      bytes = new Uint8Array(Float64Array.from(t.data).buffer);
      break;
    case "int32":
      bytes = new Uint8Array(Int32Array.from(t.data).buffer);
      break;
    case "int64":
      bytes = new Uint8Array(BigInt64Array.from(Array.from(t.data, (v) => BigInt(v))).buffer);
      break;
  }
  return { name, dims: t.dims, dataType: ELEM_TYPE[t.type], rawData: bytes };
}

function attribute(name: string, value: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === "number") return { name, type: T.INT, i: value };
  if ("f" in value) return { name, type: T.FLOAT, f: value.f };
  if ("floats" in value) return { name, type: T.FLOATS, floats: value.floats };
  if ("s" in value) return { name, type: T.STRING, s: new TextEncoder().encode(value.s) };
  return { name, type: T.TENSOR, t: tensorProto(value.t, value.t.name ?? name) };
}

/**
 * Serialise a single-graph ONNX model.
 * @param graph.initializers constant tensors the nodes can read by name
 * @returns the model's protobuf bytes, ready for `InferenceSession.create(bytes)`
 */
export function buildOnnxModel(graph: {
  name: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: (TensorSpec & { name: string })[];
  opset?: number;
}): Uint8Array {
  const domains = new Set(graph.nodes.map((n) => n.domain ?? "").filter((d) => d !== ""));
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: "saerch-ts",
    opsetImport: [{ domain: "", version: graph.opset ?? DEFAULT_OPSET }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
    graph: {
      name: graph.name,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
      initializer: (graph.initializers ?? []).map((t) => tensorProto(t, t.name)),
      node: graph.nodes.map((n, i) => ({
        name: n.name ?? `${n.op}_${i}`,
        opType: n.op,
        domain: n.domain ?? "",
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
