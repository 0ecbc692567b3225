/**
 * NumPy `.npy` files: read (whole array, header only, or a range of rows) and write (atomically).
 * Little-endian float32, float16 (raw half bits in a Uint16Array), int32 and int64; C order only.
 * Format spec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 *
 * Every error is a FormatError naming the file and what is wrong with it (bad magic — and what the bytes look
 * like instead —, unsupported version or dtype, Fortran order, a size that disagrees with the header), with
 * a fix for a user's own file (re-save it with numpy). Readers of files this project wrote (store shards,
 * codes) restate the detail with their own fix (rebuild, re-encode).
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { FormatError, SaerchError } from "../core/errors.js";
import { writeFileAtomic } from "./atomic.js";

/** Supported dtypes: float32, float16 (raw IEEE half bits), int32, int64, all little-endian. */
export type NpyDtype = "<f4" | "<f2" | "<i4" | "<i8";

/** The typed array holding a dtype's values: `<f4` Float32Array, `<f2` Uint16Array, `<i4` Int32Array, `<i8` BigInt64Array. */
export type NpyData = Float32Array | Uint16Array | Int32Array | BigInt64Array;

/** What a `.npy` header says. */
export interface NpyHeader {
  dtype: NpyDtype;
  /** Array shape; `[]` for a 0-d array. */
  shape: number[];
  /** Always false for files this module accepts (Fortran order is rejected). */
  fortranOrder: boolean;
  /** Byte offset of the data, i.e. the total header size including magic and version. */
  headerBytes: number;
  /** Format major version: 1, 2 or 3. */
  version: number;
}

/** An array read from (or to be written to) a `.npy` file; `data` is row-major with `product(shape)` elements. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"
const ITEM_SIZE: Record<NpyDtype, number> = { "<f4": 4, "<f2": 2, "<i4": 4, "<i8": 8 };
const SUPPORTED = Object.keys(ITEM_SIZE).join(", ");
/** Data starts at a multiple of this many bytes (numpy's ARRAY_ALIGN). */
const ALIGN = 64;
/** Fixes for a user's file whose bytes are not what the header promises. */
const RESAVE_FIX = "save it again with numpy (np.save(path, array)); if it was copied, copy it again";
/** Bytes of a bad file's start quoted in the error. */
const QUOTED_BYTES = 8;
/** Largest single readSync (Node rejects lengths ≥ 2 GiB). */
const READ_CHUNK = 1 << 30;

function isDtype(s: string): s is NpyDtype {
  return Object.hasOwn(ITEM_SIZE, s);
}

/** Number of elements of an array with this shape (1 for a 0-d array). */
function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Allocate a zeroed typed array of `n` elements for `dtype` (its own, aligned buffer). */
function allocate(dtype: NpyDtype, n: number): NpyData {
  switch (dtype) {
    case "<f4":
      return new Float32Array(n);
    case "<f2":
      return new Uint16Array(n);
    case "<i4":
      return new Int32Array(n);
    case "<i8":
      return new BigInt64Array(n);
  }
}

/** The dtype that `data`'s typed-array class stands for. */
function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Float32Array) return "<f4";
  if (data instanceof Uint16Array) return "<f2";
  if (data instanceof Int32Array) return "<i4";
  if (data instanceof BigInt64Array) return "<i8";
  throw new SaerchError(
    "writeNpy: data must be a Float32Array, Uint16Array (float16 bits), Int32Array or BigInt64Array",
  );
}

// ---------------------------------------------------------------------------------------------------------
// float16 <-> float32

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/**
 * Decode IEEE 754 half-precision bits to float32 (exact: every half value is a float32).
 * @param u16 `[N]` raw half bits
 * @returns `[N]` float32 values
 */
export function float16ToFloat32(u16: Uint16Array): Float32Array {
  const out: Float32Array = new Float32Array(u16.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < u16.length; i++) {
    const h = u16[i]!;
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: mant · 2^-24, exact in float32
      out[i] = (sign ? -mant : mant) * 2 ** -24;
      if (mant === 0) bits[i] = sign >>> 0; // keep the sign of zero
    } else if (exp === 0x1f) {
      bits[i] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf, or nan keeping its payload
    } else {
      bits[i] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  return out;
}

/** One float32 (given as its bits) to half bits, rounding to nearest, ties to even. */
function halfBits(f32bits: number): number {
  const sign = (f32bits >>> 16) & 0x8000;
  const exp = (f32bits >>> 23) & 0xff;
  const mant = f32bits & 0x7fffff;
  if (exp === 0xff) {
    // inf stays inf; nan stays nan (quiet bit set so truncating the payload cannot turn it into inf)
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const e = exp - 127 + 15; // half exponent field
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // half subnormal (or zero): value = full · 2^(exp-150) = m · 2^-24 with m = full >> (14 - e)
    if (e < -10) return sign; // below half the smallest subnormal → ±0
    const full = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && m & 1)) m++; // may carry into the smallest normal: correct
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent (up to inf) is correct
  return h;
}

/**
 * Encode float32 values as IEEE 754 half-precision bits, rounding to nearest (ties to even);
 * values too large become ±inf, tiny values become subnormals or ±0, nan stays nan.
 * @param f32 `[N]` float32 values
 * @returns `[N]` raw half bits
 */
export function float32ToFloat16(f32: Float32Array): Uint16Array {
  const out: Uint16Array = new Uint16Array(f32.length);
  for (let i = 0; i < f32.length; i++) {
    scratchF32[0] = f32[i]!;
    out[i] = halfBits(scratchU32[0]!);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// header parsing: a Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }

type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** Minimal parser for the Python literals numpy writes in headers (dict, tuple, list, str, int, bools). */
function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`${what} at character ${i}`);
  };
  const skipWs = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const parseSeq = (close: string): PyValue[] => {
    const items: PyValue[] = [];
    i++; // opening bracket
    for (;;) {
      skipWs();
      if (text[i] === close) {
        i++;
        return items;
      }
      items.push(parseValue());
      skipWs();
      if (text[i] === ",") i++;
      else if (text[i] !== close) fail(`expected ',' or '${close}'`);
    }
  };
  const parseValue = (): PyValue => {
    skipWs();
    const c = text[i];
    if (c === undefined) return fail("unexpected end of header");
    if (c === "{") {
      const obj: { [key: string]: PyValue } = {};
      i++;
      for (;;) {
        skipWs();
        if (text[i] === "}") {
          i++;
          return obj;
        }
        const key = parseValue();
        if (typeof key !== "string") fail("dict key is not a string");
        skipWs();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        obj[key as string] = parseValue();
        skipWs();
        if (text[i] === ",") i++;
        else if (text[i] !== "}") fail("expected ',' or '}'");
      }
    }
    if (c === "(") return parseSeq(")");
    if (c === "[") return parseSeq("]");
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail("unterminated string");
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(-?\d+)[lL]?|^(True|False|None)\b/.exec(text.slice(i));
    if (!m) return fail(`unexpected '${c}'`);
    i += m[0].length;
    if (m[1] !== undefined) return Number(m[1]);
    return m[2] === "True" ? true : m[2] === "False" ? false : null;
  };
  const value = parseValue();
  skipWs();
  if (i < text.length) fail("trailing characters");
  return value;
}

/** Validate a parsed header dict and turn it into dtype/shape/fortranOrder. */
function interpretHeader(
  file: string,
  text: string,
): { dtype: NpyDtype; shape: number[]; fortranOrder: boolean } {
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (err) {
    throw new FormatError(
      file,
      `unparseable .npy header (${(err as Error).message}): ${JSON.stringify(text)}`,
      RESAVE_FIX,
    );
  }
  if (dict === null || typeof dict !== "object" || Array.isArray(dict)) {
    throw new FormatError(file, `.npy header is not a dict: ${JSON.stringify(text)}`, RESAVE_FIX);
  }
  const { descr, fortran_order: fortranOrder, shape } = dict;
  if (typeof descr !== "string") {
    throw new FormatError(
      file,
      `unsupported dtype ${JSON.stringify(descr)} (structured arrays are not supported)`,
      "save one plain array, e.g. np.save(path, np.asarray(a, dtype=np.float32))",
    );
  }
  if (descr.startsWith(">")) {
    throw new FormatError(
      file,
      `big-endian dtype '${descr}' is not supported`,
      "re-save it little-endian with numpy: np.save(path, a.astype(a.dtype.newbyteorder('<')))",
    );
  }
  if (!isDtype(descr)) {
    throw new FormatError(
      file,
      `unsupported dtype '${descr}' (supported: ${SUPPORTED})`,
      "convert with numpy, e.g. np.save(path, a.astype(np.float32))",
    );
  }
  if (typeof fortranOrder !== "boolean")
    throw new FormatError(file, ".npy header has no boolean 'fortran_order'", RESAVE_FIX);
  if (fortranOrder) {
    throw new FormatError(
      file,
      "Fortran-order arrays are not supported (C order only)",
      "re-save with numpy: np.save(path, np.ascontiguousarray(a))",
    );
  }
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
  ) {
    throw new FormatError(file, `.npy header has an invalid 'shape': ${JSON.stringify(shape)}`, RESAVE_FIX);
  }
  return { dtype: descr, shape: shape as number[], fortranOrder };
}

/** Read exactly `length` bytes at `position` into `target` (at `targetOffset`); returns how many it got. */
function readFully(
  fd: number,
  target: Uint8Array,
  targetOffset: number,
  length: number,
  position: number,
): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, target, targetOffset + got, Math.min(length - got, READ_CHUNK), position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** What a file that is not a .npy looks like, from its first bytes. */
function describeStart(pre: Buffer, got: number): string {
  const head = pre.subarray(0, Math.min(got, QUOTED_BYTES));
  if (got === 0) return "the file is empty";
  if (head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) return "it starts like a zip archive (an .npz?)";
  if (head[0] === 0x80) return "it starts like a Python pickle";
  const text = head.toString("latin1");
  if (/^[\x20-\x7e\t\r\n]+$/.test(text)) return `it starts with the text ${JSON.stringify(text)}`;
  return `it starts with the bytes ${head.toString("hex").replace(/(..)/g, "$1 ").trim()}`;
}

/** Parse the header from an open file; `size` is the file size in bytes. */
function readHeaderFd(file: string, fd: number, size: number): NpyHeader {
  const pre = Buffer.alloc(12);
  const got = readFully(fd, pre, 0, 12, 0);
  if (got < 10 || !pre.subarray(0, 6).equals(MAGIC)) {
    throw new FormatError(
      file,
      `not a .npy file (bad magic: expected \\x93NUMPY; ${describeStart(pre, got)})`,
      "pass a NumPy .npy file written by np.save (for an .npz, load it and np.save the array inside)",
    );
  }
  const version = pre[6]!;
  let lenBytes: number;
  if (version === 1) lenBytes = 2;
  else if (version === 2 || version === 3) lenBytes = 4;
  else throw new FormatError(file, `unsupported .npy format version ${version}.${pre[7]} (supported: 1.0, 2.0, 3.0)`, RESAVE_FIX);
  if (got < 8 + lenBytes) throw new FormatError(file, `file ends inside the .npy header (${size} bytes)`, RESAVE_FIX);
  const headerLen = lenBytes === 2 ? pre.readUInt16LE(8) : pre.readUInt32LE(8);
  const headerBytes = 8 + lenBytes + headerLen;
  if (headerBytes > size) {
    throw new FormatError(file, `header length ${headerLen} runs past the end of the file (${size} bytes)`, RESAVE_FIX);
  }
  const raw = Buffer.alloc(headerLen);
  readFully(fd, raw, 0, headerLen, 8 + lenBytes);
  const text = raw.toString(version === 3 ? "utf8" : "latin1");
  return { ...interpretHeader(file, text), headerBytes, version };
}

/** Open `path`, run `fn` with the fd and file size, close. */
function withFile<T>(path: string, fn: (fd: number, size: number) => T): T {
  const fd = openSync(path, "r");
  try {
    return fn(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/** Read `count` elements starting at element `first` of the data section into a fresh typed array. */
function readElements(
  file: string,
  fd: number,
  size: number,
  header: NpyHeader,
  first: number,
  count: number,
): NpyData {
  const itemSize = ITEM_SIZE[header.dtype];
  const expected = header.headerBytes + shapeSize(header.shape) * itemSize;
  if (size < expected) {
    throw new FormatError(
      file,
      `truncated .npy data: shape (${header.shape.join(", ")}) of ${header.dtype} needs ${expected} bytes, file has ${size}`,
      RESAVE_FIX,
    );
  }
  const data = allocate(header.dtype, count);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const got = readFully(fd, bytes, 0, bytes.byteLength, header.headerBytes + first * itemSize);
  if (got !== bytes.byteLength) {
    throw new FormatError(file, `truncated .npy data: expected ${bytes.byteLength} bytes, read ${got}`, RESAVE_FIX);
  }
  return data;
}

/**
 * Read only the header of a `.npy` file.
 * @param path file to read
 * @returns dtype, shape, fortranOrder, headerBytes (offset of the data) and format major version
 */
export function readNpyHeader(path: string): NpyHeader {
  return withFile(path, (fd, size) => readHeaderFd(path, fd, size));
}

/**
 * Read a whole `.npy` file.
 * @param path file to read
 * @returns `{dtype, shape, data}`; `data` is row-major with `product(shape)` elements, in a fresh buffer
 */
export function readNpy(path: string): NpyArray {
  return withFile(path, (fd, size) => {
    const header = readHeaderFd(path, fd, size);
    const data = readElements(path, fd, size, header, 0, shapeSize(header.shape));
    return { dtype: header.dtype, shape: header.shape, data };
  });
}

/**
 * Read rows `[start, end)` of a ≥1-D `.npy` array, reading only those bytes from disk.
 * @param path file to read; its array has shape `[R, ...rest]`
 * @param start first row (inclusive), `0 ≤ start ≤ end`
 * @param end last row (exclusive), `end ≤ R`
 * @returns `{dtype, shape: [end - start, ...rest], data}`
 */
export function readNpyRows(path: string, start: number, end: number): NpyArray {
  return withFile(path, (fd, size) => {
    const header = readHeaderFd(path, fd, size);
    if (header.shape.length === 0)
      throw new SaerchError(`${path}: readNpyRows needs an array of ≥ 1 dimension, got 0-d`);
    const [rows, ...rest] = header.shape as [number, ...number[]];
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end < start ||
      end > rows
    ) {
      throw new SaerchError(`${path}: row range [${start}, ${end}) is out of bounds for ${rows} rows`);
    }
    const rowSize = shapeSize(rest);
    const data = readElements(path, fd, size, header, start * rowSize, (end - start) * rowSize);
    return { dtype: header.dtype, shape: [end - start, ...rest], data };
  });
}

/** The Python repr of a shape tuple: `()`, `(3,)`, `(3, 4)`. */
function shapeRepr(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

/**
 * The full header (magic, version, length, padded dict) for a C-order array; version 1.0 unless too long.
 * Streaming writers put it first, then the data bytes.
 */
export function encodeNpyHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  let version = 1;
  let prefix = 10;
  // +1 for the trailing newline; pad with spaces so prefix + header is a multiple of ALIGN
  let total = Math.ceil((prefix + dict.length + 1) / ALIGN) * ALIGN;
  if (total - prefix > 0xffff) {
    version = 2;
    prefix = 12;
    total = Math.ceil((prefix + dict.length + 1) / ALIGN) * ALIGN;
  }
  const headerLen = total - prefix;
  const out = Buffer.alloc(total, 0x20);
  MAGIC.copy(out, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(headerLen, 8);
  else out.writeUInt32LE(headerLen, 8);
  out.write(dict, prefix, "latin1");
  out[total - 1] = 0x0a;
  return out;
}

/**
 * Write an array to a `.npy` file atomically (format 1.0, or 2.0 for a huge header); data is C order.
 * The dtype follows the array class: Float32Array `<f4`, Uint16Array `<f2` (raw half bits), Int32Array
 * `<i4`, BigInt64Array `<i8`.
 * @param path target file (parent directories are created)
 * @param data `[product(shape)]` row-major values
 * @param shape array shape; `[]` for a 0-d array (then `data` has one element)
 */
export function writeNpy(path: string, data: NpyData, shape: readonly number[]): void {
  const dtype = dtypeOf(data);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SaerchError(`writeNpy(${path}): shape [${shape.join(", ")}] must be non-negative integers`);
  }
  const n = shapeSize(shape);
  if (data.length !== n) {
    throw new SaerchError(
      `writeNpy(${path}): data has ${data.length} elements but shape [${shape.join(", ")}] needs ${n}`,
    );
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  writeFileAtomic(path, [encodeNpyHeader(dtype, shape), bytes]);
}
