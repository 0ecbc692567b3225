// `npm run corpus:arxiv -- --category cs.LG --from 2024-01-01 --to 2024-02-01 --max 500 --out data/corpus/arxiv-cs.LG.jsonl`
import { arxivCliMain } from "../dist/corpus/arxiv-cli.js";

process.exitCode = await arxivCliMain(process.argv.slice(2));
