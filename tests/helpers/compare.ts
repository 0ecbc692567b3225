/** Float comparison helpers shared by the engine-equivalence tests. */

/** |a − b| relative to |b| (with a floor of 1e-6, so values near 0 compare absolutely). */
export function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
}

/** max_i |a_i − b_i| / max(max_i |b_i|, tiny): relative to the tensor's scale. */
export function tensorRelErr(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}
