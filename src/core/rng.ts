/**
 * Seeded pseudo-random numbers: xoshiro128** (Blackman & Vigna, 2018) seeded through splitmix32.
 * Integer arithmetic only (Math.imul, `>>> 0`), so a seed gives the same uint32 stream on every platform.
 *
 * Seeding (the exact algorithm, so other implementations can reproduce it):
 * 1. The seed becomes one uint32 `s`:
 *    - a number must be a safe integer; with `lo = seed >>> 0` and `hi = Math.floor(seed / 2^32) >>> 0`,
 *      `s = lo ^ fmix32(hi)`. `fmix32(0) = 0`, so every seed in [0, 2^32) is used as is.
 *    - a string: FNV-1a over its UTF-16 code units (`h = 0x811c9dc5; h = imul(h ^ unit, 0x01000193)`),
 *      then `s = fmix32(h)`.
 * 2. splitmix32 with state `s` produces the four xoshiro words, in order: `s += 0x9e3779b9; out = fmix32(s)`.
 *    fmix32 (MurmurHash3's finaliser) is a bijection and the four counters differ, so at most one word is 0
 *    and the forbidden all-zero state cannot occur.
 *
 * fmix32(z): `z ^= z >>> 16; z = imul(z, 0x85ebca6b); z ^= z >>> 13; z = imul(z, 0xc2b2ae35); z ^= z >>> 16`.
 *
 * `nextUint32`, `float`, `int`, `shuffleInPlace`, `permutation` and `sample` are bit-identical everywhere.
 * `normal` uses Math.log / Math.sqrt / Math.cos / Math.sin; V8 (Node) computes these with its own fdlibm port,
 * so results agree across Node platforms, but the ECMAScript spec does not require other engines to agree.
 */
import { SaerchError } from "./errors.js";

const TWO_POW_32 = 4294967296;
const GOLDEN_GAMMA = 0x9e3779b9;

/** MurmurHash3 32-bit finaliser (a bijection on uint32; maps 0 to 0). */
function fmix32(x: number): number {
  let z = x | 0;
  z ^= z >>> 16;
  z = Math.imul(z, 0x85ebca6b);
  z ^= z >>> 13;
  z = Math.imul(z, 0xc2b2ae35);
  z ^= z >>> 16;
  return z >>> 0;
}

/** FNV-1a over UTF-16 code units followed by fmix32. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

/** Reduce a seed (safe integer or string) to one uint32, as described in the module header. */
function seedToUint32(seed: number | string): number {
  if (typeof seed === "string") return hashString(seed);
  if (!Number.isSafeInteger(seed)) {
    throw new SaerchError(`Rng seed must be a safe integer or a string, got ${seed}`);
  }
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  return (lo ^ fmix32(hi)) >>> 0;
}

/** Four xoshiro state words from splitmix32 started at `s`. */
function splitmix32Words(s: number): [number, number, number, number] {
  let state = s | 0;
  const next = (): number => {
    state = (state + GOLDEN_GAMMA) | 0;
    return fmix32(state);
  };
  return [next(), next(), next(), next()];
}

/** Something with a length and numeric indices that can be written: JS arrays and typed arrays. */
export interface WritableArrayLike<T> {
  readonly length: number;
  [index: number]: T;
}

/**
 * Seeded RNG (xoshiro128**, period 2^128 - 1). Not cryptographically secure.
 *
 * ```ts
 * const rng = new Rng(42);
 * const init = rng.fork("init"); // independent child stream, stable whatever else `rng` is used for
 * ```
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Second Box–Muller output, returned by the next `normal()` call. */
  private spare: number;
  private hasSpare: boolean;

  /** @param seed safe integer (negative allowed) or string; see the module header for the exact expansion. */
  constructor(seed: number | string) {
    const [a, b, c, d] = splitmix32Words(seedToUint32(seed));
    this.s0 = a | 0;
    this.s1 = b | 0;
    this.s2 = c | 0;
    this.s3 = d | 0;
    this.spare = 0;
    this.hasSpare = false;
  }

  /** Next uint32 in [0, 2^32): the xoshiro128** output `rotl(s1 * 5, 7) * 9`. */
  nextUint32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /**
   * Uniform float in [0, 1) with 32 random bits (one draw): `nextUint32() / 2^32`, a multiple of 2^-32.
   * Storing it in a Float32Array can round values within 2^-25 of 1 up to exactly 1.
   */
  float(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /**
   * Unbiased integer in [0, n), n an integer in [1, 2^32]. Rejection: draws below `2^32 mod n` are discarded
   * (fewer than half of all draws for any n), then the result is `draw % n`.
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new SaerchError(`Rng.int(n) needs an integer n in [1, 2^32], got ${n}`);
    }
    const threshold = TWO_POW_32 % n;
    let x = this.nextUint32();
    while (x < threshold) x = this.nextUint32();
    return x % n;
  }

  /**
   * Standard normal sample (Box–Muller). Each pair of uniforms yields two samples; the second is cached and
   * returned by the next call (and saved by `getState`). Uses `u1 = 1 - float()` in (0, 1], so |z| <= 6.67.
   */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u1 = 1 - this.float();
    const u2 = this.float();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }

  /**
   * Fill `outF32` with normal samples `mean + std * normal()`, in index order (same values as calling
   * `normal()` repeatedly). Mutates `outF32`; returns it.
   */
  fillNormalInPlace(outF32: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < outF32.length; i++) outF32[i] = mean + std * this.normal();
    return outF32;
  }

  /**
   * Fisher–Yates shuffle (from the last index down: swap i with `int(i + 1)`) of a JS array or typed array.
   * Mutates `array`; returns it.
   */
  shuffleInPlace<A extends WritableArrayLike<unknown>>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A uniformly random permutation of 0..n-1: `shuffleInPlace` of [0, 1, ..., n-1]. Returns `[n]`. */
  permutation(n: number): Int32Array {
    checkCount("permutation", "n", n);
    const outN = new Int32Array(n);
    for (let i = 0; i < n; i++) outN[i] = i;
    this.shuffleInPlace(outN);
    return outN;
  }

  /**
   * k distinct indices from [0, n), in random (not sorted) order: a uniformly random ordered k-sample.
   * Partial Fisher–Yates from the front (`for i < k: swap(i, i + int(n - i))`) on a virtual [0..n-1]; large
   * n with small k keeps only the touched entries in a Map, with the same output as the dense version.
   * Returns `[k]`.
   */
  sample(n: number, k: number): Int32Array {
    checkCount("sample", "n", n);
    checkCount("sample", "k", k);
    if (k > n) throw new SaerchError(`Rng.sample: k = ${k} exceeds n = ${n}; cannot draw distinct indices`);
    const outK = new Int32Array(k);
    if (n <= 1 << 20 || k * 8 >= n) {
      const poolN = new Int32Array(n);
      for (let i = 0; i < n; i++) poolN[i] = i;
      for (let i = 0; i < k; i++) {
        const j = i + this.int(n - i);
        const picked = poolN[j]!;
        poolN[j] = poolN[i]!;
        outK[i] = picked;
      }
      return outK;
    }
    const moved = new Map<number, number>();
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const picked = moved.get(j) ?? j;
      moved.set(j, moved.get(i) ?? i);
      outK[i] = picked;
    }
    return outK;
  }

  /**
   * Child stream derived from this stream's current state and `label`, without advancing this stream: the
   * same parent state and label always give the same child; different labels give unrelated streams.
   * Child word j = chain of fmix32 over (hash(label) ^ (j + 1) * 0x9e3779b9, s0, s1, s2, s3).
   */
  fork(label: string | number): Rng {
    const labelHash = typeof label === "string" ? hashString(label) : seedToUint32(label);
    const parent = [this.s0, this.s1, this.s2, this.s3];
    const words = [0, 0, 0, 0];
    for (let j = 0; j < 4; j++) {
      let h = fmix32(labelHash ^ Math.imul(j + 1, GOLDEN_GAMMA));
      for (const w of parent) h = fmix32((h ^ w) + GOLDEN_GAMMA);
      words[j] = h;
    }
    if (words.every((w) => w === 0)) words[0] = 1;
    return Rng.fromState([words[0]!, words[1]!, words[2]!, words[3]!, 0, 0]);
  }

  /**
   * Snapshot for checkpoint resume: `[s0, s1, s2, s3, hasSpare (0 | 1), spare]`, state words as uint32.
   * Plain numbers, so JSON round-trips it exactly.
   */
  getState(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0, this.hasSpare ? 1 : 0, this.spare];
  }

  /** Rebuild an Rng from `getState()` output; it continues the identical stream (spare normal included). */
  static fromState(state: readonly number[]): Rng {
    if (state.length !== 6) {
      throw new SaerchError(
        `Rng.fromState expects 6 numbers [s0, s1, s2, s3, hasSpare, spare], got ${state.length}`,
      );
    }
    const words = state.slice(0, 4);
    for (const w of words) {
      if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32) {
        throw new SaerchError(`Rng.fromState: state words must be uint32, got [${words.join(", ")}]`);
      }
    }
    if (words.every((w) => w === 0))
      throw new SaerchError("Rng.fromState: the all-zero xoshiro state is invalid");
    const flag = state[4];
    const spare = state[5]!;
    if ((flag !== 0 && flag !== 1) || !Number.isFinite(spare)) {
      throw new SaerchError(
        `Rng.fromState: expected hasSpare 0 or 1 and a finite spare, got ${flag}, ${spare}`,
      );
    }
    const rng = new Rng(0);
    rng.s0 = words[0]! | 0;
    rng.s1 = words[1]! | 0;
    rng.s2 = words[2]! | 0;
    rng.s3 = words[3]! | 0;
    rng.hasSpare = flag === 1;
    rng.spare = flag === 1 ? spare : 0;
    return rng;
  }
}

function checkCount(method: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new SaerchError(`Rng.${method}: ${name} must be an integer in [0, 2^31), got ${value}`);
  }
}
