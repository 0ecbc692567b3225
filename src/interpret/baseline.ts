/**
 * The offline baseline scorer (METHOD.md §4 without an LLM): the same labelling and scoring pipeline as the
 * paper's Interpreter/Predictor pair, with both roles replaced by transparent, deterministic methods so the
 * stage runs without an API key.
 *
 * Interpreter ("contrastive terms"): for each term t of the SHOWN examples (never `heldOut`),
 *   score(t) = (dfTop(t) / nTop − dfZero(t) / nZero) · idf(t)
 * with dfTop/dfZero the number of shown top/zero documents containing t and idf from the corpus background
 * (`DocFreq`). Terms in fewer than `minTopDocs` top documents, in fewer than `minCorpusDf` documents of the
 * whole corpus (a phrase of two or three papers, not a concept), or with score ≤ 0, are not eligible. Shown
 * documents whose term sets overlap by Jaccard ≥ `duplicateJaccard` count once (the same paper under two ids
 * is one piece of evidence), so nTop/nZero count distinct documents. The label is the best `terms` eligible
 * terms joined with ", ", a bigram standing in for its own word when it scores at least
 * {@link BIGRAM_PREFERENCE} as high ("dark matter" over "dark"), and no two chosen terms sharing a word.
 *
 * Predictor ("label similarity" + "label terms"): s(doc) = cos(embed(label), embed(doc)), calibrated on the
 * SHOWN examples with gap = mean s(top) − mean s(zero):
 *   threshold = mean s(zero) + thresholdShare · gap,  halfGap = max(gapScale · gap, MIN_HALF_GAP)
 *   prediction = clamp((s − threshold) / halfGap + overlapWeight · overlap(doc), −1, 1)
 * The threshold sits below the midpoint (default thresholdShare 0: at the mean shown-zero similarity) because
 * the label was fitted to the shown top documents, so held-out top documents are less similar to it than
 * those are (measured on the default seed-0 SAEs: 0.33 vs 0.36, zero documents 0.30). overlap(doc) is the idf-weighted share of the label's terms (its
 * ", "-separated parts) that the document contains: a held-out document naming the label's terms is evidence
 * the embedding similarity alone blurs. The predictor learns about the feature only through the label text: it
 * never sees the interpreter's term statistics, only the label, the corpus idf, the shown examples'
 * embeddings and the held-out document — the same information the paper's Predictor gets (label +
 * document), plus calibration on examples the interpreter already saw.
 *
 * Parameters (BaselineConfig's defaults): tuned by `npm run tune:baseline` (src/interpret/tune-baseline.ts) on
 * DISJOINT SAEs — the default profile's stage-2 config (astro-ph / cs.LG, n4096 k32, 3000 steps) trained with
 * seed 7, while the SAEs whose scores are reported use seeds 0 (stage 2, sweep) and 1 (notebook 05) — by
 * coordinate search maximising (mean F1 + mean Pearson) / 2 on 150 features per domain: terms 3 → 5,
 * minTopDocs 2 → 1, minCorpusDf 3 → 2, thresholdShare 0.3 → 0, gapScale 1 → 1.5, overlapWeight 1 → 2
 * (duplicateJaccard 0.5 kept; 0.3–1 score the same). On 150 further features per domain of the tuning SAEs
 * that the search never saw: mean F1 0.527 → 0.560, mean Pearson 0.186 → 0.195, but features with F1 and
 * Pearson both ≥ 0.8 fell 28 → 15 (a threshold at the mean zero similarity makes more held-out documents
 * fire, which lifts F1 towards the 0.667 of always firing and caps the best Pearsons). The earlier settings
 * (thresholdShare 0.3, gapScale 1, overlapWeight 1, terms 3) had been chosen on the first 800 features of the
 * reported seed-0 SAEs themselves. */
import { SaerchError } from "../core/errors.js";
import type { BaselineConfig } from "./config.js";
import { type DocFreq, isBigram, pluralKey, termSet } from "./terms.js";
import type { ExampleDoc, FeatureScorer, FeatureTask, Interpretation, Prediction } from "./types.js";

/**
 * A bigram replaces one of its own words in the label when it scores at least this fraction of the word's
 * score: the phrase names the topic more precisely ("dark matter" over "dark") even when the single word is
 * slightly more frequent among the top documents (it also occurs in "dark energy").
 */
export const BIGRAM_PREFERENCE = 0.8;

/**
 * Smallest calibration half-gap, in cosine units. When the label separates the shown top and zero documents
 * by less than 2 × this (or not at all), predictions would otherwise explode to ±1 on noise-level differences.
 */
export const MIN_HALF_GAP = 0.01;

/** The baseline's method names per role, as recorded in every label it makes. */
export function baselineModels(embedderId: string): { interpreter: string; predictor: string } {
  return { interpreter: "baseline:contrastive-terms", predictor: `baseline:label-similarity(${embedderId})` };
}

/** Everything the baseline scorer needs; the caller owns (and closes) the embedder behind the callbacks. */
export interface BaselineScorerOptions {
  /** Label length, eligibility and bigrams. */
  config: BaselineConfig;
  /** Background document frequencies of the SAE's corpus (bigrams counted when `config.bigrams`). */
  docFreq: DocFreq;
  /** Embed labels: `[L, D]` unit-norm vectors for L labels, one batch. */
  embedLabels: (labels: string[]) => Promise<Float32Array>;
  /** Stored document embeddings: `[R, D]` unit-norm rows of the embedding store for the given rows. */
  embeddingsOf: (rows: Int32Array) => Float32Array;
  /** The embedder's id (Embedder.id), recorded in the predictor's model name. */
  embedderId: string;
}

/** One term's statistics for one feature. */
interface Candidate {
  term: string;
  /** The term's words, plural-folded ({@link pluralKey}): the unit of redundancy between label terms. */
  words: string[];
  bigram: boolean;
  dfTop: number;
  dfZero: number;
  idf: number;
  score: number;
}

/** Calibration of label similarities on the shown examples (see the module header). */
export interface SimilarityCalibration {
  /** Similarity that maps to prediction 0. */
  threshold: number;
  /** Similarity distance that maps to ±1 (≥ MIN_HALF_GAP). */
  halfGap: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Where the calibration puts its threshold and how wide its scale is (BaselineConfig defaults shown). */
export interface CalibrationShape {
  /** Threshold = mean zero + thresholdShare · (mean top − mean zero); 0.5 is the midpoint. */
  thresholdShare: number;
  /** Similarity distance that maps to ±1 = gapScale · (mean top − mean zero). */
  gapScale: number;
}

/** The old midpoint calibration: threshold halfway between the class means, ±1 at the class means. */
export const MIDPOINT_CALIBRATION: CalibrationShape = { thresholdShare: 0.5, gapScale: 0.5 };

/**
 * Calibrate from the label's similarities to the shown examples.
 * With zero documents: threshold = mean zero + thresholdShare · gap and halfGap = gapScale · gap, with
 * gap = mean top − mean zero.
 * Without zero documents (nothing to contrast with): threshold = the smallest shown-top similarity and
 * halfGap = mean top − that minimum, so a document at least as similar as every shown top document is
 * positive and one as similar as the average shown top document scores +1.
 * Both half-gaps are floored at {@link MIN_HALF_GAP}.
 * @param topS `[nTop ≥ 1]` similarities of the shown top documents
 * @param zeroS `[nZero]` similarities of the shown zero documents (may be empty)
 * @param shape threshold position and scale (default {@link MIDPOINT_CALIBRATION})
 */
export function calibrateSimilarity(
  topS: readonly number[],
  zeroS: readonly number[],
  shape: CalibrationShape = MIDPOINT_CALIBRATION,
): SimilarityCalibration {
  if (topS.length === 0) throw new SaerchError("calibrateSimilarity: no shown top documents to calibrate on");
  const meanTop = mean(topS);
  if (zeroS.length === 0) {
    const minTop = Math.min(...topS);
    return { threshold: minTop, halfGap: Math.max(meanTop - minTop, MIN_HALF_GAP) };
  }
  const meanZero = mean(zeroS);
  const gap = meanTop - meanZero;
  return { threshold: meanZero + shape.thresholdShare * gap, halfGap: Math.max(shape.gapScale * gap, MIN_HALF_GAP) };
}

const clamp1 = (x: number): number => Math.min(1, Math.max(-1, x));

/** Prediction in [−1, 1] for similarity `s` under calibration `cal`. */
export function predictFromSimilarity(s: number, cal: SimilarityCalibration): number {
  return clamp1((s - cal.threshold) / cal.halfGap);
}

/** Best first: higher score, then bigram before unigram, then alphabetical (deterministic ties). */
function byRank(a: Candidate, b: Candidate): number {
  if (a.score !== b.score) return b.score - a.score;
  if (a.bigram !== b.bigram) return a.bigram ? -1 : 1;
  return a.term < b.term ? -1 : a.term > b.term ? 1 : 0;
}

/**
 * Pick up to `k` terms from `ranked` (best first): a word yields to its best-ranked bigram in `ranked` when
 * that scores ≥ BIGRAM_PREFERENCE of it (taking the word's place in the order); a term sharing a
 * (plural-folded) word with a chosen one is skipped, so a label never says "dark matter, dark",
 * "dark, matter" or "exoplanet, exoplanets".
 */
function selectTerms(ranked: readonly Candidate[], k: number): Candidate[] {
  const bigramOf = new Map<string, Candidate>();
  for (const c of ranked) {
    if (!c.bigram) continue;
    for (const w of c.words) if (!bigramOf.has(w)) bigramOf.set(w, c);
  }
  const chosen: Candidate[] = [];
  const usedWords = new Set<string>();
  const overlaps = (c: Candidate): boolean => c.words.some((w) => usedWords.has(w));
  for (const c of ranked) {
    if (chosen.length >= k) break;
    const b = c.bigram ? undefined : bigramOf.get(c.words[0]!);
    // A word whose preferred phrase is already covered by a chosen term is redundant too ("matter" after "dark").
    const pick = b !== undefined && b.score >= BIGRAM_PREFERENCE * c.score ? b : c;
    if (overlaps(pick)) continue;
    chosen.push(pick);
    for (const w of pick.words) usedWords.add(w);
  }
  return chosen;
}

/** `"dark matter": in 4/5 top, 0/5 zero, idf 3.21, score 2.57` */
function describe(c: Candidate, nTop: number, nZero: number): string {
  return `"${c.term}": in ${c.dfTop}/${nTop} top, ${c.dfZero}/${nZero} zero, idf ${c.idf.toFixed(2)}, score ${c.score.toFixed(2)}`;
}

/** Offline interpreter + predictor: distinctive terms as labels, label–document similarity as predictions. */
export class BaselineScorer implements FeatureScorer {
  readonly kind = "baseline" as const;
  readonly models: { interpreter: string; predictor: string };
  readonly #config: BaselineConfig;
  readonly #docFreq: DocFreq;
  readonly #embedLabels: (labels: string[]) => Promise<Float32Array>;
  readonly #embeddingsOf: (rows: Int32Array) => Float32Array;
  /** Store row → its distinct term ids (text length kept as a guard). At most one entry per corpus row. */
  readonly #rowTerms = new Map<number, { chars: number; ids: Int32Array }>();
  /** Terms missing from the DocFreq table (pruned or unseen) get ids docFreq.size + k. */
  readonly #extraIds = new Map<string, number>();
  readonly #extraTerms: string[] = [];

  constructor(opts: BaselineScorerOptions) {
    if (opts.config.bigrams && !opts.docFreq.bigrams) {
      throw new SaerchError(
        "baseline scorer: config.bigrams is on but the DocFreq table was built without bigrams (every bigram would look maximally rare)",
        "build the DocFreq with { bigrams: true }, or set interpret.baseline.bigrams to false",
      );
    }
    this.#config = opts.config;
    this.#docFreq = opts.docFreq;
    this.#embedLabels = opts.embedLabels;
    this.#embeddingsOf = opts.embeddingsOf;
    this.models = baselineModels(opts.embedderId);
  }

  /** Store rows whose terms are cached. */
  get cachedRows(): number {
    return this.#rowTerms.size;
  }

  /** Label each task from its shown top and zero documents (synchronous work; a few tenths of a ms each). */
  async interpret(tasks: readonly FeatureTask[]): Promise<Array<Interpretation | Error>> {
    return tasks.map((t) => this.#interpretOne(t));
  }

  /**
   * Predict each item's held-out documents from label–document similarity, calibrated on its shown documents.
   * All distinct labels go to ONE `embedLabels` call and all needed rows to ONE `embeddingsOf` call. A failed
   * label embedding becomes an Error in every slot; a result of the wrong shape is a bug and throws.
   */
  async predict(items: ReadonlyArray<{ task: FeatureTask; label: string }>): Promise<Array<Prediction[] | Error>> {
    if (items.length === 0) return [];
    const labelIndex = new Map<string, number>();
    for (const { label } of items) if (!labelIndex.has(label)) labelIndex.set(label, labelIndex.size);
    const labels = [...labelIndex.keys()];
    let labelsLD: Float32Array;
    try {
      labelsLD = await this.#embedLabels(labels);
    } catch (err) {
      const msg = `baseline predictor: embedding ${labels.length} labels failed: ${err instanceof Error ? err.message : String(err)}`;
      return items.map(() => new SaerchError(msg, "check the embedder; a rerun retries failed features"));
    }
    const d = labelsLD.length / labels.length;
    if (!Number.isInteger(d) || d < 1) {
      throw new SaerchError(`baseline predictor: embedLabels returned ${labelsLD.length} floats for ${labels.length} labels (expected [L, D])`);
    }
    const rowIndex = new Map<number, number>();
    for (const { task } of items) {
      for (const doc of [...task.top, ...task.zero, ...task.heldOut]) if (!rowIndex.has(doc.row)) rowIndex.set(doc.row, rowIndex.size);
    }
    const embRD = this.#embeddingsOf(Int32Array.from(rowIndex.keys()));
    if (embRD.length !== rowIndex.size * d) {
      throw new SaerchError(`baseline predictor: embeddingsOf returned ${embRD.length} floats for ${rowIndex.size} rows of dim ${d} (label and store embedders differ?)`);
    }
    const { thresholdShare, gapScale, overlapWeight } = this.#config;
    return items.map(({ task, label }) => {
      const l = labelIndex.get(label)!;
      const sim = (doc: ExampleDoc): number => cosineRows(labelsLD, l, embRD, rowIndex.get(doc.row)!, d);
      if (task.top.length === 0) return new SaerchError(`feature ${task.feature}: no shown top documents to calibrate the predictor on`);
      const cal = calibrateSimilarity(task.top.map(sim), task.zero.map(sim), { thresholdShare, gapScale });
      const overlap = overlapWeight > 0 ? this.#overlapScorer(label) : (): number => 0;
      const preds = task.heldOut.map((doc) => ({ value: clamp1(predictFromSimilarity(sim(doc), cal) + overlapWeight * overlap(doc)), parsed: true }));
      if (preds.some((p) => !Number.isFinite(p.value))) {
        return new SaerchError(`feature ${task.feature}: non-finite label similarity (NaN in the label or document embeddings)`);
      }
      return preds;
    });
  }

  /** Nothing to release: the caller owns the embedder. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** s(doc) = idf-weighted share of the label's terms (its ", "-separated parts) that the document contains. */
  #overlapScorer(label: string): (doc: ExampleDoc) => number {
    const terms = label.split(", ").map((t) => this.#idOf(t.trim().toLowerCase()));
    const weights = terms.map((id) => this.#idfOf(id));
    const total = weights.reduce((a, b) => a + b, 0);
    return (doc) => {
      const ids = this.#termIds(doc);
      let hit = 0;
      terms.forEach((id, j) => {
        if (ids.includes(id)) hit += weights[j]!;
      });
      return total > 0 ? hit / total : 0;
    };
  }

  #interpretOne(task: FeatureTask): Interpretation | Error {
    if (task.top.length === 0) return new SaerchError(`feature ${task.feature}: no shown top documents to label from`);
    const topIds = distinctDocs(task.top.map((d) => this.#termIds(d)), this.#config.duplicateJaccard);
    const zeroIds = distinctDocs(task.zero.map((d) => this.#termIds(d)), this.#config.duplicateJaccard);
    const nTop = topIds.length;
    const nZero = zeroIds.length;
    const dfTop = new Map<number, number>();
    for (const ids of topIds) for (const id of ids) dfTop.set(id, (dfTop.get(id) ?? 0) + 1);
    if (dfTop.size === 0) {
      return new SaerchError(
        `feature ${task.feature}: the ${nTop} top documents hold no usable term (only stopwords, numbers or symbols)`,
        "nothing to do for the baseline; the LLM interpreter may still label it",
      );
    }
    const dfZero = new Map<number, number>();
    for (const ids of zeroIds) for (const id of ids) if (dfTop.has(id)) dfZero.set(id, (dfZero.get(id) ?? 0) + 1);

    const candidate = (id: number, top: number): Candidate => {
      const zero = dfZero.get(id) ?? 0;
      const idf = this.#idfOf(id);
      const term = this.#termOf(id);
      const bigram = isBigram(term);
      const score = (top / nTop - (nZero > 0 ? zero / nZero : 0)) * idf;
      return { term, words: bigram ? term.split(" ").map(pluralKey) : [pluralKey(term)], bigram, dfTop: top, dfZero: zero, idf, score };
    };
    const lines = (chosen: Candidate[]): string[] => chosen.map((c) => describe(c, nTop, nZero));
    const dupNote =
      nTop < task.top.length || nZero < task.zero.length
        ? ` (near-duplicates merged: ${task.top.length} → ${nTop} top, ${task.zero.length} → ${nZero} zero)`
        : "";
    const common = (id: number): boolean => this.#dfOf(id) >= this.#config.minCorpusDf;
    const eligible: Candidate[] = [];
    for (const [id, top] of dfTop) {
      if (top < this.#config.minTopDocs || !common(id)) continue;
      const c = candidate(id, top);
      if (c.score > 0) eligible.push(c);
    }
    if (eligible.length > 0) {
      const chosen = selectTerms(eligible.sort(byRank), this.#config.terms);
      const header = `distinctive terms of ${nTop} top vs ${nZero} zero documents${dupNote}, score = (top share − zero share) · idf:`;
      return { label: chosen.map((c) => c.term).join(", "), reasoning: [header, ...lines(chosen)].join("\n") };
    }
    const pool = [...dfTop].filter(([id]) => common(id));
    const all = (pool.length > 0 ? pool : [...dfTop]).map(([id, top]) => candidate(id, top)).sort(byRank);
    const chosen = selectTerms(all, 1);
    const header =
      `no term occurs in ≥ ${this.#config.minTopDocs} of the ${nTop} top documents more often than in the ${nZero} zero documents ` +
      `and in ≥ ${this.#config.minCorpusDf} corpus documents${dupNote}; falling back to the best term of any top document:`;
    return { label: chosen.map((c) => c.term).join(", "), reasoning: [header, ...lines(chosen)].join("\n") };
  }

  /** Distinct term ids of a document, tokenized once per store row. */
  #termIds(doc: ExampleDoc): Int32Array {
    const hit = this.#rowTerms.get(doc.row);
    if (hit !== undefined && hit.chars === doc.text.length) return hit.ids;
    const terms = termSet(doc.text, { bigrams: this.#config.bigrams });
    const ids = new Int32Array(terms.size);
    let i = 0;
    for (const t of terms) ids[i++] = this.#idOf(t);
    this.#rowTerms.set(doc.row, { chars: doc.text.length, ids });
    return ids;
  }

  #idOf(term: string): number {
    const i = this.#docFreq.indexOf(term);
    if (i >= 0) return i;
    let extra = this.#extraIds.get(term);
    if (extra === undefined) {
      extra = this.#docFreq.size + this.#extraTerms.length;
      this.#extraIds.set(term, extra);
      this.#extraTerms.push(term);
    }
    return extra;
  }

  #termOf(id: number): string {
    const size = this.#docFreq.size;
    return id < size ? this.#docFreq.termAt(id) : this.#extraTerms[id - size]!;
  }

  #dfOf(id: number): number {
    return id < this.#docFreq.size ? this.#docFreq.dfAt(id) : this.#docFreq.absentDf();
  }

  #idfOf(id: number): number {
    const size = this.#docFreq.size;
    return id < size ? this.#docFreq.idfAt(id) : this.#docFreq.idfOfDf(this.#docFreq.absentDf());
  }
}

/**
 * The documents that are not near-duplicates of an earlier one: a document whose term set has Jaccard
 * similarity ≥ `minJaccard` with an already kept document is dropped (the first, highest-activation copy stays).
 * @param docs each document's distinct term ids, in order
 */
export function distinctDocs(docs: readonly Int32Array[], minJaccard: number): Int32Array[] {
  const kept: Int32Array[] = [];
  const keptSets: Array<Set<number>> = [];
  for (const ids of docs) {
    const dup = keptSets.some((set, i) => {
      let inter = 0;
      for (const id of ids) if (set.has(id)) inter++;
      const union = ids.length + kept[i]!.length - inter;
      return union > 0 && inter / union >= minJaccard;
    });
    if (dup) continue;
    kept.push(ids);
    keptSets.push(new Set(ids));
  }
  return kept;
}

/** Cosine of row `a` of `aLD` and row `b` of `bRD` (both `[·, d]`); 0 when either row is zero. */
function cosineRows(aLD: Float32Array, a: number, bRD: Float32Array, b: number, d: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  const ao = a * d;
  const bo = b * d;
  for (let j = 0; j < d; j++) {
    const x = aLD[ao + j]!;
    const y = bRD[bo + j]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}
