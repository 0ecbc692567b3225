/**
 * The explorer's 2-D maps (METHOD.md §8 had none): UMAP (umap-js, seeded) of the features' decoder
 * directions and of the documents' embeddings, computed once when the database is built, with coordinates
 * rescaled to [−1, 1]. Both inputs are unit vectors, so Euclidean UMAP orders neighbours as cosine does.
 * Measured at the default profile (2 cores): 4,096 decoder rows × 512 in ≈ 9 s, all 25,662 documents × 512
 * in ≈ 59 s — once per build, so no projection or subsampling is needed there; documents beyond
 * MAX_MAP_DOCS (larger corpora) are subsampled evenly over the rows.
 */
import { UMAP } from "umap-js";
import { Rng } from "../core/rng.js";

/** UMAP's neighbourhood size (the library's default, as in the reference implementation). */
export const UMAP_NEIGHBORS = 15;
/** UMAP's minimum distance between embedded points (the reference default). */
export const UMAP_MIN_DIST = 0.1;
/** Most documents on the document map (the default run's 25,662 all fit; larger corpora are subsampled). */
export const MAX_MAP_DOCS = 50_000;

/** A 2-D layout of M points. */
export interface MapLayout {
  /** `[M, 2]` coordinates in [−1, 1]. */
  pointsM2: Float32Array;
  /** Seconds UMAP took. */
  seconds: number;
}

/**
 * UMAP of M vectors of dimension D to 2-D, scaled to [−1, 1] (the larger axis spans the range, aspect kept).
 * @param xMD `[M, D]` row-major (not mutated)
 */
export function umapLayout(xMD: Float32Array, m: number, d: number, seed: number, opts: { epochs?: number } = {}): MapLayout {
  const t0 = performance.now();
  if (m < 3) return { pointsM2: new Float32Array(m * 2), seconds: 0 };
  const data: number[][] = Array.from({ length: m }, (_, i) => Array.from(xMD.subarray(i * d, (i + 1) * d)));
  const rng = new Rng(`map-umap:${seed}`);
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(UMAP_NEIGHBORS, m - 1),
    minDist: UMAP_MIN_DIST,
    random: () => rng.float(),
    ...(opts.epochs !== undefined ? { nEpochs: opts.epochs } : {}),
  });
  const emb = umap.fit(data);
  return { pointsM2: normaliseLayout(emb), seconds: (performance.now() - t0) / 1000 };
}

/** Centre a 2-D layout and scale it so its larger half-range is 1 (non-finite coordinates become 0). */
export function normaliseLayout(pts: ReadonlyArray<ArrayLike<number>>): Float32Array {
  const m = pts.length;
  const out = new Float32Array(m * 2);
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const p of pts) {
    const x = p[0]!;
    const y = p[1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  if (!Number.isFinite(minX)) return out;
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  const half = Math.max(maxX - minX, maxY - minY) / 2 || 1;
  pts.forEach((p, i) => {
    const x = p[0]!;
    const y = p[1]!;
    out[2 * i] = Number.isFinite(x) ? Math.max(-1, Math.min(1, (x - cx) / half)) : 0;
    out[2 * i + 1] = Number.isFinite(y) ? Math.max(-1, Math.min(1, (y - cy) / half)) : 0;
  });
  return out;
}

/** Rows for the document map: all of them, or `max` spread evenly over the rows (deterministic). */
export function mapRows(count: number, max = MAX_MAP_DOCS): Int32Array {
  if (count <= max) return Int32Array.from({ length: count }, (_, i) => i);
  return Int32Array.from({ length: max }, (_, i) => Math.floor((i * count) / max));
}
