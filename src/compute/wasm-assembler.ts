/**
 * A minimal WebAssembly assembler (binary format, MVP + fixed-width SIMD): enough to write small numeric
 * kernels from TypeScript — one imported memory, functions over i32 / f32 / f64 / v128 locals, structured
 * loops. The SAE's CPU step kernels (src/sae/cpu-kernels.ts) are written with it; no toolchain, no binary blob.
 */

/** Value type i32 (also addresses into the memory). */
export const I32 = 0x7f;
/** Value type f32. */
export const F32 = 0x7d;
/** Value type f64. */
export const F64 = 0x7c;
/** Value type v128 (SIMD; four f32 lanes here). */
export const V128 = 0x7b;
/** A value type code. */
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Bytes per WebAssembly page. */
export const WASM_PAGE = 65_536;
/** Pages of the largest wasm32 memory (4 GiB). */
export const WASM_MAX_PAGES = 65_536;

/** The slice of the WebAssembly JS API the project uses (its `lib` has no DOM, where it is declared). */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number; maximum: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
/** A WebAssembly.Memory (its buffer is a SharedArrayBuffer when shared). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
/** The global `WebAssembly` object, typed. */
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Opcodes by their text-format names (SIMD ones carry the 0xfd prefix and LEB128 opcode). */
const OPS = {
  "i32.eqz": [0x45],
  "i32.eq": [0x46],
  "i32.ne": [0x47],
  "i32.lt_u": [0x49],
  "i32.ge_u": [0x4f],
  "f32.gt": [0x5e],
  "f32.ne": [0x5c],
  "i32.add": [0x6a],
  "i32.sub": [0x6b],
  "i32.mul": [0x6c],
  "i32.div_u": [0x6e],
  "i32.and": [0x71],
  "i32.or": [0x72],
  "i32.shl": [0x74],
  "i32.shr_u": [0x76],
  "f32.neg": [0x8c],
  "f32.sqrt": [0x91],
  "f32.add": [0x92],
  "f32.sub": [0x93],
  "f32.mul": [0x94],
  "f32.div": [0x95],
  "f32.max": [0x97],
  "f64.add": [0xa0],
  "f64.sub": [0xa1],
  "f64.mul": [0xa2],
  "f32.demote_f64": [0xb6],
  "f64.promote_f32": [0xbb],
  select: [0x1b],
  drop: [0x1a],
  "f32x4.splat": [0xfd, 0x13],
  "f32x4.neg": [0xfd, 0xe1, 0x01],
  "f32x4.sqrt": [0xfd, 0xe3, 0x01],
  "f32x4.add": [0xfd, 0xe4, 0x01],
  "f32x4.sub": [0xfd, 0xe5, 0x01],
  "f32x4.mul": [0xfd, 0xe6, 0x01],
  "f32x4.div": [0xfd, 0xe7, 0x01],
} as const;
/** An instruction without immediates. */
export type OpName = keyof typeof OPS;

/** Memory access instructions: opcode and natural alignment (log2 bytes). */
const MEM_OPS = {
  "i32.load": [[0x28], 2],
  "f32.load": [[0x2a], 2],
  "f64.load": [[0x2b], 3],
  "i32.store": [[0x36], 2],
  "f32.store": [[0x38], 2],
  "f64.store": [[0x39], 3],
  "v128.load": [[0xfd, 0x00], 4],
  "v128.store": [[0xfd, 0x0b], 4],
} as const;
/** A load or store (address, and for stores the value, on the stack). */
export type MemOpName = keyof typeof MEM_OPS;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function name(s: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(s));
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/**
 * One exported function, emitted instruction by instruction (a stack machine: operands are pushed by `get`,
 * constants and loads, consumed by ops and `set`). Locals are declared up front by name.
 */
export class WasmFunction {
  private readonly code: number[] = [];
  private readonly index = new Map<string, number>();
  private readonly localTypes: ValType[] = [];

  constructor(
    readonly name: string,
    readonly params: [string, ValType][],
    readonly result: ValType | undefined,
    locals: [string, ValType][],
  ) {
    for (const [n] of params) this.declare(n);
    for (const [n, type] of locals) {
      this.declare(n);
      this.localTypes.push(type);
    }
  }

  private declare(n: string): void {
    if (this.index.has(n)) throw new Error(`wasm assembler: ${this.name} declares ${n} twice`);
    this.index.set(n, this.index.size);
  }

  private local(n: string): number {
    const i = this.index.get(n);
    if (i === undefined) throw new Error(`wasm assembler: ${this.name} has no local ${n}`);
    return i;
  }

  /** Push local(s). */
  get(...names: string[]): this {
    for (const n of names) this.code.push(0x20, ...uleb(this.local(n)));
    return this;
  }
  /** Pop into a local. */
  set(n: string): this {
    this.code.push(0x21, ...uleb(this.local(n)));
    return this;
  }
  /** Push an i32 constant. */
  i32(v: number): this {
    this.code.push(0x41, ...sleb(v));
    return this;
  }
  /** Push an f32 constant. */
  f32(v: number): this {
    this.code.push(0x43, ...new Uint8Array(Float32Array.of(v).buffer));
    return this;
  }
  /** Push an f64 constant. */
  f64(v: number): this {
    this.code.push(0x44, ...new Uint8Array(Float64Array.of(v).buffer));
    return this;
  }
  /** Instructions without immediates, in order. */
  op(...names: OpName[]): this {
    for (const n of names) this.code.push(...OPS[n]);
    return this;
  }
  /** A load or store at the address on the stack plus a constant byte offset. */
  mem(n: MemOpName, offset = 0): this {
    const [opcode, align] = MEM_OPS[n];
    this.code.push(...opcode, align, ...uleb(offset));
    return this;
  }
  /** f32x4.extract_lane: the v128 on the stack → its f32 lane i. */
  lane(i: number): this {
    this.code.push(0xfd, 0x1f, i);
    return this;
  }
  /** `for (i = from; i < to; i += step) body` (unsigned compare); `from` and `to` push one i32 each. */
  loop(i: string, from: () => void, to: () => void, step: number, body: () => void): this {
    from();
    this.set(i);
    this.code.push(0x02, 0x40, 0x03, 0x40); // block { loop {
    this.get(i);
    to();
    this.op("i32.ge_u");
    this.code.push(0x0d, 1); // br_if 1: leave the block
    body();
    this.get(i).i32(step).op("i32.add").set(i);
    this.code.push(0x0c, 0, 0x0b, 0x0b); // br 0 (next iteration) } }
    return this;
  }
  /** `if (cond) then [else otherwise]`; `cond` pushes one i32. */
  if(cond: () => void, then: () => void, otherwise?: () => void): this {
    cond();
    this.code.push(0x04, 0x40);
    then();
    if (otherwise) {
      this.code.push(0x05);
      otherwise();
    }
    this.code.push(0x0b);
    return this;
  }

  /** The function's code-section entry. */
  encode(): number[] {
    const body = [...vec(this.localTypes.map((t) => [1, t])), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * A module importing memory `env.mem` (at least `minPages`, growable to 4 GiB; `shared` for use from worker
 * threads) and exporting `fns`.
 */
export function assembleModule(fns: WasmFunction[], minPages: number, shared = false): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.params.map(([, t]) => [t])), ...(f.result ? [1, f.result] : [0])]);
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name("env"), ...name("mem"), 0x02, shared ? 0x03 : 0x01, ...uleb(minPages), ...uleb(WASM_MAX_PAGES)]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map((f) => f.encode()))),
  ]);
}
