/**
 * The authors' released feature families, read and compared with ours (METHOD.md §5; §8: the authors shipped
 * families "as JSON only: no family view, no map"): validate their families JSON into a neutral form, then score
 * each of their families against ours by member-set Jaccard.
 *
 * The authors' files are objects keyed by the parent's (clean) label, in one of two forms:
 * - old:   `{ "<parent label>": [[childLabel, childIndex], …] }` — e.g. `saerch/clean_families.json` in
 *          jsalt2024-evaluating-llms-for-astronomy/retrieval;
 * - later: `{ "<parent label>": { "parent": [parentLabel, subtreeSize], "children": [[childLabel, childIndex], …] } }`
 *          — written by `Model.dedup_and_save_families` in Christine8888/saerch `saerch/family.py`
 *          (`clean_families_<k>_<n>.json`).
 * In the later form `parent[1]` is not a feature index: the writer stores `subtree[2]`, and
 * `matrix.level_subtree` builds subtrees as `(node, subtree, subtree.number_of_nodes())`, so it is the size of
 * the parent's subtree (parent + descendants). Neither form holds the parent's index. It is looked up by label,
 * first among the file's own `[label, index]` children (a nested family's parent is a child of the family around
 * it, and every label in a file comes from one label → index table), then in a label table the caller gives.
 */
import { z } from "zod";
import { FormatError } from "../core/errors.js";
import { type Family, familyFeatures, jaccardSorted } from "./build.js";
import { describeIssues, FeatureIndexJson, type Issue, readJson } from "./families-json.js";

// ───────────────────────────── the authors' families JSON ─────────────────────────────

const AuthorsChild = z.union([z.tuple([z.string(), FeatureIndexJson]), FeatureIndexJson], {
  error: "expected a child [label, index] or a bare index (a non-negative integer)",
});
const AuthorsChildren = z.array(AuthorsChild);
const AuthorsParent = z.union([z.tuple([z.string(), z.number().int().min(0)]), z.string()], {
  error: "expected parent [label, subtree size] or a label",
});
const AuthorsParentChildren = z.object({ parent: AuthorsParent, children: AuthorsChildren });
const ENTRY_SHAPE = "expected a list of children [[label, index], …] or an object { parent, children }";

/** The two layouts of the authors' families JSON (see the file header). */
export const AUTHORS_FAMILY_FORMS = ["children-list", "parent-children"] as const;
/** One of AUTHORS_FAMILY_FORMS. */
export type AuthorsFamilyForm = (typeof AUTHORS_FAMILY_FORMS)[number];

/** Where an imported family's parent index came from: the file's own children lists, or the caller's labels. */
export type ParentSource = "file" | "labels";

/** One child of an imported family. */
export interface ImportedChild {
  /** Feature id. */
  feature: number;
  /** The authors' label, or null when the file gave a bare index. */
  label: string | null;
}

/** One family of the authors', in neutral form. */
export interface ImportedFamily {
  /** The parent's label (the JSON key). */
  parentLabel: string;
  /** The parent's feature id, or null when no label table resolved it. */
  parent: number | null;
  /** How `parent` was found; null when it was not. */
  parentFrom: ParentSource | null;
  /** The later form's `parent[1]`: size of the parent's subtree (parent + descendants); null in the old form. */
  reportedSize: number | null;
  /** Children in file order; a feature listed twice is kept once (first occurrence). */
  children: ImportedChild[];
}

/** A parsed authors' file. */
export interface ImportedFamilies {
  /** The file (or source name) read. */
  file: string;
  /** The forms its entries use, in AUTHORS_FAMILY_FORMS order (both when mixed; none when empty). */
  forms: AuthorsFamilyForm[];
  /** Families in file (key) order. */
  families: ImportedFamily[];
}

/** How the authors' file is read. */
export interface AuthorsImportOptions {
  /**
   * Feature id → label, to find parents the file's own children do not name (e.g. the authors'
   * clean labels). A label must match exactly and belong to one feature; otherwise the parent stays null.
   */
  labels?: ReadonlyMap<number, string>;
}

/** Label → feature id, with −1 marking a label held by two different features. */
function labelIndex(pairs: Iterable<[string, number]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [label, feature] of pairs) {
    const seen = out.get(label);
    out.set(label, seen === undefined || seen === feature ? feature : -1);
  }
  return out;
}

/** The feature of an unambiguous label, or null. */
function lookUp(index: ReadonlyMap<string, number>, label: string): number | null {
  const f = index.get(label);
  return f === undefined || f < 0 ? null : f;
}

const AUTHORS_FIX = "pass the authors' clean_families JSON (old form: { label: [[label, index], …] }; later: { label: { parent, children } })";

/**
 * Validate the authors' families JSON (already parsed) and convert it to neutral form. Accepted: an object whose
 * every value is either a children list (old form) or an object with `parent` and `children` (later form; other
 * keys ignored). A child is `[label, index]` or a bare `index`; `parent` is `[label, subtreeSize]` or a bare label
 * (its label is ignored: the key is the parent's label). Indices and sizes are non-negative integers.
 * @param value the parsed JSON
 * @param file the file (or source name) it came from, for error messages
 */
export function parseAuthorsFamilies(value: unknown, file: string, options: AuthorsImportOptions = {}): ImportedFamilies {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FormatError(file, `expected an object keyed by parent label, got ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value}`, AUTHORS_FIX);
  }
  // Each entry is checked against the schema of its own form, so an error points inside it.
  const issues: Issue[] = [];
  const entries: Array<{ parentLabel: string; form: AuthorsFamilyForm; children: Array<z.infer<typeof AuthorsChild>>; reportedSize: number | null }> = [];
  for (const [parentLabel, entry] of Object.entries(value)) {
    const isList = Array.isArray(entry);
    if (!isList && (entry === null || typeof entry !== "object")) {
      issues.push({ path: [parentLabel], message: ENTRY_SHAPE });
      continue;
    }
    const r = isList ? AuthorsChildren.safeParse(entry) : AuthorsParentChildren.safeParse(entry);
    if (!r.success) {
      issues.push(...r.error.issues.map((i) => ({ path: [parentLabel, ...i.path], message: i.message })));
      continue;
    }
    const data = r.data;
    if (Array.isArray(data)) entries.push({ parentLabel, form: "children-list", children: data, reportedSize: null });
    else entries.push({ parentLabel, form: "parent-children", children: data.children, reportedSize: Array.isArray(data.parent) ? data.parent[1] : null });
  }
  if (issues.length > 0) throw new FormatError(file, `not an authors' families file:\n${describeIssues(issues, true)}`, AUTHORS_FIX);

  const forms = new Set(entries.map((e) => e.form));
  const raw = entries.map(({ parentLabel, children: childEntries, reportedSize }) => {
    const seen = new Set<number>();
    const children: ImportedChild[] = [];
    for (const c of childEntries) {
      const child = typeof c === "number" ? { feature: c, label: null } : { feature: c[1], label: c[0] };
      if (seen.has(child.feature)) continue;
      seen.add(child.feature);
      children.push(child);
    }
    return { parentLabel, reportedSize, children };
  });

  const fromFile = labelIndex(raw.flatMap((f) => f.children.filter((c) => c.label !== null).map((c): [string, number] => [c.label!, c.feature])));
  const fromLabels = labelIndex(Array.from(options.labels ?? [], ([feature, label]): [string, number] => [label, feature]));
  const families = raw.map(({ parentLabel, reportedSize, children }): ImportedFamily => {
    const inFile = lookUp(fromFile, parentLabel);
    const inLabels = inFile === null ? lookUp(fromLabels, parentLabel) : null;
    const parent = inFile ?? inLabels;
    const parentFrom: ParentSource | null = inFile !== null ? "file" : inLabels !== null ? "labels" : null;
    return { parentLabel, parent, parentFrom, reportedSize, children };
  });
  return { file, forms: AUTHORS_FAMILY_FORMS.filter((f) => forms.has(f)), families };
}

/** Read and validate the authors' families JSON file (either form; see the file header). */
export function readAuthorsFamilies(path: string, options: AuthorsImportOptions = {}): ImportedFamilies {
  return parseAuthorsFamilies(readJson(path, AUTHORS_FIX), path, options);
}

// ───────────────────────────── comparing theirs with ours ─────────────────────────────

/** Default Jaccard at which a family of theirs counts as reproduced by one of ours. */
export const FAMILY_MATCH_JACCARD = 0.5;

/** How families are compared. */
export const FamilyCompareConfig = z.strictObject({
  matchJaccard: z
    .number()
    .min(0)
    .max(1)
    .default(FAMILY_MATCH_JACCARD)
    .describe("a family counts as matched when a family on the other side has member-set Jaccard ≥ this (0.5: more shared than not; the paper's dedupe calls > 0.6 the same family)"),
});
/** Parsed comparison settings. */
export type FamilyCompareConfig = z.infer<typeof FamilyCompareConfig>;
/** Comparison settings as written (defaults optional). */
export type FamilyCompareConfigInput = z.input<typeof FamilyCompareConfig>;

/** How one family of theirs fares against ours. */
export interface FamilyMatch {
  /** Position in `theirs`. */
  index: number;
  parentLabel: string;
  /** Distinct features in their family: the parent (when its index is known) and the children. */
  size: number;
  /** Best Jaccard of the full member sets (root + children) against any of ours; 0 when none shares a feature. */
  bestJaccard: number;
  /** Id of our family achieving it (the lowest id on ties), or null when none shares a feature. */
  bestFamily: number | null;
  /** bestJaccard ≥ matchJaccard. */
  matched: boolean;
  /** Whether their parent is the root of one of our families; null when its index is unknown. */
  parentIsRoot: boolean | null;
}

/** Totals of a comparison. Fractions over an empty side are 0. */
export interface FamilyComparisonSummary {
  /** Families of theirs. */
  theirs: number;
  /** Families of ours. */
  ours: number;
  matchJaccard: number;
  /** Their families with a match among ours. */
  matched: number;
  /** matched / theirs. */
  matchedFraction: number;
  /** Mean of bestJaccard over theirs. */
  meanBestJaccard: number;
  /** Our families with a match among theirs (Jaccard ≥ matchJaccard with at least one). */
  oursMatched: number;
  /** oursMatched / ours. */
  oursMatchedFraction: number;
  /** Their families whose parent index is known. */
  parentsKnown: number;
  /** …of which the parent is one of our roots. */
  parentsAreRoots: number;
  /** parentsAreRoots / parentsKnown, or null when no parent is known. */
  parentRootFraction: number | null;
}

/** The outcome of compareFamilies. */
export interface FamilyComparison {
  /** One per family of theirs, in their order. */
  matches: FamilyMatch[];
  summary: FamilyComparisonSummary;
}

/** Sorted distinct ids. */
function sortedSet(ids: Iterable<number>): Int32Array {
  return Int32Array.from(new Set(ids)).sort();
}

/**
 * Compare the authors' families with ours by member sets. A family's set is its root and children as feature
 * ids; an imported family whose parent index is unknown contributes its children only (which lowers its Jaccard
 * against ours by one member). Only our families sharing a feature are scored (an inverted index), so the cost
 * is the sum of overlaps, not |theirs|·|ours|.
 */
export function compareFamilies(ours: readonly Family[], theirs: readonly ImportedFamily[], config: FamilyCompareConfigInput = {}): FamilyComparison {
  const { matchJaccard } = FamilyCompareConfig.parse(config);
  const oursSets = ours.map((f) => sortedSet(familyFeatures(f)));
  const familiesOf = new Map<number, number[]>();
  oursSets.forEach((set, j) => {
    for (const f of set) {
      const list = familiesOf.get(f);
      if (list) list.push(j);
      else familiesOf.set(f, [j]);
    }
  });
  const roots = new Set(ours.map((f) => f.root));
  const oursBest = new Float64Array(ours.length);

  const matches = theirs.map((fam, index): FamilyMatch => {
    const set = sortedSet([...(fam.parent === null ? [] : [fam.parent]), ...fam.children.map((c) => c.feature)]);
    const candidates = sortedSet(Array.from(set).flatMap((f) => familiesOf.get(f) ?? []));
    let bestJaccard = 0;
    let bestFamily: number | null = null;
    for (const j of candidates) {
      const jac = jaccardSorted(set, oursSets[j]!);
      if (jac > oursBest[j]!) oursBest[j] = jac;
      if (bestFamily === null || jac > bestJaccard) {
        bestJaccard = jac;
        bestFamily = ours[j]!.id;
      }
    }
    return {
      index,
      parentLabel: fam.parentLabel,
      size: set.length,
      bestJaccard,
      bestFamily,
      matched: bestJaccard >= matchJaccard,
      parentIsRoot: fam.parent === null ? null : roots.has(fam.parent),
    };
  });

  const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
  const matched = matches.filter((m) => m.matched).length;
  const oursMatched = oursBest.filter((j) => j >= matchJaccard).length;
  const known = matches.filter((m) => m.parentIsRoot !== null);
  const parentsAreRoots = known.filter((m) => m.parentIsRoot === true).length;
  return {
    matches,
    summary: {
      theirs: theirs.length,
      ours: ours.length,
      matchJaccard,
      matched,
      matchedFraction: ratio(matched, theirs.length),
      meanBestJaccard: ratio(
        matches.reduce((s, m) => s + m.bestJaccard, 0),
        theirs.length,
      ),
      oursMatched,
      oursMatchedFraction: ratio(oursMatched, ours.length),
      parentsKnown: known.length,
      parentsAreRoots,
      parentRootFraction: known.length === 0 ? null : parentsAreRoots / known.length,
    },
  };
}
