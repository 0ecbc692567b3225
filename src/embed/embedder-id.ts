/**
 * What an embedder id says about its vectors: every provider puts the dimension D in its id
 * (`use-lite:512`, `openai:<model>:<D>[@host]`, `transformers:<name>:<D>:<pooling>[+l2]`, `npy:<model>:<D>`,
 * `bench:<name>:<D>`), so adopted vectors can be checked against the id they are filed under.
 */

/** One pattern per provider prefix; group 1 is D. */
const DIM_PATTERNS: readonly RegExp[] = [
  /^use-lite:(\d+)$/,
  /^openai:[^@]+:(\d+)(?:@.+)?$/,
  /^transformers:.+:(\d+):[^:]+$/,
  /^npy:.+:(\d+)$/,
  /^bench:.+:(\d+)$/,
];

/**
 * The dimension an embedder id names.
 * @returns D, or undefined for an id of no known provider (nothing to check against)
 */
export function embedderIdDim(id: string): number | undefined {
  for (const re of DIM_PATTERNS) {
    const m = re.exec(id);
    if (m) return Number(m[1]);
  }
  return undefined;
}
