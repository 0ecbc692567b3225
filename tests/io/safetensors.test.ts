/**
 * Tests for src/io/safetensors.ts: round trips, layout, a Python reader, and header validation errors.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FormatError, SaerchError } from "../../src/core/errors.js";
import { float16ToFloat32, float32ToFloat16 } from "../../src/io/npy.js";
import {
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsTensor,
  writeSafetensors,
} from "../../src/io/safetensors.js";

const PYTHON = "/usr/bin/python3";
const hasNumpy = spawnSync(PYTHON, ["-c", "import numpy"]).status === 0;

/** A hand-made safetensors file from a header (object or raw text) and data bytes. */
function rawSafetensors(
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  lengthOverride?: bigint,
): Buffer {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

function sampleTensors(): Record<string, SafetensorsTensor> {
  return {
    "encoder.weight": {
      dtype: "F32",
      shape: [3, 5, 7],
      data: Float32Array.from({ length: 105 }, (_, i) => Math.fround(i / 9 - 4)),
    },
    "decoder.half": {
      dtype: "F16",
      shape: [5],
      data: float32ToFloat16(Float32Array.from([0, -1, 0.5, 65504, -Infinity])),
    },
    idx: { dtype: "I32", shape: [2, 2], data: Int32Array.from([-2147483648, 0, 1, 2147483647]) },
    big: {
      dtype: "I64",
      shape: [3],
      data: BigInt64Array.from([2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n]),
    },
    scalar: { dtype: "F32", shape: [], data: Float32Array.of(1.25) },
    empty: { dtype: "I64", shape: [0, 4], data: new BigInt64Array(0) },
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "saerch-st-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("round trip", () => {
  it("keeps every dtype, shape, value and the metadata", () => {
    const p = join(dir, "model.safetensors");
    const tensors = sampleTensors();
    writeSafetensors(p, tensors, { format: "pt", note: "héllo ✓" });
    const back = readSafetensors(p);
    expect(back.metadata).toEqual({ format: "pt", note: "héllo ✓" });
    expect(Object.keys(back.tensors)).toEqual(Object.keys(tensors));
    for (const [name, t] of Object.entries(tensors)) {
      const b = back.tensors[name]!;
      expect(b.dtype).toBe(t.dtype);
      expect(b.shape).toEqual(t.shape);
      expect(b.data.constructor).toBe(t.data.constructor);
      expect(Array.from(b.data as ArrayLike<number | bigint>)).toEqual(
        Array.from(t.data as ArrayLike<number | bigint>),
      );
      expect(b.data.byteOffset % b.data.BYTES_PER_ELEMENT).toBe(0);
    }
  });

  it("pads the header to 8 bytes and lays tensors out contiguously in insertion order", () => {
    const p = join(dir, "layout.safetensors");
    const tensors = sampleTensors();
    writeSafetensors(p, tensors);
    const header = readSafetensorsHeader(p);
    expect(header.dataStart % 8).toBe(0);
    expect(header.metadata).toEqual({});
    let offset = 0;
    for (const [name, t] of Object.entries(tensors)) {
      expect(header.entries[name]!.dataOffsets).toEqual([offset, offset + t.data.byteLength]);
      offset += t.data.byteLength;
    }
    expect(readFileSync(p).length).toBe(header.dataStart + offset);
  });

  it("writes no metadata key when there is none", () => {
    const p = join(dir, "nometa.safetensors");
    writeSafetensors(p, { a: { dtype: "F32", shape: [1], data: Float32Array.of(1) } });
    const buf = readFileSync(p);
    const n = Number(buf.readBigUInt64LE(0));
    expect(JSON.parse(buf.subarray(8, 8 + n).toString("utf8"))).not.toHaveProperty("__metadata__");
  });

  it.skipIf(!hasNumpy)("python (struct + json + numpy) reads our file", () => {
    const p = join(dir, "py.safetensors");
    const tensors = sampleTensors();
    writeSafetensors(p, tensors, { source: "saerch-ts" });
    const code = `import struct, json, sys, numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
assert n % 8 == 0
h = json.loads(b[8:8 + n])
kinds = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "I64": "<i8"}
out = {"__metadata__": h.pop("__metadata__", {})}
for k, v in h.items():
    s, e = v["data_offsets"]
    a = np.frombuffer(b[8 + n + s:8 + n + e], dtype=kinds[v["dtype"]]).reshape(v["shape"])
    vals = [str(int(x)) if a.dtype.kind == "i" else repr(float(x)) for x in a.ravel()]
    out[k] = {"shape": list(a.shape), "values": vals}
print(json.dumps(out))`;
    const r = spawnSync(PYTHON, ["-c", code, p], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    const res = JSON.parse(r.stdout) as Record<string, { shape: number[]; values: string[] }>;
    expect(res.__metadata__).toEqual({ source: "saerch-ts" });
    const num = (v: string): number => (v === "inf" ? Infinity : v === "-inf" ? -Infinity : Number(v));
    for (const [name, t] of Object.entries(tensors)) {
      expect(res[name]!.shape).toEqual(t.shape);
      const values = res[name]!.values;
      if (t.data instanceof Uint16Array)
        expect(values.map(num)).toEqual(Array.from(float16ToFloat32(t.data)));
      else if (t.data instanceof Float32Array) expect(values.map(num)).toEqual(Array.from(t.data));
      else expect(values).toEqual(Array.from(t.data as ArrayLike<number | bigint>, String));
    }
  });
});

describe("validation", () => {
  function expectFormatError(fn: () => unknown, ...patterns: Array<string | RegExp>): void {
    let caught: unknown;
    try {
      fn();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FormatError);
    for (const pat of patterns) expect((caught as FormatError).message).toMatch(pat);
  }

  const ok = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };

  it("accepts a hand-made valid file", () => {
    const p = join(dir, "ok.safetensors");
    writeFileSync(p, rawSafetensors(ok, new Uint8Array(Float32Array.from([1, 2]).buffer)));
    expect(readSafetensors(p).tensors.a!.data).toEqual(Float32Array.from([1, 2]));
  });

  it("header length larger than the file", () => {
    const p = join(dir, "len.safetensors");
    writeFileSync(p, rawSafetensors(ok, new Uint8Array(8), 1000n));
    expectFormatError(() => readSafetensors(p), p, /runs past the end of the file/);
    writeFileSync(p, rawSafetensors(ok, new Uint8Array(8), 2n ** 63n));
    expectFormatError(() => readSafetensorsHeader(p), p, /runs past the end/);
    writeFileSync(p, Buffer.from([1, 2, 3]));
    expectFormatError(() => readSafetensors(p), p, /too short/);
  });

  it("corrupt JSON", () => {
    const p = join(dir, "json.safetensors");
    writeFileSync(p, rawSafetensors('{"a": {"dtype": "F32", "shape": [2], ', new Uint8Array(8)));
    expectFormatError(() => readSafetensors(p), p, /not valid JSON/);
    writeFileSync(p, rawSafetensors("[1, 2]"));
    expectFormatError(() => readSafetensors(p), p, /not a JSON object/);
  });

  it("unknown dtype names the tensor", () => {
    const p = join(dir, "dtype.safetensors");
    writeFileSync(
      p,
      rawSafetensors({ w: { dtype: "BF16", shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)),
    );
    expectFormatError(() => readSafetensors(p), p, /tensor "w"/, /unsupported dtype "BF16"/);
  });

  it("offsets out of range, size mismatch, overlap, malformed", () => {
    const p = join(dir, "offsets.safetensors");
    const data = new Uint8Array(16);
    writeFileSync(p, rawSafetensors({ a: { dtype: "F32", shape: [4], data_offsets: [8, 24] } }, data));
    expectFormatError(() => readSafetensors(p), p, /tensor "a"/, /out of range/);
    writeFileSync(p, rawSafetensors({ a: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }, data));
    expectFormatError(
      () => readSafetensors(p),
      p,
      /tensor "a"/,
      /span 16 bytes but shape \[3\] of F32 needs 12/,
    );
    writeFileSync(
      p,
      rawSafetensors(
        {
          a: { dtype: "F32", shape: [3], data_offsets: [0, 12] },
          b: { dtype: "I32", shape: [2], data_offsets: [8, 16] },
        },
        data,
      ),
    );
    expectFormatError(() => readSafetensors(p), p, /tensor "b"/, /overlap/, /"a"/);
    writeFileSync(p, rawSafetensors({ a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, data));
    expectFormatError(() => readSafetensors(p), p, /out of range/);
    writeFileSync(p, rawSafetensors({ a: { dtype: "F32", shape: [2], data_offsets: [0] } }, data));
    expectFormatError(() => readSafetensors(p), p, /invalid data_offsets/);
    writeFileSync(p, rawSafetensors({ a: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, data));
    expectFormatError(() => readSafetensors(p), p, /invalid shape/);
    writeFileSync(p, rawSafetensors({ __metadata__: { n: 3 }, ...ok }, data));
    expectFormatError(() => readSafetensors(p), p, /__metadata__/);
  });

  it("writer rejects mismatched data and leaves nothing behind", () => {
    const sub = mkdtempSync(join(dir, "clean-"));
    const target = join(sub, "x.safetensors");
    expect(() =>
      writeSafetensors(target, { a: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } }),
    ).toThrow(/needs 4/);
    expect(() =>
      writeSafetensors(target, { a: { dtype: "F16", shape: [2], data: new Float32Array(2) } }),
    ).toThrow(SaerchError);
    expect(() =>
      writeSafetensors(target, { __metadata__: { dtype: "F32", shape: [1], data: new Float32Array(1) } }),
    ).toThrow(/reserved/);
    expect(readdirSync(sub)).toEqual([]);
  });
});
