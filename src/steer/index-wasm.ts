/**
 * The exact index's engine (METHOD.md §7, "rank all abstracts by dot product"): WebAssembly SIMD scan kernels
 * and the shards that run them, one per thread.
 *
 *   scan     for shard rows r, r + Q, r + 2Q, r + 3Q at once and each query j:  score = Σ_i q_j[i] · x[i]
 *            float32 rows: read as is;  float16 rows: each half h widened in-register to the f32 bits
 *            sign | (h & 0x7FFF) << 13 = x · 2⁻¹¹² (16-bit shifts, a mask and a word interleave: 5 ops per
 *            8 halves; the sign-extend/shift/mask route took 7 and ran 17 % slower), so the query is stored
 *            pre-scaled by 2¹¹²
 *   stream   Σ over the stored bytes as i32 lanes, in the same four streams: the memory-bandwidth bound
 *
 * A shard is one shared `WebAssembly.Memory` holding a contiguous slice of the rows, row-major, as four
 * regions of Q rows; the scan walks the four regions side by side, i.e. four long sequential streams per
 * thread. (Measured here at 205 MB: one stream per thread reads ≈ 23 GB/s over two threads, four ≈ 32 GB/s;
 * four adjacent rows, 2 KiB apart, defeat the prefetcher and ran at under half that.) Every query of a batch
 * passes over the same four rows while they are in L1, so the matrix is read once per batch. The memory also
 * holds the shard's copy of the queries, a chunk of scores and the running top-k heaps. The calling thread
 * runs shard 0; worker threads run the others; each selects its own top-k with `scanShard` (one JS function,
 * the same source in every thread) and the caller merges.
 *
 * WebAssembly SIMD has no half-precision type and the project's assembler (src/compute/wasm-assembler.ts)
 * no integer lane ops, so the kernels are emitted here byte by byte.
 */
import { Worker } from "node:worker_threads";
import { SaerchError } from "../core/errors.js";
import { WASM_MAX_PAGES, WASM_PAGE, wasmApi, type WasmMemory } from "../compute/wasm-assembler.js";

/** Element type of the stored rows. */
export type IndexDtype = "float32" | "float16";

/** Bytes per stored element. */
export const DTYPE_BYTES: Record<IndexDtype, number> = { float32: 4, float16: 2 };
/** Rows per kernel group (the scan's unrolling): shards hold a multiple of it, padded with zero rows. */
export const ROW_GROUP = 4;
/** Stored row length is a multiple of this many elements (one f16 vector, two f32 vectors), zero-padded. */
export const DIM_ALIGN = 8;
/** Rows scored per kernel call before their scores are scanned: 1024 rows × 4 B = 4 KiB of scores per query (L1). */
export const CHUNK_ROWS = 1024;
/** Most queries scored in one pass over the matrix (larger batches are split). */
export const MAX_PASS_QUERIES = 64;
/** Heap entries a shard holds per pass at least (≥ its rows, so k = N always fits one query). */
export const MIN_HEAP_ENTRIES = 1 << 16;
/** 2¹¹²: a half's bits shifted into an f32 read as x · 2⁻¹¹², so the query is multiplied by this. */
export const F16_QUERY_SCALE = 2 ** 112;
/** Largest |q_i| the pre-scale leaves finite without rescaling (2¹⁶; larger queries are scaled by 2⁻ᵉ). */
const F16_QUERY_LIMIT_LOG2 = 14;
/** Mask of the high word of a widened half: the sign (bit 15) and the half's bits 14–3 (bits 11–0). */
const F16_HIGH_WORD_MASK = 0x8fff;
/** i8x16.shuffle lanes interleaving the low (high) four 16-bit words of two vectors: a0 b0 a1 b1 … */
const INTERLEAVE_LOW_WORDS = [0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23];
const INTERLEAVE_HIGH_WORDS = [8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31];
/** How long the caller waits for a worker's shard before declaring it stuck. */
const WORKER_TIMEOUT_MS = 120_000;
/** Int32 slots per shard of the control block: [state, queries in the pass, heap entries per query, stream checksum]. */
const CONTROL_INTS = 4;
/** Bytes per worker for its last error message. */
const ERROR_BYTES = 1024;
const STATE_IDLE = 0;
const STATE_SCAN = 1;
const STATE_STREAM = 2;
const STATE_EXIT = -1;
const STATE_FAILED = -2;

// ---------------------------------------------------------------------------------------------------------
// A byte-level emitter: just what the two kernels need (i32 and v128 locals, loops, loads, lane ops).
// ---------------------------------------------------------------------------------------------------------

const T_I32 = 0x7f;
const T_V128 = 0x7b;

/** Instructions without immediates (SIMD ones: 0xfd prefix + LEB128 opcode). */
const CODES = {
  "i32.add": [0x6a],
  "i32.sub": [0x6b],
  "i32.mul": [0x6c],
  "i32.shl": [0x74],
  "f32.add": [0x92],
  "i16x8.splat": [0xfd, 0x10],
  "i32x4.splat": [0xfd, 0x11],
  "f32x4.splat": [0xfd, 0x13],
  "v128.and": [0xfd, 0x4e],
  "i32x4.extend_low_i16x8_s": [0xfd, 0xa7, 0x01],
  "i32x4.extend_high_i16x8_s": [0xfd, 0xa8, 0x01],
  "i16x8.shl": [0xfd, 0x8b, 0x01],
  "i16x8.shr_s": [0xfd, 0x8c, 0x01],
  "i32x4.shl": [0xfd, 0xab, 0x01],
  "i32x4.add": [0xfd, 0xae, 0x01],
  "f32x4.add": [0xfd, 0xe4, 0x01],
  "f32x4.mul": [0xfd, 0xe6, 0x01],
} as const;
type Code = keyof typeof CODES;

function uleb(n: number): number[] {
  const out: number[] = [];
  let x = n >>> 0;
  do {
    let byte = x & 0x7f;
    x >>>= 7;
    if (x !== 0) byte |= 0x80;
    out.push(byte);
  } while (x !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  let x = n | 0;
  for (;;) {
    const byte = x & 0x7f;
    x >>= 7;
    if ((x === 0 && (byte & 0x40) === 0) || (x === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** One function's body: named i32 params, named locals, a stack-machine instruction stream. */
class Kernel {
  readonly code: number[] = [];
  private readonly slots = new Map<string, number>();
  private readonly localTypes: number[] = [];

  constructor(
    readonly name: string,
    readonly params: string[],
    readonly result: number | undefined,
    locals: Array<[string, number]>,
  ) {
    for (const p of params) this.slots.set(p, this.slots.size);
    for (const [n, t] of locals) {
      this.slots.set(n, this.slots.size);
      this.localTypes.push(t);
    }
  }

  private slot(n: string): number {
    const s = this.slots.get(n);
    if (s === undefined) throw new Error(`index kernel ${this.name}: no local ${n}`);
    return s;
  }
  get(...names: string[]): this {
    for (const n of names) this.code.push(0x20, ...uleb(this.slot(n)));
    return this;
  }
  set(n: string): this {
    this.code.push(0x21, ...uleb(this.slot(n)));
    return this;
  }
  i32(v: number): this {
    this.code.push(0x41, ...sleb(v));
    return this;
  }
  f32(v: number): this {
    this.code.push(0x43, ...new Uint8Array(Float32Array.of(v).buffer));
    return this;
  }
  op(...codes: Code[]): this {
    for (const c of codes) this.code.push(...CODES[c]);
    return this;
  }
  /** v128.load at the address on the stack + offset (16-byte alignment hint). */
  load(offset: number): this {
    this.code.push(0xfd, 0x00, 4, ...uleb(offset));
    return this;
  }
  /** f32.store of (address, value) on the stack at + offset. */
  storeF32(offset: number): this {
    this.code.push(0x38, 2, ...uleb(offset));
    return this;
  }
  /** i8x16.shuffle of the two v128 on the stack by 16 byte lanes (0–15 the first, 16–31 the second). */
  shuffle(lanes: readonly number[]): this {
    this.code.push(0xfd, 0x0d, ...lanes);
    return this;
  }
  /** f32x4.extract_lane i (or i32x4.extract_lane with `int`). */
  lane(i: number, int = false): this {
    this.code.push(0xfd, int ? 0x1b : 0x1f, i);
    return this;
  }
  /** `for (v = from; v < to; v += step) body` (unsigned compare); from / to push one i32 each. */
  loop(v: string, from: () => void, to: () => void, step: number, body: () => void): this {
    from();
    this.set(v);
    this.code.push(0x02, 0x40, 0x03, 0x40);
    this.get(v);
    to();
    this.code.push(0x4f, 0x0d, 1); // i32.ge_u; br_if 1 (leave)
    body();
    this.get(v).i32(step).op("i32.add").set(v);
    this.code.push(0x0c, 0, 0x0b, 0x0b);
    return this;
  }
  encode(): number[] {
    const body = [...uleb(this.localTypes.length), ...this.localTypes.flatMap((t) => [1, t]), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}
function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}
function wasmName(s: string): number[] {
  const b = Array.from(new TextEncoder().encode(s));
  return [...uleb(b.length), ...b];
}

/** A module importing a shared memory `env.mem` and exporting `kernels`. */
function assemble(kernels: Kernel[]): Uint8Array {
  const types = kernels.map((k) => [0x60, ...vec(k.params.map(() => [T_I32])), ...(k.result ? [1, k.result] : [0])]);
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...wasmName("env"), ...wasmName("mem"), 0x02, 0x03, ...uleb(1), ...uleb(WASM_MAX_PAGES)]])),
    ...section(3, vec(kernels.map((_, i) => uleb(i)))),
    ...section(7, vec(kernels.map((k, i) => [...wasmName(k.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(kernels.map((k) => k.encode()))),
  ]);
}

/**
 * scan(q, nq, out, r0, r1): for r0 ≤ r < r1 < Q and queries j < nq (at q + j·dPad·4, f32), the four rows
 * r + g·Q (g < ROW_GROUP; one per region of the shard, row stride `rowBytes`) at once:
 * out[(j·ROW_GROUP + g)·CHUNK_ROWS + r − r0] = q_j · x_{r + g·Q} as f32. Two f32x4 accumulators per row keep
 * the adds off one dependency chain; the four regions are four sequential streams through memory.
 */
function scanKernel(dPad: number, dtype: IndexDtype, regionRows: number): Kernel {
  const rowBytes = dPad * DTYPE_BYTES[dtype];
  const regionBytes = regionRows * rowBytes;
  const queryBytes = dPad * 4;
  const acc = Array.from({ length: 2 * ROW_GROUP }, (_, i) => `a${i}`);
  const f = new Kernel("scan", ["q", "nq", "out", "r0", "r1"], undefined, [
    ["r", T_I32], ["j", T_I32], ["qa", T_I32], ["pq", T_I32], ["pr", T_I32], ["o", T_I32], ["row", T_I32],
    ...acc.map((a): [string, number] => [a, T_V128]),
    ["q0", T_V128], ["q1", T_V128], ["m", T_V128], ["v", T_V128], ["w", T_V128],
  ]);
  if (dtype === "float16") f.i32(F16_HIGH_WORD_MASK).op("i16x8.splat").set("m");
  f.loop("r", () => f.get("r0"), () => f.get("r1"), 1, () => {
    f.get("r").i32(rowBytes).op("i32.mul").set("row");
    f.get("r", "r0").op("i32.sub").i32(2).op("i32.shl").get("out").op("i32.add").set("o");
    f.get("q").set("qa");
    f.loop("j", () => f.i32(0), () => f.get("nq"), 1, () => {
      f.f32(0).op("f32x4.splat").set("a0");
      for (const a of acc.slice(1)) f.get("a0").set(a);
      f.get("row").set("pr");
      f.loop("pq", () => f.get("qa"), () => f.get("qa").i32(queryBytes).op("i32.add"), 32, () => {
        f.get("pq").load(0).set("q0");
        f.get("pq").load(16).set("q1");
        for (let g = 0; g < ROW_GROUP; g++) {
          const [lo, hi] = [acc[2 * g]!, acc[2 * g + 1]!];
          const at = g * regionBytes;
          if (dtype === "float32") {
            f.get(lo).get("pr").load(at).get("q0").op("f32x4.mul", "f32x4.add").set(lo);
            f.get(hi).get("pr").load(at + 16).get("q1").op("f32x4.mul", "f32x4.add").set(hi);
          } else {
            // Per 16-bit lane: low word = h << 13 (mantissa bits 2–0 on top), high word = (h >>s 3) & 0x8FFF
            // (sign, three zeros, bits 14–3); interleaving the words gives each half's f32 bits in order.
            f.get("pr").load(at).set("v");
            f.get("v").i32(13).op("i16x8.shl").set("w");
            f.get("v").i32(3).op("i16x8.shr_s").get("m").op("v128.and").set("v");
            f.get(lo).get("w", "v").shuffle(INTERLEAVE_LOW_WORDS).get("q0").op("f32x4.mul", "f32x4.add").set(lo);
            f.get(hi).get("w", "v").shuffle(INTERLEAVE_HIGH_WORDS).get("q1").op("f32x4.mul", "f32x4.add").set(hi);
          }
        }
        f.get("pr").i32(DIM_ALIGN * DTYPE_BYTES[dtype]).op("i32.add").set("pr");
      });
      for (let g = 0; g < ROW_GROUP; g++) {
        const [lo, hi] = [acc[2 * g]!, acc[2 * g + 1]!];
        f.get("o");
        f.get(lo, hi).op("f32x4.add").set(lo);
        f.get(lo).lane(0).get(lo).lane(1).op("f32.add").get(lo).lane(2).op("f32.add").get(lo).lane(3).op("f32.add");
        f.storeF32(g * CHUNK_ROWS * 4);
      }
      f.get("o").i32(ROW_GROUP * CHUNK_ROWS * 4).op("i32.add").set("o");
      f.get("qa").i32(queryBytes).op("i32.add").set("qa");
    });
  });
  return f;
}

/**
 * stream(a0, a1) → Σ of the bytes at [a0, a1) + g·regionBytes for the four regions g, read as i32 lanes
 * (wrapping; a1 − a0 a multiple of 32), lane 0 — the same four sequential streams as the scan.
 */
function streamKernel(regionBytes: number): Kernel {
  const acc = Array.from({ length: 2 * ROW_GROUP }, (_, i) => `s${i}`);
  const f = new Kernel("stream", ["a0", "a1"], T_I32, [["p", T_I32], ...acc.map((a): [string, number] => [a, T_V128])]);
  f.i32(0).op("i32x4.splat").set("s0");
  for (const a of acc.slice(1)) f.get("s0").set(a);
  f.loop("p", () => f.get("a0"), () => f.get("a1"), 32, () => {
    for (let g = 0; g < ROW_GROUP; g++) {
      for (let u = 0; u < 2; u++) f.get(acc[2 * g + u]!).get("p").load(g * regionBytes + 16 * u).op("i32x4.add").set(acc[2 * g + u]!);
    }
  });
  for (let u = 1; u < acc.length; u++) f.get("s0", acc[u]!).op("i32x4.add").set("s0");
  // Lane 0 as the result: enough to keep the loads alive; the value itself means nothing.
  f.get("s0").lane(0, true);
  return f;
}

/** The module of both kernels for shards of ROW_GROUP regions of `regionRows` rows of `dPad` elements of `dtype`. */
export function indexKernelModule(dPad: number, dtype: IndexDtype, regionRows: number): Uint8Array {
  if (dPad % DIM_ALIGN !== 0 || dPad < DIM_ALIGN) throw new SaerchError(`index kernels: padded dimension ${dPad} is not a positive multiple of ${DIM_ALIGN}`);
  if (!Number.isInteger(regionRows) || regionRows < 1) throw new SaerchError(`index kernels: region rows must be a positive integer, got ${regionRows}`);
  return assemble([scanKernel(dPad, dtype, regionRows), streamKernel(regionRows * dPad * DTYPE_BYTES[dtype])]);
}

// ---------------------------------------------------------------------------------------------------------
// One shard's layout and its top-k scan (runs in the caller for shard 0, in a worker for the others).
// ---------------------------------------------------------------------------------------------------------

/** Byte offsets within a shard's memory. */
export interface ShardLayout {
  /** Real rows in the shard (its first `rows` of ROW_GROUP · regionRows stored rows; the rest are zero). */
  rows: number;
  /** Rows per region Q: region g holds stored rows [g·Q, (g+1)·Q), row-major from address 0. */
  regionRows: number;
  /** Bytes of one region. */
  regionBytes: number;
  /** The stream kernel's end address within region 0 (regionBytes rounded down to 32). */
  streamEnd: number;
  /** Query block `[MAX_PASS_QUERIES, dPad]` f32. */
  queries: number;
  /** Scores `[MAX_PASS_QUERIES, ROW_GROUP, CHUNK_ROWS]` f32. */
  scores: number;
  /** Heap scores `[heapEntries]` f32. */
  heapScores: number;
  /** Heap rows `[heapEntries]` i32 (shard-local). */
  heapRows: number;
  heapEntries: number;
  /** Total bytes (a whole number of pages). */
  totalBytes: number;
}

const align = (x: number, a: number): number => Math.ceil(x / a) * a;

/** The layout of a shard of `rows` real rows in ROW_GROUP regions of `regionRows` rows of `dPad` `dtype` elements. */
export function shardLayout(rows: number, regionRows: number, dPad: number, dtype: IndexDtype): ShardLayout {
  const regionBytes = regionRows * dPad * DTYPE_BYTES[dtype];
  const queries = align(ROW_GROUP * regionBytes, 128);
  const scores = align(queries + MAX_PASS_QUERIES * dPad * 4, 64);
  const heapEntries = Math.max(MIN_HEAP_ENTRIES, rows);
  const heapScores = align(scores + MAX_PASS_QUERIES * ROW_GROUP * CHUNK_ROWS * 4, 64);
  const heapRows = align(heapScores + heapEntries * 4, 64);
  const totalBytes = align(heapRows + heapEntries * 4, WASM_PAGE);
  return { rows, regionRows, regionBytes, streamEnd: Math.floor(regionBytes / 32) * 32, queries, scores, heapScores, heapRows, heapEntries, totalBytes };
}

/**
 * One shard's pass: score every row against the `nq` queries already in the query block, chunk by chunk, and
 * keep each query's `kk` best (score desc, then lower row) as a heap, then sort it best first in place:
 * query j's list is at heapScores / heapRows + j·kk. Self-contained (its source is also run in the workers).
 * @throws Error if a score is NaN
 */
export function scanShard(
  scan: (q: number, nq: number, out: number, r0: number, r1: number) => void,
  f32: Float32Array,
  i32: Int32Array,
  lay: { rows: number; regionRows: number; queries: number; scores: number; heapScores: number; heapRows: number },
  chunkRows: number,
  groups: number,
  nq: number,
  kk: number,
): void {
  const hs0 = lay.heapScores / 4;
  const hr0 = lay.heapRows / 4;
  const sc0 = lay.scores / 4;
  const q = lay.regionRows;
  let size = 0;
  for (let c0 = 0; c0 < q; c0 += chunkRows) {
    const c1 = Math.min(q, c0 + chunkRows);
    scan(lay.queries, nq, lay.scores, c0, c1);
    let filled = size;
    for (let j = 0; j < nq; j++) {
      const hS = hs0 + j * kk;
      const hR = hr0 + j * kk;
      let n = size;
      for (let g = 0; g < groups; g++) {
        const first = g * q + c0;
        const real = Math.min(c1 - c0, lay.rows - first);
        const sBase = sc0 + (j * groups + g) * chunkRows;
        let i = 0;
        // Fill: a min-heap with the worst kept entry at the root (lower score, or equal score and higher row).
        for (; i < real && n < kk; i++) {
          const s = f32[sBase + i]!;
          if (s !== s) throw new Error(`score of shard row ${first + i} is NaN`);
          const r = first + i;
          let c = n++;
          while (c > 0) {
            const p = (c - 1) >> 1;
            const ps = f32[hS + p]!;
            if (ps < s || (ps === s && i32[hR + p]! > r)) break;
            f32[hS + c] = ps;
            i32[hR + c] = i32[hR + p]!;
            c = p;
          }
          f32[hS + c] = s;
          i32[hR + c] = r;
        }
        let worst = n > 0 ? f32[hS]! : 0;
        for (; i < real; i++) {
          const s = f32[sBase + i]!;
          if (!(s >= worst)) {
            if (s !== s) throw new Error(`score of shard row ${first + i} is NaN`);
            continue;
          }
          const r = first + i;
          if (s === worst && r > i32[hR]!) continue;
          let c = 0;
          for (;;) {
            const l = 2 * c + 1;
            if (l >= kk) break;
            let w = l;
            let ws = f32[hS + l]!;
            if (l + 1 < kk) {
              const rs = f32[hS + l + 1]!;
              if (rs < ws || (rs === ws && i32[hR + l + 1]! > i32[hR + l]!)) {
                w = l + 1;
                ws = rs;
              }
            }
            if (s < ws || (s === ws && r > i32[hR + w]!)) break;
            f32[hS + c] = ws;
            i32[hR + c] = i32[hR + w]!;
            c = w;
          }
          f32[hS + c] = s;
          i32[hR + c] = r;
          worst = f32[hS]!;
        }
      }
      filled = n;
    }
    size = filled;
  }
  // Heap → sorted best first: move the worst to the end, one at a time.
  for (let j = 0; j < nq; j++) {
    const hS = hs0 + j * kk;
    const hR = hr0 + j * kk;
    for (let end = size - 1; end > 0; end--) {
      const s = f32[hS + end]!;
      const r = i32[hR + end]!;
      f32[hS + end] = f32[hS]!;
      i32[hR + end] = i32[hR]!;
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= end) break;
        let w = l;
        let ws = f32[hS + l]!;
        if (l + 1 < end) {
          const rs = f32[hS + l + 1]!;
          if (rs < ws || (rs === ws && i32[hR + l + 1]! > i32[hR + l]!)) {
            w = l + 1;
            ws = rs;
          }
        }
        if (s < ws || (s === ws && r > i32[hR + w]!)) break;
        f32[hS + c] = ws;
        i32[hR + c] = i32[hR + w]!;
        c = w;
      }
      f32[hS + c] = s;
      i32[hR + c] = r;
    }
  }
}

/** The worker's loop (plain JS): instantiate the kernels on its shard's memory, then serve passes. */
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, control, errors, slot, lay, chunkRows } = workerData;
const k = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
const f32 = new Float32Array(memory.buffer);
const i32 = new Int32Array(memory.buffer);
const ctl = new Int32Array(control, slot * ${CONTROL_INTS * 4}, ${CONTROL_INTS});
const errorBytes = new Uint8Array(errors, slot * ${ERROR_BYTES}, ${ERROR_BYTES});
const scanShard = ${scanShard.toString()};
for (;;) {
  const cmd = Atomics.load(ctl, 0);
  if (cmd === ${STATE_EXIT}) break;
  if (cmd !== ${STATE_SCAN} && cmd !== ${STATE_STREAM}) {
    Atomics.wait(ctl, 0, cmd);
    continue;
  }
  let next = ${STATE_IDLE};
  try {
    if (cmd === ${STATE_SCAN}) scanShard(k.scan, f32, i32, lay, chunkRows, ${ROW_GROUP}, ctl[1], ctl[2]);
    else ctl[3] = k.stream(0, lay.streamEnd) | 0;
  } catch (err) {
    next = ${STATE_FAILED};
    const text = new TextEncoder().encode(String(err && err.stack ? err.stack : err)).subarray(0, ${ERROR_BYTES - 1});
    errorBytes.fill(0);
    errorBytes.set(text);
  }
  Atomics.store(ctl, 0, next);
  Atomics.notify(ctl, 0);
}
`;

/** One shard as the caller sees it. */
export interface Shard {
  /** First index position held. */
  start: number;
  lay: ShardLayout;
  memory: WasmMemory;
  f32: Float32Array;
  i32: Int32Array;
  u16: Uint16Array;
}

/**
 * The shards of one index and the threads that run them. Shard 0 runs on the calling thread, shard t ≥ 1 on
 * worker thread t (started by `start`, after the rows are written).
 */
export class ShardPool {
  readonly shards: Shard[];
  private readonly workers: Worker[] = [];
  private readonly control: SharedArrayBuffer;
  private readonly errors: SharedArrayBuffer;
  private readonly kernels: { scan: (q: number, nq: number, out: number, r0: number, r1: number) => void; stream: (a0: number, a1: number) => number };
  private readonly module: object;
  private closed = false;

  /**
   * @param count index rows N, split into `threads` contiguous shards of whole row groups
   * @param dPad stored row length (a multiple of DIM_ALIGN)
   */
  constructor(count: number, dPad: number, dtype: IndexDtype, threads: number) {
    // Every shard has the same shape (ROW_GROUP regions of Q rows), so one module serves them all.
    const regionRows = Math.ceil(count / (threads * ROW_GROUP));
    const shardRows = ROW_GROUP * regionRows;
    const used = Math.ceil(count / shardRows);
    this.shards = [];
    for (let t = 0; t < used; t++) {
      const start = t * shardRows;
      const end = Math.min(count, start + shardRows);
      const lay = shardLayout(end - start, regionRows, dPad, dtype);
      const pages = lay.totalBytes / WASM_PAGE;
      if (pages > WASM_MAX_PAGES) {
        throw new SaerchError(
          `exact index: a shard of ${(end - start).toLocaleString("en-US")} rows × ${dPad} ${dtype} needs ${(lay.totalBytes / 2 ** 30).toFixed(2)} GiB, over WebAssembly's 4 GiB per memory`,
          dtype === "float32" ? 'use dtype "float16" (half the bytes) or more threads (one shard each)' : "use more threads (one shard each)",
        );
      }
      let memory: WasmMemory;
      try {
        memory = new wasmApi.Memory({ initial: pages, maximum: pages, shared: true });
      } catch (err) {
        throw new SaerchError(
          `exact index: could not allocate ${(lay.totalBytes / 2 ** 20).toFixed(0)} MiB of WebAssembly memory for shard ${t}: ${err instanceof Error ? err.message : String(err)}`,
          'free memory, or use dtype "float16"',
        );
      }
      const buf = memory.buffer;
      this.shards.push({ start, lay, memory, f32: new Float32Array(buf), i32: new Int32Array(buf), u16: new Uint16Array(buf) });
    }
    const bytes = indexKernelModule(dPad, dtype, regionRows);
    this.module = new wasmApi.Module(bytes);
    const inst = new wasmApi.Instance(this.module, { env: { mem: this.shards[0]!.memory } });
    this.kernels = inst.exports as unknown as ShardPool["kernels"];
    this.control = new SharedArrayBuffer(CONTROL_INTS * 4 * this.shards.length);
    this.errors = new SharedArrayBuffer(ERROR_BYTES * this.shards.length);
  }

  /** Threads in use (one per shard). */
  get threads(): number {
    return this.shards.length;
  }

  /** Start the worker threads (after the rows are in place). */
  start(): void {
    for (let t = 1; t < this.shards.length; t++) {
      const s = this.shards[t]!;
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: this.module, memory: s.memory, control: this.control, errors: this.errors, slot: t, lay: s.lay, chunkRows: CHUNK_ROWS },
      });
      worker.unref();
      this.workers.push(worker);
    }
  }

  private ctl(t: number): Int32Array {
    return new Int32Array(this.control, t * CONTROL_INTS * 4, CONTROL_INTS);
  }

  /** Hand `state` (with args) to every worker, run `mine` here, then wait for them all. */
  private runAll(state: number, nq: number, kks: readonly number[], mine: () => void): void {
    if (this.closed) throw new SaerchError("exact index: search after close()", "build a new index");
    for (let t = 1; t < this.shards.length; t++) {
      const c = this.ctl(t);
      c[1] = nq;
      c[2] = kks[t] ?? 0;
      Atomics.store(c, 0, state);
      Atomics.notify(c, 0);
    }
    let error: unknown;
    try {
      mine();
    } catch (err) {
      error = err;
    }
    let failed: string | undefined;
    for (let t = 1; t < this.shards.length; t++) {
      const c = this.ctl(t);
      for (;;) {
        const now = Atomics.load(c, 0);
        if (now === STATE_IDLE) break;
        if (now === STATE_FAILED) {
          const b = new Uint8Array(this.errors, t * ERROR_BYTES, ERROR_BYTES);
          const end = b.indexOf(0);
          failed = `shard ${t}: ${new TextDecoder().decode(b.slice(0, end < 0 ? ERROR_BYTES : end))}`;
          Atomics.store(c, 0, STATE_IDLE);
          break;
        }
        if (Atomics.wait(c, 0, now, WORKER_TIMEOUT_MS) === "timed-out") {
          throw new SaerchError(`exact index: worker thread ${t} did not finish within ${WORKER_TIMEOUT_MS / 1000} s`);
        }
      }
    }
    if (error !== undefined) throw error;
    if (failed) throw new SaerchError(`exact index: the scan failed in ${failed}`);
  }

  /**
   * Score the `nq` queries already written to every shard's query block and leave each shard's `min(k, rows)`
   * best per query, sorted, in its heap region (see `scanShard`).
   * @returns per shard, the heap capacity per query used (kk)
   */
  scan(nq: number, k: number): number[] {
    const kks = this.shards.map((s) => Math.min(k, s.lay.rows));
    const s0 = this.shards[0]!;
    this.runAll(STATE_SCAN, nq, kks, () => scanShard(this.kernels.scan, s0.f32, s0.i32, s0.lay, CHUNK_ROWS, ROW_GROUP, nq, kks[0]!));
    return kks;
  }

  /** One read of every stored byte on every shard at once (the bandwidth bound); returns a checksum. */
  stream(): number {
    let sum = 0;
    this.runAll(STATE_STREAM, 0, [], () => {
      sum = this.kernels.stream(0, this.shards[0]!.lay.streamEnd);
    });
    for (let t = 1; t < this.shards.length; t++) sum += this.ctl(t)[3]!;
    return sum;
  }

  /** Stop the workers (the memories go with the last reference). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (let t = 1; t < this.shards.length; t++) {
      const c = this.ctl(t);
      Atomics.store(c, 0, STATE_EXIT);
      Atomics.notify(c, 0);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Powers of two the f16 query pre-scale divides by so that |q_i| · 2¹¹² stays finite: 2^e with e ≥ 0. */
export function f16QueryExponent(maxAbs: number): number {
  if (!(maxAbs > 0)) return 0;
  return Math.max(0, Math.ceil(Math.log2(maxAbs)) - F16_QUERY_LIMIT_LOG2);
}

