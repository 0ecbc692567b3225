/**
 * Terms of an abstract for the offline baseline interpreter (METHOD.md §4, the no-LLM path): a small,
 * predictable tokenizer, unigrams and bigrams, and a background document-frequency table (`DocFreq`) over
 * the SAE's corpus that turns "frequent among a feature's top documents" into "distinctive" via idf.
 *
 * Tokenizer, in order:
 * 1. LaTeX commands (`\alpha`, `\mathrm`, `\odot`) become a space: they are markup, not words.
 * 2. Lowercase.
 * 3. Words are maximal runs of letters, digits and combining marks, with inner hyphens kept
 *    (`x-ray`, `n-body`, `top-k`); everything else separates words.
 * 4. A word is dropped when it is shorter than {@link MIN_TOKEN_CHARS}, made of digits (and hyphens) only
 *    (`2025`, `1-2`), or a stopword ({@link STOPWORDS}).
 * A bigram joins two kept words that were adjacent in the text with only spaces between them: a dropped
 * word, punctuation or a line break (the title/abstract boundary) ends the phrase, so "detection of dark
 * matter." yields "dark matter" but "galaxies. Dark" yields nothing.
 */
import { SaerchError } from "../core/errors.js";

/** Words shorter than this are dropped (single letters are variables, initials or LaTeX leftovers). */
export const MIN_TOKEN_CHARS = 2;

/** English function words: never part of a topic name. */
const ENGLISH_STOPWORDS = `
a about above across after again against all almost along already also although always am among an and
another any anyone anything are around as at be became because become becomes been before being below
between both but by can cannot could did do does doing done down during each either else enough especially
even ever every for from further had has have having he her here hers herself him himself his how however
i if in into is it its itself just least less many may me might more most much must my myself neither no
nor not now of off often on once one only onto or other others otherwise our ours ourselves out over own
per perhaps rather same several she should since so some such than that the their theirs them themselves
then there therefore these they this those though through throughout thus to together too toward towards
under until up upon us very was we were what whatever when whenever where whereas whether which while who
whom whose why will with within without would yet you your yours
`;

/**
 * Academic boilerplate: words of how a paper talks about itself (we propose, results show, state-of-the-art)
 * that would make useless labels. Domain words that are merely common ("model", "data", "galaxies",
 * "learning") are NOT here: they can start a phrase ("language model", "data augmentation"), and the
 * contrast with zero-activating documents plus idf already demotes them when they are not distinctive.
 */
const ACADEMIC_STOPWORDS = `
ability able achieve achieved achieves achieving additionally address addresses addressing advance advances
aim aims al allow allowing allows approach approaches article available based best better cf challenge
challenges challenging compared comparing comparison conclude consider considered considering contribution
contributions crucial currently demonstrate demonstrated demonstrates demonstrating describe described
designed despite develop developed developing different discuss discussed effective effectively eg enable
enabled enables enabling et etc existing experimental experiments explore explored explores exploring
extensive extensively finally find finding findings finds first focus focused focuses following found four
framework frameworks fully furthermore give given gives good great highly ie illustrate important improve
improved improvement improvements improves improving include included includes including increasingly
introduce introduced introduces introducing investigate investigated investigates investigating issue issues
key known largely lead leading leads letter likely mainly make makes making method methods moreover namely
nearly new note novel numerous obtain obtained obtaining offer offers outperform outperforms overall paper
particular particularly perform performed performing performs play plays possible potentially present
presented presenting presents previous previously primarily promising propose proposed proposes proposing
provide provided provides providing publicly recent recently respectively result resulting results reveal
revealed reveals second see seen show showed showing shown shows significant significantly similar simple
simply specific specifically state-of-the-art strongly studied studies study studying substantial
substantially successfully suggest suggests superior supports task tasks third three two typically
understand use used useful uses using utilize utilizing various versus via vs well well-known whole widely
work works yield yields
`;

/**
 * Every stopword: English function words plus academic boilerplate. Exported so readers (and tests) can see
 * exactly which words a baseline label can never contain.
 */
export const STOPWORDS: ReadonlySet<string> = new Set(`${ENGLISH_STOPWORDS} ${ACADEMIC_STOPWORDS}`.split(/\s+/).filter((w) => w.length > 0));

const LATEX_COMMAND = /\\[A-Za-z]+/g;
const WORD = /[\p{L}\p{N}\p{M}]+(?:-[\p{L}\p{N}\p{M}]+)*/gu;
const NUMBER_ONLY = /^[\p{N}-]+$/u;
const SPACE = 32;
const TAB = 9;

/** True when `word` (already lowercase) is kept as a term: long enough, not a number, not a stopword. */
export function isContentWord(word: string): boolean {
  return word.length >= MIN_TOKEN_CHARS && !NUMBER_ONLY.test(word) && !STOPWORDS.has(word);
}

/** True when `text[from, to)` holds only spaces and tabs (and is not empty): the two words are adjacent. */
function onlySpaces(text: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c !== SPACE && c !== TAB) return false;
  }
  return true;
}

/**
 * Walk the terms of `text` in order: each kept word, and (when `bigrams`) each bigram right after its second
 * word. Duplicates are reported every time they occur.
 */
export function forEachTerm(text: string, bigrams: boolean, fn: (term: string) => void): void {
  const lower = text.replace(LATEX_COMMAND, " ").toLowerCase();
  let prev: string | undefined;
  let prevEnd = -1;
  for (const m of lower.matchAll(WORD)) {
    const word = m[0];
    const start = m.index!; // always set by matchAll
    if (!isContentWord(word)) {
      prev = undefined;
      continue;
    }
    fn(word);
    if (bigrams && prev !== undefined && onlySpaces(lower, prevEnd, start)) fn(`${prev} ${word}`);
    prev = word;
    prevEnd = start + word.length;
  }
}

/** The kept words of `text` in order, duplicates included (no bigrams). */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  forEachTerm(text, false, (t) => out.push(t));
  return out;
}

/** Which terms to extract. */
export interface TermOptions {
  /** Also extract bigrams of adjacent kept words. */
  bigrams: boolean;
}

/** The distinct terms of `text` (unigrams, and bigrams when asked), in order of first occurrence. */
export function termSet(text: string, opts: TermOptions): Set<string> {
  const out = new Set<string>();
  forEachTerm(text, opts.bigrams, (t) => out.add(t));
  return out;
}

/** True when `term` is a bigram ("dark matter"). */
export function isBigram(term: string): boolean {
  return term.includes(" ");
}

/**
 * A crude singular form used only to spot redundant label terms ("exoplanet" vs "exoplanets", "galaxy" vs
 * "galaxies"); labels keep the surface form. "-ies" → "-y"; a final "s" is dropped unless the word is short
 * or ends in "ss", "us" or "is" ("mass", "radius", "analysis").
 */
export function pluralKey(word: string): string {
  if (word.length > 4 && word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.length > 3 && word.endsWith("s") && !/(?:ss|us|is)$/.test(word)) return word.slice(0, -1);
  return word;
}

/** Options for {@link buildDocFreq} and {@link DocFreqBuilder}. */
export interface DocFreqOptions {
  /** Count bigrams too (must match the baseline's `bigrams` setting). */
  bigrams: boolean;
  /**
   * Keep only terms in at least this many documents (default {@link DEFAULT_MIN_DF}). Pruning the
   * one-document terms (most bigrams) roughly halves the table; a pruned term is looked up as df = minDf − 1.
   */
  minDf?: number;
}

/** Default `minDf`: drop terms seen in a single document (exact: they are looked up as df 1). */
export const DEFAULT_MIN_DF = 2;

/**
 * Background document frequencies over a corpus: how many documents contain each term, and the smoothed
 * inverse document frequency idf(t) = ln((1 + N) / (1 + df(t))) + 1 (≥ 1; rarer is larger).
 * Built once per corpus by {@link buildDocFreq}; terms carry a dense index in [0, size) for compact caches.
 */
export class DocFreq {
  /** N: documents counted. */
  readonly docs: number;
  /** Whether bigrams were counted. */
  readonly bigrams: boolean;
  /** Terms in fewer documents than this were dropped. */
  readonly minDf: number;
  readonly #index: Map<string, number>;
  readonly #dfT: Int32Array;
  readonly #terms: string[];

  /** Use {@link buildDocFreq} or {@link DocFreqBuilder}; `index` maps term → position in `dfT`. */
  constructor(docs: number, opts: { bigrams: boolean; minDf: number }, index: Map<string, number>, dfT: Int32Array) {
    if (index.size !== dfT.length) throw new SaerchError(`DocFreq: ${index.size} terms but ${dfT.length} counts`);
    this.docs = docs;
    this.bigrams = opts.bigrams;
    this.minDf = opts.minDf;
    this.#index = index;
    this.#dfT = dfT;
    this.#terms = new Array<string>(dfT.length);
    for (const [term, i] of index) {
      if (!(i >= 0 && i < dfT.length) || this.#terms[i] !== undefined) throw new SaerchError(`DocFreq: bad index ${i} for "${term}"`);
      this.#terms[i] = term;
    }
  }

  /** Number of distinct terms kept. */
  get size(): number {
    return this.#dfT.length;
  }

  /** Dense index of `term` in [0, size), or −1 when it is not in the table. */
  indexOf(term: string): number {
    return this.#index.get(term) ?? -1;
  }

  /** The term at dense index `i` (inverse of {@link indexOf}). */
  termAt(i: number): string {
    const t = this.#terms[i];
    if (t === undefined) throw new SaerchError(`DocFreq.termAt: index ${i} outside [0, ${this.size})`);
    return t;
  }

  /** Documents containing `term`; a term not in the table counts as `minDf − 1` (0 when nothing was pruned). */
  df(term: string): number {
    const i = this.#index.get(term);
    return i === undefined ? this.absentDf() : this.#dfT[i]!;
  }

  /** Documents containing the term at dense index `i` (see {@link indexOf}). */
  dfAt(i: number): number {
    const df = this.#dfT[i];
    if (df === undefined) throw new SaerchError(`DocFreq.dfAt: index ${i} outside [0, ${this.size})`);
    return df;
  }

  /** Smoothed idf of `term`: ln((1 + N) / (1 + df)) + 1. */
  idf(term: string): number {
    return this.idfOfDf(this.df(term));
  }

  /** Smoothed idf of the term at dense index `i` (see {@link indexOf}). */
  idfAt(i: number): number {
    const df = this.#dfT[i];
    if (df === undefined) throw new SaerchError(`DocFreq.idfAt: index ${i} outside [0, ${this.size})`);
    return this.idfOfDf(df);
  }

  /** Smoothed idf of a term in `df` documents, clamped to [0, N]. */
  idfOfDf(df: number): number {
    const d = Math.min(Math.max(df, 0), this.docs);
    return Math.log((1 + this.docs) / (1 + d)) + 1;
  }

  /** df assumed for a term not in the table. */
  absentDf(): number {
    return Math.max(this.minDf - 1, 0);
  }
}

/** Streams documents into a {@link DocFreq}: `add` each text (sync or from an async reader), then `finish`. */
export class DocFreqBuilder {
  readonly #bigrams: boolean;
  readonly #minDf: number;
  /** term → provisional id (first-seen order); becomes the final term → index table in `finish`. */
  #index: Map<string, number> | undefined = new Map();
  /** `[terms]` documents containing each provisional id. */
  #dfT = new Int32Array(1024);
  /** `[terms]` the last document (1-based) that counted each id: one hash lookup per occurrence, no per-doc set. */
  #lastDocT = new Int32Array(1024);
  #docs = 0;

  constructor(opts: DocFreqOptions) {
    const minDf = opts.minDf ?? DEFAULT_MIN_DF;
    if (!Number.isInteger(minDf) || minDf < 1) {
      throw new SaerchError(`DocFreq: minDf must be an integer ≥ 1, got ${minDf}`, "use minDf 1 (keep all terms) or 2 (drop one-document terms)");
    }
    this.#bigrams = opts.bigrams;
    this.#minDf = minDf;
  }

  /** Count one document (each distinct term once). */
  add(text: string): void {
    const index = this.#index;
    if (index === undefined) throw new SaerchError("DocFreqBuilder.add after finish()");
    const doc = ++this.#docs;
    forEachTerm(text, this.#bigrams, (t) => {
      let id = index.get(t);
      if (id === undefined) {
        id = index.size;
        index.set(t, id);
        if (id >= this.#dfT.length) this.#grow();
      } else if (this.#lastDocT[id] === doc) {
        return;
      }
      this.#lastDocT[id] = doc;
      this.#dfT[id]!++;
    });
  }

  /** Prune terms below minDf and freeze the table; the builder cannot be used afterwards. */
  finish(): DocFreq {
    const index = this.#index;
    if (index === undefined) throw new SaerchError("DocFreqBuilder.finish called twice");
    this.#index = undefined;
    const oldDfT = this.#dfT;
    this.#lastDocT = new Int32Array(0);
    this.#dfT = new Int32Array(0);
    // Renumber the kept terms densely, in place. The map iterates in insertion order = id order, so
    // kept ≤ id and compacting oldDfT never overwrites a count still to be read; deleting or overwriting
    // the current key while iterating is safe.
    let kept = 0;
    for (const [term, id] of index) {
      const df = oldDfT[id]!;
      if (df < this.#minDf) {
        index.delete(term);
      } else {
        oldDfT[kept] = df;
        index.set(term, kept++);
      }
    }
    return new DocFreq(this.#docs, { bigrams: this.#bigrams, minDf: this.#minDf }, index, oldDfT.slice(0, kept));
  }

  #grow(): void {
    const n = this.#dfT.length * 2;
    const dfT = new Int32Array(n);
    dfT.set(this.#dfT);
    const lastDocT = new Int32Array(n);
    lastDocT.set(this.#lastDocT);
    this.#dfT = dfT;
    this.#lastDocT = lastDocT;
  }
}

/**
 * Build the background document frequencies of a corpus in one pass (each text tokenized once, not kept).
 * @param texts the documents' texts (`title + "\n\n" + abstract`), e.g. every document of the SAE's corpus
 * @param opts bigrams (match the baseline config) and minDf
 */
export function buildDocFreq(texts: Iterable<string>, opts: DocFreqOptions): DocFreq {
  const builder = new DocFreqBuilder(opts);
  for (const t of texts) builder.add(t);
  return builder.finish();
}
