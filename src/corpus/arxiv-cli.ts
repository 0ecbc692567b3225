/**
 * `npm run corpus:arxiv -- --category cs.LG --from 2024-01-01 --to 2024-02-01 --max 500 --out data/corpus/x.jsonl`:
 * harvest arXiv abstracts (../shared/paper/METHOD.md §1) through src/corpus/arxiv.ts. Prints one progress
 * line per page and one clear message per failure on stderr. Ctrl-C stops after the current request; rerun
 * the same command to resume.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { describeError } from "../core/errors.js";
import { harvestArxiv } from "./arxiv.js";
import { ArxivHarvestConfig } from "./config.js";

/** Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it. */
const EXIT_INTERRUPTED = 130;
/** Exit code of a bad command line. */
const EXIT_USAGE = 2;

const USAGE = `usage: npm run corpus:arxiv -- --category <cat> --from YYYY-MM-DD --to YYYY-MM-DD [options]

  --category <cat>      arXiv category, e.g. cs.LG or astro-ph.GA (required)
  --from, --to <day>    submission days, inclusive (required)
  --max <n>             stop once the output holds n records (default 1000)
  --out <file.jsonl>    output, plain JSON Lines (default data/corpus/arxiv-<cat>-<from>-<to>.jsonl)
  --page-size <n>       results per request (default 100, at most 2000)
  --delay-ms <ms>       pause between requests (default 3000, as arXiv's terms ask)
  --max-retries <n>     retries per page on 429/5xx/network errors (default 5)
  --max-pages <n>       stop after n pages in this run (rerun to continue)
  --base-url <url>      API endpoint (default https://export.arxiv.org/api/query)
  -h, --help            this text

Rerunning the same command resumes where it stopped; ids already in the output are never written twice.`;

/** A numeric option, or the raw string so the schema reports it as "expected number". */
function num(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return value.trim() !== "" && Number.isFinite(n) ? n : value;
}

/**
 * Run the harvester from command-line arguments.
 * @param argv arguments after the script name (a leading "--" is ignored)
 * @returns the exit code: 0 done (or stopped by --max-pages), 1 failure, 2 bad arguments, 130 interrupted
 */
export async function arxivCliMain(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv.filter((a) => a !== "--"),
      options: {
        category: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        max: { type: "string" },
        out: { type: "string" },
        "page-size": { type: "string" },
        "delay-ms": { type: "string" },
        "max-retries": { type: "string" },
        "max-pages": { type: "string" },
        "base-url": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    console.error(USAGE);
    return 0;
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const parsed = ArxivHarvestConfig.safeParse({
    category: str("category"),
    from: str("from"),
    to: str("to"),
    max: num(str("max")),
    out: str("out"),
    pageSize: num(str("page-size")),
    delayMs: num(str("delay-ms")),
    maxRetries: num(str("max-retries")),
    maxPages: num(str("max-pages")),
    baseUrl: str("base-url"),
  });
  if (!parsed.success) {
    console.error(`invalid arguments:\n${z.prettifyError(parsed.error)}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const controller = new AbortController();
  const onSigint = (): void => {
    console.error("\ninterrupted: finishing the current step; rerun the same command to resume");
    controller.abort();
  };
  process.once("SIGINT", onSigint);
  try {
    const r = await harvestArxiv(parsed.data, { signal: controller.signal });
    const summary = `${r.written} records in ${r.out} (+${r.added} this run, ${r.totalResults} match the query)`;
    if (r.stopped === "aborted") {
      console.error(`stopped: ${summary}; rerun to resume`);
      return EXIT_INTERRUPTED;
    }
    if (r.stopped === "max-pages") console.error(`paused after ${r.pages} page(s): ${summary}; rerun to continue`);
    else console.error(`done (${r.stopped === "max" ? "reached --max" : "no more results"}): ${summary}`);
    return 0;
  } catch (err) {
    console.error(describeError(err));
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
  }
}
