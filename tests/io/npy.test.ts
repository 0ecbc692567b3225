/**
 * Tests for src/io/npy.ts: round trips, float16 conversion, row-range reads, numpy interop, format errors.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FormatError, SaerchError } from "../../src/core/errors.js";
import {
  float16ToFloat32,
  float32ToFloat16,
  type NpyData,
  readNpy,
  readNpyHeader,
  readNpyRows,
  writeNpy,
} from "../../src/io/npy.js";

const PYTHON = "/usr/bin/python3";

/** Elements of any supported typed array as a plain array (for deep equality). */
const values = (data: NpyData): Array<number | bigint> => Array.from(data as ArrayLike<number | bigint>);
const hasNumpy = spawnSync(PYTHON, ["-c", "import numpy"]).status === 0;

/** Run a python snippet with arguments; return stdout (throws with stderr on failure). */
function py(code: string, ...args: string[]): string {
  const r = spawnSync(PYTHON, ["-c", code, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

/** A hand-made .npy file: magic, version, header length and the header text padded to 64 bytes. */
function rawNpy(header: string, data: Uint8Array, version = 1): Buffer {
  const prefix = version === 1 ? 10 : 12;
  const total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  const buf = Buffer.alloc(total, 0x20);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(buf);
  if (version === 1) buf.writeUInt16LE(total - prefix, 8);
  else buf.writeUInt32LE(total - prefix, 8);
  buf.write(header, prefix, "latin1");
  buf[total - 1] = 0x0a;
  return Buffer.concat([buf, data]);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "saerch-npy-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("round trips", () => {
  it("float32 in awkward shapes", () => {
    for (const shape of [[], [0], [1], [5], [3, 5, 7], [2, 0, 3]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => Math.fround(i * 0.37 - 11));
      const p = join(dir, `f4-${shape.join("x")}.npy`);
      writeNpy(p, data, shape);
      const back = readNpy(p);
      expect(back.dtype).toBe("<f4");
      expect(back.shape).toEqual(shape);
      expect(back.data).toBeInstanceOf(Float32Array);
      expect(values(back.data)).toEqual(Array.from(data));
      const header = readNpyHeader(p);
      expect(header.version).toBe(1);
      expect(header.fortranOrder).toBe(false);
      expect(header.headerBytes % 64).toBe(0);
    }
  });

  it("int32, float16 bits and int64 beyond 2^53", () => {
    const i4 = Int32Array.from([0, 1, -1, 2147483647, -2147483648, 42]);
    writeNpy(join(dir, "i4.npy"), i4, [2, 3]);
    expect(values(readNpy(join(dir, "i4.npy")).data)).toEqual(Array.from(i4));

    const f2 = Uint16Array.from([0x0000, 0x8000, 0x3c00, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x7bff]);
    writeNpy(join(dir, "f2.npy"), f2, [8]);
    const backF2 = readNpy(join(dir, "f2.npy"));
    expect(backF2.dtype).toBe("<f2");
    expect(values(backF2.data)).toEqual(Array.from(f2));

    const i8 = BigInt64Array.from([
      0n,
      -1n,
      2n ** 53n + 1n,
      -(2n ** 62n) - 7n,
      9223372036854775807n,
      -9223372036854775808n,
    ]);
    writeNpy(join(dir, "i8.npy"), i8, [3, 2]);
    const backI8 = readNpy(join(dir, "i8.npy"));
    expect(backI8.dtype).toBe("<i8");
    expect(backI8.shape).toEqual([3, 2]);
    expect(values(backI8.data)).toEqual(Array.from(i8));
  });

  it("writes a subarray view (non-zero byteOffset) correctly", () => {
    const big = Float32Array.from([9, 9, 1, 2, 3, 9]);
    writeNpy(join(dir, "view.npy"), big.subarray(2, 5), [3]);
    expect(values(readNpy(join(dir, "view.npy")).data)).toEqual([1, 2, 3]);
  });

  it("falls back to format 2.0 for a header over 65535 bytes", () => {
    const shape = new Array<number>(25000).fill(1);
    const p = join(dir, "v2.npy");
    writeNpy(p, Float32Array.from([1.5]), shape);
    const header = readNpyHeader(p);
    expect(header.version).toBe(2);
    expect(header.headerBytes % 64).toBe(0);
    expect(header.headerBytes).toBeGreaterThan(65535);
    const back = readNpy(p);
    expect(back.shape.length).toBe(25000);
    expect(values(back.data)).toEqual([1.5]);
  });

  it("reads a format 3.0 file like 2.0", () => {
    const p = join(dir, "v3.npy");
    const data = new Uint8Array(Int32Array.from([7, 8]).buffer);
    writeFileSync(p, rawNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", data, 3));
    expect(readNpyHeader(p).version).toBe(3);
    expect(values(readNpy(p).data)).toEqual([7, 8]);
  });

  it("parses headers with double quotes, extra spaces, key order and python-2 longs", () => {
    const p = join(dir, "odd.npy");
    const data = new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer);
    writeFileSync(p, rawNpy(`{ "shape" : ( 2L , 3L ) , "fortran_order":False,"descr":"<f4" }`, data));
    const back = readNpy(p);
    expect(back.shape).toEqual([2, 3]);
    expect(values(back.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe("float16 conversion", () => {
  const toHalf = (x: number): number => float32ToFloat16(Float32Array.of(x))[0]!;
  const fromHalf = (h: number): number => float16ToFloat32(Uint16Array.of(h))[0]!;

  it("encodes special and boundary values", () => {
    expect(toHalf(0)).toBe(0x0000);
    expect(toHalf(-0)).toBe(0x8000);
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(65504)).toBe(0x7bff); // largest finite
    expect(toHalf(65519)).toBe(0x7bff); // just below the rounding boundary
    expect(toHalf(65520)).toBe(0x7c00); // tie rounds to even → inf
    expect(toHalf(1e10)).toBe(0x7c00);
    expect(toHalf(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(toHalf(Number.NEGATIVE_INFINITY)).toBe(0xfc00);
    expect(toHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(toHalf(Number.NaN) & 0x03ff).not.toBe(0);
    expect(toHalf(2 ** -14)).toBe(0x0400); // smallest normal
    expect(toHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalf(2 ** -25)).toBe(0x0000); // tie between 0 and 2^-24 → even (0)
    expect(toHalf(1.5 * 2 ** -25)).toBe(0x0001);
    expect(toHalf(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 subnormal units → even (2)
    expect(toHalf(2 ** -30)).toBe(0x0000);
    expect(toHalf(-(2 ** -30))).toBe(0x8000);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(toHalf(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(toHalf(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up from subnormal into the smallest normal
  });

  it("decodes special values", () => {
    expect(fromHalf(0x3c00)).toBe(1);
    expect(Object.is(fromHalf(0x8000), -0)).toBe(true);
    expect(fromHalf(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(fromHalf(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(fromHalf(0x7e00)).toBeNaN();
    expect(fromHalf(0x0001)).toBe(2 ** -24);
    expect(fromHalf(0x8001)).toBe(-(2 ** -24));
    expect(fromHalf(0x03ff)).toBe(1023 * 2 ** -24);
    expect(fromHalf(0x7bff)).toBe(65504);
    expect(fromHalf(0x3555)).toBeCloseTo(0.333251953125, 12);
  });

  it("round-trips every non-nan half value exactly", () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = float32ToFloat16(float16ToFloat32(all));
    const isNan = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x03ff) !== 0;
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const ok = isNan(h) ? isNan(back[h]!) && (back[h]! & 0x8000) === (h & 0x8000) : back[h] === h;
      if (!ok) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it.skipIf(!hasNumpy)("rounds exactly like numpy's astype(float16)", () => {
    // random float32 across the whole half range, plus exact ties and subnormal / overflow edges
    const values: number[] = [];
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 20000; i++) values.push((rand() - 0.5) * 2 ** Math.floor(rand() * 46 - 28));
    for (let h = 0; h < 0x7c00; h += 7) {
      const lo = float16ToFloat32(Uint16Array.of(h))[0]!;
      const hi = float16ToFloat32(Uint16Array.of(h + 1))[0]!;
      values.push((lo + hi) / 2, -(lo + hi) / 2); // exact ties
    }
    values.push(65520, 65519.996, 1e-8, 2 ** -25, 2 ** -26, 0, -0, Number.POSITIVE_INFINITY);
    const f32 = Float32Array.from(values);
    const src = join(dir, "src.npy");
    const dst = join(dir, "dst.npy");
    writeNpy(src, f32, [f32.length]);
    py("import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1]).astype(np.float16))", src, dst);
    const expected = readNpy(dst);
    expect(expected.dtype).toBe("<f2");
    const ours = float32ToFloat16(f32);
    let mismatches = 0;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== expected.data[i]) mismatches++;
    expect(mismatches).toBe(0);
  });
});

describe("readNpyRows", () => {
  const rows = 1000;
  const cols = 17;
  const data = Float32Array.from({ length: rows * cols }, (_, i) => Math.fround(Math.sin(i)));

  it("equals the slice of the full read", () => {
    const p = join(dir, "rows.npy");
    writeNpy(p, data, [rows, cols]);
    for (const [start, end] of [
      [0, 1],
      [0, rows],
      [123, 456],
      [999, 1000],
      [500, 500],
    ] as const) {
      const part = readNpyRows(p, start, end);
      expect(part.shape).toEqual([end - start, cols]);
      expect(values(part.data)).toEqual(Array.from(data.subarray(start * cols, end * cols)));
    }
  });

  it("works on 1-D and 3-D arrays and int64", () => {
    const p1 = join(dir, "one.npy");
    writeNpy(p1, Int32Array.from([5, 6, 7, 8]), [4]);
    expect(values(readNpyRows(p1, 1, 3).data)).toEqual([6, 7]);
    const p3 = join(dir, "three.npy");
    const d3 = BigInt64Array.from({ length: 4 * 3 * 2 }, (_, i) => BigInt(i) * 2n ** 55n);
    writeNpy(p3, d3, [4, 3, 2]);
    const part = readNpyRows(p3, 2, 4);
    expect(part.shape).toEqual([2, 3, 2]);
    expect(values(part.data)).toEqual(Array.from(d3.subarray(12, 24)));
  });

  it("reads only the requested bytes (garbage in later rows does not matter)", () => {
    const p = join(dir, "garbage.npy");
    writeNpy(p, data, [rows, cols]);
    const bytes = readFileSync(p);
    const headerBytes = readNpyHeader(p).headerBytes;
    bytes.fill(0xff, headerBytes + 10 * cols * 4); // rows 10.. become NaN garbage
    writeFileSync(p, bytes);
    expect(values(readNpyRows(p, 3, 10).data)).toEqual(Array.from(data.subarray(3 * cols, 10 * cols)));
    expect(Number.isNaN(readNpyRows(p, 10, 11).data[0])).toBe(true);
  });

  it("rejects out-of-bounds ranges and 0-d arrays clearly", () => {
    const p = join(dir, "small.npy");
    writeNpy(p, data.subarray(0, 3 * cols), [3, cols]);
    expect(() => readNpyRows(p, 0, 4)).toThrow(/out of bounds for 3 rows/);
    expect(() => readNpyRows(p, -1, 2)).toThrow(/out of bounds/);
    expect(() => readNpyRows(p, 2, 1)).toThrow(/out of bounds/);
    expect(() => readNpyRows(p, 0.5, 1)).toThrow(SaerchError);
    const p0 = join(dir, "scalar.npy");
    writeNpy(p0, Float32Array.of(1), []);
    expect(() => readNpyRows(p0, 0, 1)).toThrow(/0-d/);
  });
});

describe.skipIf(!hasNumpy)("numpy interop", () => {
  const cases = [
    { name: "float32", expr: "(np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.25) / 3" },
    {
      name: "float16",
      expr: "np.array([0, -0.0, 1, -2.5, 65504, np.inf, -np.inf, 6e-8, 1/3], dtype=np.float16)",
    },
    { name: "int32", expr: "np.array([[0, -1, 2147483647], [-2147483648, 5, 6]], dtype=np.int32)" },
    {
      name: "int64",
      expr: "np.array([0, -1, 2**53 + 1, -(2**62) - 7, 2**63 - 1, -(2**63)], dtype=np.int64)",
    },
    { name: "scalar", expr: "np.array(3.5, dtype=np.float32)" },
    { name: "empty", expr: "np.zeros((0, 5), dtype=np.float32)" },
  ];

  for (const version of ["1", "2"]) {
    for (const c of cases) {
      it(`reads numpy's ${c.name} (format ${version}.0) exactly`, () => {
        const p = join(dir, `${c.name}.npy`);
        const out = py(
          `import numpy as np, sys, json
a = ${c.expr}
with open(sys.argv[1], "wb") as f:
    np.lib.format.write_array(f, a, version=(${version}, 0))
vals = [str(int(x)) if a.dtype.kind == "i" else repr(float(x)) for x in a.ravel()]
print(json.dumps({"shape": list(a.shape), "values": vals}))`,
          p,
        );
        const expected = JSON.parse(out) as { shape: number[]; values: string[] };
        const header = readNpyHeader(p);
        expect(header.version).toBe(Number(version));
        const arr = readNpy(p);
        expect(arr.shape).toEqual(expected.shape);
        if (arr.data instanceof BigInt64Array || arr.data instanceof Int32Array) {
          expect(Array.from(arr.data, String)).toEqual(expected.values);
        } else {
          const f = arr.data instanceof Uint16Array ? float16ToFloat32(arr.data) : arr.data;
          const want = expected.values.map((v) =>
            v === "inf" ? Infinity : v === "-inf" ? -Infinity : Number(v),
          );
          expect(Array.from(f)).toEqual(want);
        }
      });
    }
  }

  it("numpy loads what we write, value for value", () => {
    const f4 = Float32Array.from({ length: 3 * 5 * 7 }, (_, i) => Math.fround(i / 7 - 3));
    const f2 = float32ToFloat16(Float32Array.from([0, 1, -2.5, 65504, Infinity, 1 / 3]));
    const i4 = Int32Array.from([-2147483648, 0, 2147483647]);
    const i8 = BigInt64Array.from([2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n, 0n]);
    writeNpy(join(dir, "f4.npy"), f4, [3, 5, 7]);
    writeNpy(join(dir, "f2.npy"), f2, [6]);
    writeNpy(join(dir, "i4.npy"), i4, [3]);
    writeNpy(join(dir, "i8.npy"), i8, [2, 2]);
    writeNpy(join(dir, "s.npy"), Float32Array.of(2.5), []);
    const out = py(
      `import numpy as np, sys, json, os
res = {}
for name in ["f4", "f2", "i4", "i8", "s"]:
    a = np.load(os.path.join(sys.argv[1], name + ".npy"))
    vals = [str(int(x)) if a.dtype.kind == "i" else repr(float(x)) for x in a.ravel()]
    res[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "values": vals}
print(json.dumps(res))`,
      dir,
    );
    const res = JSON.parse(out) as Record<string, { dtype: string; shape: number[]; values: string[] }>;
    const nums = (vals: string[]): number[] => vals.map((v) => (v === "inf" ? Infinity : Number(v)));
    expect(res.f4).toMatchObject({ dtype: "<f4", shape: [3, 5, 7] });
    expect(nums(res.f4!.values)).toEqual(Array.from(f4));
    expect(res.f2).toMatchObject({ dtype: "<f2", shape: [6] });
    expect(nums(res.f2!.values)).toEqual(Array.from(float16ToFloat32(f2)));
    expect(res.i4).toMatchObject({ dtype: "<i4", shape: [3], values: Array.from(i4, String) });
    expect(res.i8).toMatchObject({ dtype: "<i8", shape: [2, 2], values: Array.from(i8, String) });
    expect(res.s).toMatchObject({ dtype: "<f4", shape: [], values: ["2.5"] });
  });
});

describe("format errors", () => {
  /**
   * Expect `fn` to throw a FormatError whose message names `file` and matches `pattern`, with a fix for a
   * user's own file (re-save or pass another file), never the store's "rebuild".
   */
  function expectFormatError(fn: () => unknown, file: string, pattern: RegExp): FormatError {
    let caught: unknown;
    try {
      fn();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FormatError);
    const err = caught as FormatError;
    expect(err.message).toContain(file);
    expect(err.file).toBe(file);
    expect(err.message).toMatch(pattern);
    expect(err.detail).toMatch(pattern);
    expect(err.fix).toMatch(/np\.save|numpy|\.npy file/);
    expect(err.fix).not.toMatch(/rebuild|store/);
    return err;
  }

  it("bad magic", () => {
    const p = join(dir, "bad-magic.npy");
    writeFileSync(p, "PK\x03\x04 this is a zip, not an npy file");
    expectFormatError(() => readNpy(p), p, /bad magic: expected \\x93NUMPY; it starts like a zip archive \(an \.npz\?\)/);
    const empty = join(dir, "empty.npy");
    writeFileSync(empty, "");
    expectFormatError(() => readNpyHeader(empty), empty, /bad magic.*the file is empty/);
    const csv = join(dir, "vectors.npy");
    writeFileSync(csv, "0.1,0.2,0.3\n0.4,0.5,0.6\n");
    expectFormatError(() => readNpyHeader(csv), csv, /bad magic.*it starts with the text "0\.1,0\.2,"/);
    const binary = join(dir, "binary.npy");
    writeFileSync(binary, Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 254, 255, 0, 0]));
    expectFormatError(() => readNpyHeader(binary), binary, /bad magic.*it starts with the bytes 00 01 02 03 fa fb fc fd/);
  });

  it("corrupt header", () => {
    const p = join(dir, "corrupt.npy");
    writeFileSync(p, rawNpy("{'descr': '<f4', 'fortran_order': Fals", new Uint8Array(4)));
    expectFormatError(() => readNpy(p), p, /unparseable .npy header/);
    writeFileSync(p, rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", new Uint8Array(4)));
    expectFormatError(() => readNpy(p), p, /invalid 'shape'/);
    writeFileSync(p, rawNpy("{'descr': '<f4', 'shape': (1,), }", new Uint8Array(4)));
    expectFormatError(() => readNpy(p), p, /fortran_order/);
  });

  it("header length beyond the file", () => {
    const p = join(dir, "short-header.npy");
    const buf = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4));
    buf.writeUInt16LE(60000, 8);
    writeFileSync(p, buf);
    expectFormatError(() => readNpyHeader(p), p, /runs past the end of the file/);
  });

  it("truncated data says expected vs actual bytes", () => {
    const p = join(dir, "truncated.npy");
    writeNpy(p, new Float32Array(100), [10, 10]);
    const bytes = readFileSync(p);
    writeFileSync(p, bytes.subarray(0, bytes.length - 10));
    expectFormatError(
      () => readNpy(p),
      p,
      new RegExp(`needs ${bytes.length} bytes, file has ${bytes.length - 10}`),
    );
    expectFormatError(() => readNpyRows(p, 0, 1), p, /truncated/);
  });

  it("big-endian, unsupported dtypes and Fortran order", () => {
    const p = join(dir, "dtype.npy");
    writeFileSync(p, rawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)));
    expectFormatError(() => readNpy(p), p, /big-endian dtype '>f4'/);
    writeFileSync(p, rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)));
    expectFormatError(() => readNpy(p), p, /unsupported dtype '<f8'/);
    writeFileSync(
      p,
      rawNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)),
    );
    expectFormatError(() => readNpy(p), p, /unsupported dtype/);
    writeFileSync(
      p,
      rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new Uint8Array(16)),
    );
    expectFormatError(() => readNpy(p), p, /Fortran-order/);
  });

  it("a failed write leaves no file and no temp file behind", () => {
    const sub = mkdtempSync(join(dir, "clean-"));
    expect(() => writeNpy(join(sub, "x.npy"), new Float32Array(5), [2, 3])).toThrow(/needs 6/);
    expect(() => writeNpy(join(sub, "y.npy"), new Float32Array(1), [-1])).toThrow(SaerchError);
    expect(readdirSync(sub)).toEqual([]);
  });
});
