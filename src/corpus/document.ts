/**
 * A document of the corpus: one arXiv abstract. The text that gets embedded is `title + "\n\n" + abstract`,
 * as in the paper (../shared/paper/METHOD.md §1).
 */

/** One abstract with its metadata. */
export interface Doc {
  /** Unique identifier (an arXiv id such as "2503.11731"). */
  id: string;
  /** Title, whitespace normalised. */
  title: string;
  /** Abstract, whitespace normalised. */
  abstract: string;
  /** arXiv categories in no particular order: filter with "contains", never "first equals". */
  categories: string[];
  /** Listing or publication date, YYYY-MM-DD, when known. */
  date?: string;
}

/** The text the paper embeds for a document: title, a blank line, abstract. */
export function docText(doc: Pick<Doc, "title" | "abstract">): string {
  return `${doc.title}\n\n${doc.abstract}`;
}
