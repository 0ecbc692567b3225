/**
 * safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {key: value}}`, then the
 * tensors' bytes. Supports F32, F16 (raw half bits in a Uint16Array), I32 and I64; writes are atomic.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { FormatError, SaerchError } from "../core/errors.js";
import { writeFileAtomic } from "./atomic.js";

/** Supported tensor dtypes. */
export type SafetensorsDtype = "F32" | "F16" | "I32" | "I64";

/** Values of a tensor: F32 Float32Array, F16 Uint16Array (half bits), I32 Int32Array, I64 BigInt64Array. */
export type SafetensorsData = Float32Array | Uint16Array | Int32Array | BigInt64Array;

/** One tensor; `data` is row-major with `product(shape)` elements. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: SafetensorsData;
}

/** A header entry: where a tensor's bytes lie, relative to the start of the data section. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  dataOffsets: [number, number];
}

/** The parsed header of a safetensors file. */
export interface SafetensorsHeader {
  /** Tensor entries in header order. */
  entries: Record<string, SafetensorsEntry>;
  /** `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
  /** Byte offset of the data section (8 + JSON header length). */
  dataStart: number;
}

/** A whole safetensors file. */
export interface SafetensorsFile {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const ITEM_SIZE: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, I32: 4, I64: 8 };
const METADATA_KEY = "__metadata__";

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === "string" && Object.hasOwn(ITEM_SIZE, s);
}

function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function allocate(dtype: SafetensorsDtype, n: number): SafetensorsData {
  switch (dtype) {
    case "F32":
      return new Float32Array(n);
    case "F16":
      return new Uint16Array(n);
    case "I32":
      return new Int32Array(n);
    case "I64":
      return new BigInt64Array(n);
  }
}

/** Whether `data` is the typed-array class that `dtype` uses. */
function matchesDtype(dtype: SafetensorsDtype, data: SafetensorsData): boolean {
  switch (dtype) {
    case "F32":
      return data instanceof Float32Array;
    case "F16":
      return data instanceof Uint16Array;
    case "I32":
      return data instanceof Int32Array;
    case "I64":
      return data instanceof BigInt64Array;
  }
}

function isShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * Write tensors to a safetensors file atomically: header JSON padded with spaces to a multiple of 8 bytes,
 * tensors laid out back to back in insertion order.
 * @param path target file (parent directories are created)
 * @param tensors name → `{dtype, shape, data}`, data `[product(shape)]` row-major
 * @param metadata optional string → string map stored as `__metadata__`
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, SafetensorsTensor>,
  metadata?: Record<string, string>,
): void {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string")
        throw new SaerchError(`writeSafetensors(${path}): metadata "${k}" is not a string`);
    }
    header[METADATA_KEY] = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const where = `writeSafetensors(${path}): tensor "${name}"`;
    if (name === METADATA_KEY) throw new SaerchError(`${where}: that name is reserved`);
    if (!isDtype(t.dtype)) throw new SaerchError(`${where}: unsupported dtype ${JSON.stringify(t.dtype)}`);
    if (!matchesDtype(t.dtype, t.data)) {
      throw new SaerchError(`${where}: data is a ${t.data.constructor.name}, which does not hold ${t.dtype}`);
    }
    if (!isShape(t.shape)) throw new SaerchError(`${where}: shape must be non-negative integers`);
    const n = shapeSize(t.shape);
    if (t.data.length !== n) {
      throw new SaerchError(
        `${where}: data has ${t.data.length} elements but shape [${t.shape.join(", ")}] needs ${n}`,
      );
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  const jsonLen = Buffer.byteLength(json, "utf8");
  json += " ".repeat((8 - (jsonLen % 8)) % 8);
  const json8 = Buffer.from(json, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json8.byteLength));
  writeFileAtomic(path, [len, json8, ...chunks]);
}

/** Parse and validate the header from an open file of `size` bytes. */
function readHeaderFd(file: string, fd: number, size: number): SafetensorsHeader {
  if (size < 8) throw new FormatError(file, `too short for a safetensors file (${size} bytes)`);
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = lenBuf.readBigUInt64LE(0);
  if (headerLen > BigInt(size - 8)) {
    throw new FormatError(file, `header length ${headerLen} runs past the end of the file (${size} bytes)`);
  }
  const n = Number(headerLen);
  const raw = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const r = readSync(fd, raw, got, n - got, 8 + got);
    if (r === 0) break;
    got += r;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new FormatError(file, `safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new FormatError(file, "safetensors header is not a JSON object");
  }
  const dataStart = 8 + n;
  const dataSize = size - dataStart;
  const entries: Record<string, SafetensorsEntry> = {};
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new FormatError(file, "__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") throw new FormatError(file, `__metadata__ "${k}" is not a string`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const where = `tensor "${name}"`;
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (e === null || typeof e !== "object")
      throw new FormatError(file, `${where}: header entry is not an object`);
    if (!isDtype(e.dtype)) {
      throw new FormatError(
        file,
        `${where}: unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(ITEM_SIZE).join(", ")})`,
      );
    }
    if (!isShape(e.shape)) throw new FormatError(file, `${where}: invalid shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new FormatError(file, `${where}: invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataSize) {
      throw new FormatError(
        file,
        `${where}: data_offsets [${begin}, ${end}] out of range (data section has ${dataSize} bytes)`,
      );
    }
    const expected = shapeSize(e.shape) * ITEM_SIZE[e.dtype];
    if (end - begin !== expected) {
      throw new FormatError(
        file,
        `${where}: data_offsets span ${end - begin} bytes but shape [${e.shape.join(", ")}] of ${e.dtype} needs ${expected}`,
      );
    }
    entries[name] = { dtype: e.dtype, shape: e.shape, dataOffsets: [begin, end] };
  }
  // Overlap check: sorted by begin, each tensor must start at or after the previous one's end.
  const sorted = Object.entries(entries).sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  for (let i = 1; i < sorted.length; i++) {
    const [prevName, prev] = sorted[i - 1]!;
    const [name, cur] = sorted[i]!;
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new FormatError(file, `tensor "${name}": data_offsets overlap those of tensor "${prevName}"`);
    }
  }
  return { entries, metadata, dataStart };
}

function withFile<T>(path: string, fn: (fd: number, size: number) => T): T {
  const fd = openSync(path, "r");
  try {
    return fn(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/**
 * Read and validate only the header of a safetensors file.
 * @param path file to read
 * @returns tensor entries (dtype, shape, dataOffsets), metadata and the data section's byte offset
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  return withFile(path, (fd, size) => readHeaderFd(path, fd, size));
}

/**
 * Read a whole safetensors file; each tensor's data is copied into its own aligned typed array.
 * @param path file to read
 * @returns name → `{dtype, shape, data}` (data `[product(shape)]` row-major), and the metadata
 */
export function readSafetensors(path: string): SafetensorsFile {
  return withFile(path, (fd, size) => {
    const header = readHeaderFd(path, fd, size);
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const [name, e] of Object.entries(header.entries)) {
      const data = allocate(e.dtype, shapeSize(e.shape));
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      let got = 0;
      while (got < bytes.byteLength) {
        const chunk = Math.min(bytes.byteLength - got, 1 << 30);
        const r = readSync(fd, bytes, got, chunk, header.dataStart + e.dataOffsets[0] + got);
        if (r === 0) throw new FormatError(path, `tensor "${name}": file ends inside its data`);
        got += r;
      }
      tensors[name] = { dtype: e.dtype, shape: e.shape, data };
    }
    return { tensors, metadata: header.metadata };
  });
}
