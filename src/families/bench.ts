/**
 * `npm run bench:families` (METHOD.md §5): wall time and peak memory of the whole family build — the
 * co-occurrence counts streamed from a `[N, K]` int32 `.npy` (`cooccurrenceFromNpy`), the candidate edges,
 * the rounds of maximum spanning forest with recursion and dedupe (`buildFamilies`) — on
 *
 * 1. a synthetic code set shaped like a large SAE's (N = 100,000, n = 9216, K = 64): feature popularity
 *    follows a power law over a random ranking, and features hang in a seeded tree (each feature's parent is
 *    a denser one) so that when a feature fires its parent often fires too — P(parent | child) is high and
 *    families form;
 * 2. the same generator at N = 25,000: the counts are O(M²) whatever N is, so peak memory should not grow;
 * 3. the real stage-2 codes (`data/sae/<astro-ph|cs.LG>-…/codes.indices.npy`) when present.
 *
 * Each case runs in its own child process (`runFamilyCase` behind `--case`), so its peak RSS
 * (`process.resourceUsage().maxRSS`) is that build's alone. The feature set is 'alive' (density in
 * [0.0005, 0.2)), from a density pass over the same file, timed apart from the build.
 * Measurements only; nothing here gates CI.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { readNpyHeader, readNpyRows, writeNpy } from "../io/npy.js";
import { dataDir, displayPath, repoPath } from "../io/paths.js";
import { buildFamilies } from "./build.js";
import { FamilyBuildConfig } from "./config.js";
import { COOC_BLOCK_ROWS, cooccurrenceFromNpy } from "./cooccurrence.js";
import { candidateEdges } from "./forest.js";

/** The wall-time target of the 100k synthetic build on the 2-core dev machine, seconds. */
export const FAMILY_BENCH_TARGET_SECONDS = 5;
/** The build every case runs: the stage defaults (the paper's thresholds, 4 rounds, nesting, dedupe) on the 'alive' set. */
export const FAMILY_BENCH_BUILD_CONFIG: FamilyBuildConfig = FamilyBuildConfig.parse({ featureSet: "alive" });
/** The paper's domains whose stage-2 codes the bench times when present. */
export const FAMILY_BENCH_DOMAINS: readonly string[] = ["astro-ph", "cs.LG"];

// ---------------------------------------------------------------------------------------------------------
// Synthetic codes
// ---------------------------------------------------------------------------------------------------------

/** Shape and structure of a synthetic code set. */
export const SyntheticFamilyCodesConfig = z.strictObject({
  docs: z.number().int().min(1).default(100_000).describe("documents N (the bench's large case; the paper's corpora are ~10⁵ abstracts)"),
  n: z.number().int().min(2).default(9216).describe("dictionary size F (the paper's largest SAE, SAE64: n = 9216)"),
  k: z.number().int().min(1).default(64).describe("active latents per document K (SAE64's k)"),
  alpha: z
    .number()
    .positive()
    .default(1.5)
    .describe("popularity ∝ (rank + 1 + offset)^−alpha; with the defaults densities span ~2e-4 … 0.35 at N = 10⁵, n = 9216, K = 64 (M ≈ 7100 alive)"),
  offset: z.number().min(0).default(100).describe("rank offset of the power law: flattens the head so the densest features stay near 0.3, not 1"),
  parentProb: z
    .number()
    .min(0)
    .max(1)
    .default(0.6)
    .describe("when a feature fires its parent fires too with this probability (and so on up the tree): P(parent | child) ≳ 0.6, above the 0.1 threshold"),
  roots: z.number().int().min(1).default(384).describe("the most popular ranks are top-level features (no parent); many of them, so no single root fires in every document"),
  branching: z
    .number()
    .int()
    .min(2)
    .default(6)
    .describe("the parent of the feature at rank r ≥ roots is a uniform pick among ranks [0, max(1, r / branching)): deeper ranks hang lower"),
  seed: z.number().int().default(0).describe("seeds the ranking, the tree and every document"),
});
/** Parsed synthetic-code settings. */
export type SyntheticFamilyCodesConfig = z.infer<typeof SyntheticFamilyCodesConfig>;
/** Synthetic-code settings as written. */
export type SyntheticFamilyCodesConfigInput = z.input<typeof SyntheticFamilyCodesConfig>;

/** A synthetic code set and the structure it was drawn from. */
export interface SyntheticFamilyCodes {
  /** `[N, K]` distinct feature ids per document (row-major). */
  indicesNK: Int32Array;
  docs: number;
  n: number;
  k: number;
  /** `[F]` the planted parent of each feature id (−1 for a top-level feature). */
  parentF: Int32Array;
  /** `[F]` popularity rank of each feature id (0 = most popular before the parents' boost). */
  rankF: Int32Array;
}

/**
 * Seeded synthetic top-k codes with a power-law density profile and planted hierarchy. Document by document:
 * draw a feature from the popularity law (binary search in its CDF); if it is new to the document add it,
 * then walk up its planted ancestors, adding each with probability `parentProb` (stopping at the first
 * miss); repeat until the document holds K distinct features. Same config, same codes.
 */
export function syntheticFamilyCodes(input: SyntheticFamilyCodesConfigInput = {}): SyntheticFamilyCodes {
  const cfg = SyntheticFamilyCodesConfig.parse(input);
  const { docs, n, k } = cfg;
  if (k > n) throw new SaerchError(`K = ${k} exceeds the dictionary size n = ${n}`);
  const rng = new Rng(cfg.seed);
  const tree = rng.fork("tree");
  const draw = rng.fork("docs");
  // Rank r ↔ feature id idOfRank[r]; parents by rank.
  const idOfRank = tree.permutation(n);
  const parentR = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    parentR[r] = r < cfg.roots ? -1 : tree.int(Math.max(1, Math.floor(r / cfg.branching)));
  }
  const cdfR = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) {
    total += (r + 1 + cfg.offset) ** -cfg.alpha;
    cdfR[r] = total;
  }
  for (let r = 0; r < n; r++) cdfR[r]! /= total;
  const drawRank = (): number => {
    const u = draw.float();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdfR[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const indicesNK = new Int32Array(docs * k);
  const stampR = new Int32Array(n).fill(-1);
  for (let i = 0; i < docs; i++) {
    const base = i * k;
    let len = 0;
    while (len < k) {
      const r = drawRank();
      if (stampR[r] === i) continue;
      stampR[r] = i;
      indicesNK[base + len++] = idOfRank[r]!;
      for (let g = parentR[r]!; g >= 0 && len < k && draw.float() < cfg.parentProb; g = parentR[g]!) {
        if (stampR[g] === i) continue;
        stampR[g] = i;
        indicesNK[base + len++] = idOfRank[g]!;
      }
    }
  }
  const parentF = new Int32Array(n);
  const rankF = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const f = idOfRank[r]!;
    rankF[f] = r;
    parentF[f] = parentR[r]! < 0 ? -1 : idOfRank[parentR[r]!]!;
  }
  return { indicesNK, docs, n, k, parentF, rankF };
}

/** `[F]` density of each feature: the fraction of rows of `[N, K]` codes that hold it (a repeat counts once). */
export function codeDensities(indicesNK: Int32Array, k: number, n: number): Float64Array {
  const counter = new DensityCounter(n, k);
  counter.add(indicesNK);
  return counter.result();
}

/** Streams firing counts per feature over row blocks. */
class DensityCounter {
  private readonly countF: Float64Array;
  private readonly stampF: Float64Array;
  private docs = 0;

  constructor(
    private readonly n: number,
    private readonly k: number,
  ) {
    this.countF = new Float64Array(n);
    this.stampF = new Float64Array(n).fill(-1);
  }

  add(indicesBK: Int32Array): void {
    const { n, k, countF, stampF } = this;
    const rows = indicesBK.length / k;
    for (let r = 0; r < rows; r++) {
      const doc = this.docs + r;
      for (let j = r * k; j < (r + 1) * k; j++) {
        const f = indicesBK[j]!;
        if (!(f >= 0 && f < n)) throw new SaerchError(`latent index ${f} is outside the dictionary [0, ${n})`);
        if (stampF[f] === doc) continue;
        stampF[f] = doc;
        countF[f]!++;
      }
    }
    this.docs += rows;
  }

  result(): Float64Array {
    const out = new Float64Array(this.n);
    for (let f = 0; f < this.n; f++) out[f] = this.docs > 0 ? this.countF[f]! / this.docs : 0;
    return out;
  }
}

/** Densities of an `[N, K]` int32 `.npy`, streamed in blocks. */
export function codeDensitiesFromNpy(indicesPath: string, n: number, blockRows = COOC_BLOCK_ROWS): Float64Array {
  const header = readNpyHeader(indicesPath);
  if (header.dtype !== "<i4" || header.shape.length !== 2) throw new SaerchError(`${indicesPath} is not an [N, K] int32 array`);
  const [rows, k] = header.shape as [number, number];
  const counter = new DensityCounter(n, k);
  for (let s = 0; s < rows; s += blockRows) counter.add(readNpyRows(indicesPath, s, Math.min(rows, s + blockRows)).data as Int32Array);
  return counter.result();
}

/** The 'alive' feature set: ascending ids with min ≤ density < max. */
export function aliveFeatures(densityF: Float64Array, band: { min: number; max: number }): Int32Array {
  const out: number[] = [];
  densityF.forEach((d, f) => {
    if (d >= band.min && d < band.max) out.push(f);
  });
  return Int32Array.from(out);
}

/** Quantiles (0 … 1) of the densities of features that fire at all. */
export function densityQuantiles(densityF: Float64Array, qs: readonly number[]): number[] {
  const fired = Float64Array.from(densityF.filter((d) => d > 0)).sort();
  if (fired.length === 0) return qs.map(() => 0);
  return qs.map((q) => fired[Math.min(fired.length - 1, Math.floor(q * (fired.length - 1)))]!);
}

// ---------------------------------------------------------------------------------------------------------
// One case (run in a child process by the command)
// ---------------------------------------------------------------------------------------------------------

/** What the child process is asked to time. */
export const FamilyCaseSpec = z.strictObject({
  label: z.string().describe("the case's row name in the table"),
  indicesPath: z.string().describe("the `[N, K]` int32 codes.indices.npy to stream"),
  n: z.number().int().min(1).describe("dictionary size F (the codes hold ids in [0, n))"),
});
/** One case to time. */
export type FamilyCaseSpec = z.infer<typeof FamilyCaseSpec>;

/** One measured case. */
export interface FamilyCaseResult {
  label: string;
  /** Documents N. */
  docs: number;
  /** Dictionary size n. */
  n: number;
  /** K. */
  k: number;
  /** Feature-set size M ('alive'). */
  m: number;
  /** Density quantiles [min, 1 %, 50 %, 99 %, max] over firing features. */
  densityQuantiles: number[];
  families: number;
  /** Families dropped as duplicates. */
  duplicates: number;
  /** Candidate edges (weight ≥ the lower round threshold). */
  candidateEdges: number;
  /** Seconds of the density pass that picks the feature set (not part of the build). */
  featureSetSeconds: number;
  /** Seconds of `cooccurrenceFromNpy`. */
  countingSeconds: number;
  /** Seconds of `candidateEdges` alone (timed again after the build). */
  edgesSeconds: number;
  /** Seconds of `buildFamilies` minus the edges: rounds of forest, recursion, dedupe. */
  forestSeconds: number;
  /** counting + buildFamilies. */
  totalSeconds: number;
  /** CPU seconds (user + system) of counting + buildFamilies: steadier than wall time on a busy machine. */
  cpuSeconds: number;
  /** Peak resident memory of the process that ran the case, MB. */
  peakRssMB: number;
}

const seconds = (t0: number): number => (performance.now() - t0) / 1000;

/** Time one case in this process (the command runs it in a child so the peak RSS is this case's). */
export function runFamilyCase(spec: FamilyCaseSpec): FamilyCaseResult {
  const header = readNpyHeader(spec.indicesPath);
  const [docs, k] = header.shape as [number, number];
  const cfg = FAMILY_BENCH_BUILD_CONFIG;
  let t0 = performance.now();
  const densityF = codeDensitiesFromNpy(spec.indicesPath, spec.n);
  const featuresM = aliveFeatures(densityF, cfg.aliveDensity);
  const featureSetSeconds = seconds(t0);
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  const c = cooccurrenceFromNpy(spec.indicesPath, featuresM, spec.n);
  const countingSeconds = seconds(t0);
  t0 = performance.now();
  const build = buildFamilies(c, cfg);
  const buildSeconds = seconds(t0);
  const cpu = process.cpuUsage(cpu0);
  t0 = performance.now();
  const edges = candidateEdges(c, cfg.edgeWeight, Math.min(cfg.firstThreshold, cfg.laterThreshold));
  const edgesSeconds = seconds(t0);
  return {
    label: spec.label,
    docs,
    n: spec.n,
    k,
    m: featuresM.length,
    densityQuantiles: densityQuantiles(densityF, [0, 0.01, 0.5, 0.99, 1]),
    families: build.families.length,
    duplicates: build.duplicates.length,
    candidateEdges: edges.weightE.length,
    featureSetSeconds,
    countingSeconds,
    edgesSeconds,
    forestSeconds: Math.max(0, buildSeconds - edgesSeconds),
    totalSeconds: countingSeconds + buildSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  };
}

/**
 * Run one case in a fresh Node process and parse the JSON line it prints.
 * @param script the command that times one case given `--case <json>` (default scripts/bench-families.mjs)
 */
export function runFamilyCaseInChild(spec: FamilyCaseSpec, script = repoPath("scripts", "bench-families.mjs")): FamilyCaseResult {
  const r = spawnSync(process.execPath, [script, "--case", JSON.stringify(spec)], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  const line = r.stdout?.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || line === "") {
    throw new SaerchError(`the ${spec.label} case failed (exit ${r.status}): ${(r.stderr || r.stdout || "").trim().split("\n").slice(-5).join(" ")}`);
  }
  return JSON.parse(line) as FamilyCaseResult;
}

// ---------------------------------------------------------------------------------------------------------
// The whole bench
// ---------------------------------------------------------------------------------------------------------

/** Settings of the bench (the command line fills them). */
export const FamilyBenchConfig = z.strictObject({
  docs: z.number().int().min(1).default(100_000).describe("documents of the large synthetic case (the target's size)"),
  smallDocs: z.number().int().min(1).default(25_000).describe("documents of the small synthetic case: the same generator, to show memory does not grow with N"),
  n: z.number().int().min(2).default(9216).describe("synthetic dictionary size (SAE64)"),
  k: z.number().int().min(1).default(64).describe("synthetic active latents per document (SAE64)"),
  seed: z.number().int().default(0).describe("seeds the synthetic codes"),
  real: z.boolean().default(true).describe("also time the real stage-2 codes under data/sae when present"),
  inProcess: z.boolean().default(false).describe("run every case in this process (peak RSS is then cumulative): for debugging"),
});
/** Parsed bench settings. */
export type FamilyBenchConfig = z.infer<typeof FamilyBenchConfig>;
/** Bench settings as written. */
export type FamilyBenchConfigInput = z.input<typeof FamilyBenchConfig>;

/** A real run's case, or why it was skipped. */
export type RealCase = { domain: string; runId: string; spec: FamilyCaseSpec } | { domain: string; skipped: string };

const RunConfigFile = z.looseObject({ sae: z.looseObject({ n: z.number().int().min(1) }) });

/** Every stage-2 run of a paper domain under `<data>/sae` with its codes, or one skip row per absent domain. */
export function findRealCases(saeDir = join(dataDir(), "sae")): RealCase[] {
  const out: RealCase[] = [];
  const dirs = existsSync(saeDir) ? readdirSync(saeDir).sort() : [];
  for (const domain of FAMILY_BENCH_DOMAINS) {
    const runs = dirs.filter((d) => d.startsWith(`${domain}-`));
    let found = 0;
    for (const runId of runs) {
      const indicesPath = join(saeDir, runId, "codes.indices.npy");
      const configPath = join(saeDir, runId, "config.json");
      if (!existsSync(indicesPath) || !existsSync(configPath)) continue;
      const n = RunConfigFile.parse(JSON.parse(readFileSync(configPath, "utf8"))).sae.n;
      out.push({ domain, runId, spec: { label: `${runId} (real)`, indicesPath, n } });
      found++;
    }
    if (found === 0) out.push({ domain, skipped: `no ${displayPath(join(saeDir, `${domain}-*`, "codes.indices.npy"))} yet (stage 2, notebook 02)` });
  }
  return out;
}

/** The full record of one bench run. */
export interface FamilyBenchReport {
  startedAt: string;
  /** The machine, with its 1-minute load average before and after the run (other jobs make wall times noisy). */
  machine: { cpus: number; cpuModel: string; node: string; loadBefore: number; loadAfter: number };
  settings: FamilyBenchConfig;
  generator: SyntheticFamilyCodesConfig;
  /** The family-build config of every case. */
  buildConfig: FamilyBuildConfig;
  targetSeconds: number;
  /** Total build seconds of the large synthetic case. */
  syntheticSeconds: number;
  /** Whether syntheticSeconds ≤ targetSeconds. */
  meetsTarget: boolean;
  /** Seconds to generate and write the large synthetic codes (not part of the build). */
  generateSeconds: number;
  /** Peak RSS of the large case over that of the small one. */
  rssLargeOverSmall: number;
  cases: FamilyCaseResult[];
  skipped: Array<{ domain: string; reason: string }>;
  /** How each case was isolated. */
  isolation: string;
}

/** Run the bench: generate the synthetic codes to a temp .npy, time every case, return the report. */
export function runFamilyBench(input: FamilyBenchConfigInput = {}, onCase?: (r: FamilyCaseResult) => void): FamilyBenchReport {
  const settings = FamilyBenchConfig.parse(input);
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg()[0]!;
  const run = (spec: FamilyCaseSpec): FamilyCaseResult => {
    const r = settings.inProcess ? runFamilyCase(spec) : runFamilyCaseInChild(spec);
    onCase?.(r);
    return r;
  };
  const tmp = mkdtempSync(join(tmpdir(), "saerch-bench-families-"));
  const cases: FamilyCaseResult[] = [];
  let generateSeconds = 0;
  let generator: SyntheticFamilyCodesConfig | undefined;
  try {
    for (const [docs, large] of [
      [settings.docs, true],
      [settings.smallDocs, false],
    ] as const) {
      const t0 = performance.now();
      const gen = SyntheticFamilyCodesConfig.parse({ docs, n: settings.n, k: settings.k, seed: settings.seed });
      generator ??= gen;
      const codes = syntheticFamilyCodes(gen);
      const path = join(tmp, `codes-${docs}.indices.npy`);
      writeNpy(path, codes.indicesNK, [docs, settings.k]);
      if (large) generateSeconds = seconds(t0);
      cases.push(run({ label: `synthetic N=${docs.toLocaleString("en-US")}`, indicesPath: path, n: settings.n }));
      rmSync(path, { force: true });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const skipped: Array<{ domain: string; reason: string }> = [];
  if (settings.real) {
    for (const rc of findRealCases()) {
      if ("skipped" in rc) skipped.push({ domain: rc.domain, reason: rc.skipped });
      else cases.push(run(rc.spec));
    }
  } else skipped.push({ domain: "real", reason: "--no-real" });
  const [large, small] = cases as [FamilyCaseResult, FamilyCaseResult];
  return {
    startedAt,
    machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? "unknown", node: process.version, loadBefore, loadAfter: loadavg()[0]! },
    settings,
    generator: generator!,
    buildConfig: FAMILY_BENCH_BUILD_CONFIG,
    targetSeconds: FAMILY_BENCH_TARGET_SECONDS,
    syntheticSeconds: large.totalSeconds,
    meetsTarget: large.totalSeconds <= FAMILY_BENCH_TARGET_SECONDS,
    generateSeconds,
    rssLargeOverSmall: large.peakRssMB / small.peakRssMB,
    cases,
    skipped,
    isolation: settings.inProcess
      ? "in process: peak RSS is cumulative over the cases so far"
      : "each case in its own child Node process (scripts/bench-families.mjs --case): peak RSS is that case's alone; the synthetic codes are generated in the parent and streamed from a temp .npy",
  };
}
