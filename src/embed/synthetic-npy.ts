/**
 * Seeded synthetic embeddings at any scale (paper §1's corpus is ≈ 270k abstracts × 1536 dimensions), written
 * to an `[N, D]` float32 `.npy` chunk by chunk so the file never exists in memory: each row is a sparse
 * positive mix of a few dictionary atoms — its domain's topic atom, others from its domain's half of the atoms, one from either half — plus
 * small uniform noise, normalised to unit length like text-embedding-3-small's vectors. The known sparse
 * structure gives an SAE something to find; the two halves give notebook 01's domain cosines a contrast.
 * For measurements (`npm run bench:paper-scale`) and tests, not as a stand-in for real embeddings.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { normalizeRowsInPlace } from "../core/vector.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { encodeNpyHeader } from "../io/npy.js";

/** The two synthetic domains: rows `[0, ⌈N/2⌉)` are the first, the rest the second. */
export const SYNTHETIC_DOMAINS: [string, string] = ["astro-ph", "cs.LG"];

/** What to generate. */
export interface SyntheticEmbeddingsSpec {
  /** Rows N. */
  rows: number;
  /** Dimension D. */
  dim: number;
  /** Dictionary atoms A (even; each domain draws most of its atoms from its own half). Default 1024. */
  atoms?: number;
  /** Atoms mixed into each row (default 8: the domain's topic atom, 6 more from the row's domain, 1 from anywhere). */
  active?: number;
  /** Uniform noise half-width per coordinate before normalising (default 0.02). */
  noise?: number;
  /** Seed (default 0). */
  seed?: number;
}

/** Rows generated (and written) at a time by `writeSyntheticEmbeddingsNpy` (24 MiB at D = 1536). */
const DEFAULT_CHUNK_ROWS = 4096;

/** Document id of synthetic row `r`: `synth-00000042`. */
export const syntheticId = (r: number): string => `synth-${String(r).padStart(8, "0")}`;

/** Domain label of every row, `[N]`. */
export function syntheticLabels(rows: number): string[] {
  const half = Math.ceil(rows / 2);
  return Array.from({ length: rows }, (_, r) => (r < half ? SYNTHETIC_DOMAINS[0] : SYNTHETIC_DOMAINS[1]));
}

/** A generator of the rows in order; `next(count)` returns the next `[count, D]` unit rows. */
class SyntheticRows {
  private readonly rng: Rng;
  private readonly atomsAD: Float32Array;
  private row = 0;
  private readonly half: number;

  constructor(private readonly spec: Required<SyntheticEmbeddingsSpec>) {
    const { dim, atoms, seed } = spec;
    this.atomsAD = new Rng(seed).fork("atoms").fillNormalInPlace(new Float32Array(atoms * dim));
    normalizeRowsInPlace(this.atomsAD, atoms, dim);
    this.rng = new Rng(seed).fork("rows");
    this.half = Math.ceil(spec.rows / 2);
  }

  next(count: number, outCD: Float32Array): Float32Array {
    const { dim, atoms, active, noise } = this.spec;
    const { rng, atomsAD } = this;
    const own = atoms / 2;
    const view = outCD.subarray(0, count * dim);
    for (let i = 0; i < count; i++, this.row++) {
      const base = i * dim;
      for (let p = 0; p < dim; p++) view[base + p] = (2 * rng.float() - 1) * noise;
      const domain = this.row < this.half ? 0 : 1;
      for (let a = 0; a < active; a++) {
        // atom 0 of a domain's half is its common "topic"; the last atom may come from either half
        const atom = a === 0 ? domain * own : a === active - 1 ? rng.int(atoms) : domain * own + rng.int(own);
        const w = a === 0 ? 1 : 0.2 + rng.float();
        const src = atom * dim;
        for (let p = 0; p < dim; p++) view[base + p]! += w * atomsAD[src + p]!;
      }
    }
    normalizeRowsInPlace(view, count, dim);
    return view;
  }
}

function resolveSpec(spec: SyntheticEmbeddingsSpec): Required<SyntheticEmbeddingsSpec> {
  const s = { atoms: 1024, active: 8, noise: 0.02, seed: 0, ...spec };
  for (const [name, v] of [["rows", s.rows], ["dim", s.dim], ["atoms", s.atoms], ["active", s.active]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new SaerchError(`synthetic embeddings: ${name} must be a positive integer, got ${v}`);
  }
  if (s.atoms % 2 !== 0) throw new SaerchError(`synthetic embeddings: atoms must be even (one half per domain), got ${s.atoms}`);
  if (!(s.noise >= 0)) throw new SaerchError(`synthetic embeddings: noise must be ≥ 0, got ${s.noise}`);
  return s;
}

/**
 * The whole synthetic matrix in memory — for small N (tests); `writeSyntheticEmbeddingsNpy` writes the same rows.
 * @returns `[N, D]` unit rows
 */
export function syntheticEmbeddings(spec: SyntheticEmbeddingsSpec): Float32Array {
  const s = resolveSpec(spec);
  return new SyntheticRows(s).next(s.rows, new Float32Array(s.rows * s.dim));
}

/**
 * Write the synthetic `[N, D]` float32 matrix to `npyPath` (header first, then `chunkRows` rows at a time;
 * memory O(chunkRows · D + A · D)) and its ids (`syntheticId`) as a JSON array to `idsPath`. The bytes do
 * not depend on `chunkRows`.
 */
export function writeSyntheticEmbeddingsNpy(npyPath: string, idsPath: string, spec: SyntheticEmbeddingsSpec, chunkRows = DEFAULT_CHUNK_ROWS): void {
  const s = resolveSpec(spec);
  if (!Number.isSafeInteger(chunkRows) || chunkRows < 1) throw new SaerchError(`chunkRows must be a positive integer, got ${chunkRows}`);
  const gen = new SyntheticRows(s);
  const chunkCD = new Float32Array(Math.min(chunkRows, s.rows) * s.dim);
  const fd = openSync(npyPath, "w");
  try {
    writeSync(fd, encodeNpyHeader("<f4", [s.rows, s.dim]));
    for (let start = 0; start < s.rows; start += chunkRows) {
      const count = Math.min(chunkRows, s.rows - start);
      const view = gen.next(count, chunkCD);
      const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    }
  } finally {
    closeSync(fd);
  }
  writeJsonAtomic(idsPath, Array.from({ length: s.rows }, (_, r) => syntheticId(r)));
}
