/**
 * The offline default embedding provider: Universal Sentence Encoder lite (D = 512), the stand-in for the
 * paper's text-embedding-3-small (METHOD.md §1; text = `title + "\n\n" + abstract`), computed on every core
 * by a pool of worker threads. It reproduces ../shared/embeddings/use-lite-512/ (cosine ≥ 0.999 per row).
 *
 * Each worker loads the model once (use-lite-worker.ts); `embed(texts)` cuts the texts into batches of
 * `batchSize`, hands them to idle workers, and reassembles the rows in input order. A batch that fails
 * rejects its call with the worker's message, and the worker stays in the pool; a worker that dies is
 * replaced. Idle workers do not keep the process alive, and `close()` terminates them.
 *
 * Worker script: the compiled `use-lite-worker.js` next to this module (dist/embed/). Run from src/ (vitest
 * transforms .ts in-process, but a worker thread cannot load .ts), the pool falls back to
 * `../../dist/embed/use-lite-worker.js`, so tests need `npm run build` first; a missing or out-of-date
 * build is reported with that fix.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import type { Embedder, EmbedProgress } from "./embedder.js";
import {
  USE_LITE_BACKENDS,
  USE_LITE_DIM,
  USE_LITE_PROTOCOL,
  USE_LITE_WORKER_KIND,
  type UseLiteBackend,
  type UseLiteReply,
  type UseLiteRequest,
  type UseLiteWorkerData,
} from "./use-lite-worker.js";

/** Batch size of the shared store (its manifest's `batch_size`). */
const SHARED_STORE_BATCH = 16;
/** Largest batch: the padded `[B, 128, 512]` activations stay in the tens of MB per worker. */
const MAX_BATCH_SIZE = 1024;
/** `maxBatch` = batchSize · workers · this: one store call keeps every worker busy for several batches. */
const BATCHES_PER_WORKER_PER_CALL = 8;

/** Options of the USE-lite provider. */
export const UseLiteEmbedOptions = z.strictObject({
  workers: z
    .number()
    .int()
    .min(1)
    .default(() => availableParallelism())
    .describe("Worker threads, each with its own copy of the model (~150 MB); default one per core"),
  batchSize: z
    .number()
    .int()
    .min(1)
    .max(MAX_BATCH_SIZE)
    .default(SHARED_STORE_BATCH)
    .describe(
      "Texts per model call; 16 as in the shared store (padding to a batch's longest text is masked, so the " +
        "batching changes vectors by float rounding only)",
    ),
  backend: z
    .enum(USE_LITE_BACKENDS)
    .default("onnx")
    .describe(
      "onnx: the model's graph rebuilt for onnxruntime-node, ~5x faster, cosine ≥ 0.99999 to the shared store; " +
        "tfjs-wasm: the reference @energetic-ai path (TF.js 4.5 wasm) that made the store",
    ),
});
/** Parsed options. */
export type UseLiteEmbedOptions = z.infer<typeof UseLiteEmbedOptions>;
/** Options as written by a caller (defaults optional). */
export type UseLiteEmbedOptionsInput = z.input<typeof UseLiteEmbedOptions>;

/** The USE-lite embedder, with its pool settings. */
export interface UseLiteEmbedder extends Embedder {
  /** Worker threads in the pool. */
  readonly workers: number;
  /** Texts per model call. */
  readonly batchSize: number;
  readonly backend: UseLiteBackend;
}

/**
 * The worker script: `use-lite-worker.js` beside this module, else (running from src/ under vitest) the
 * compiled `dist/embed/use-lite-worker.js`.
 * @throws SaerchError telling to run `npm run build` when neither exists
 */
export function useLiteWorkerUrl(): URL {
  const beside = new URL("./use-lite-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL("../../dist/embed/use-lite-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new SaerchError(
    `USE-lite worker script not found: neither ${fileURLToPath(beside)} nor ${fileURLToPath(built)} exists`,
    "run `npm run build` (worker threads load the compiled dist/embed/use-lite-worker.js)",
  );
}

/** One batch of one embed call. */
interface Job {
  id: number;
  texts: string[];
  /** Index of its first text in the call. */
  start: number;
  call: Call;
}

/** One embed call: its output and outcome. */
interface Call {
  outBD: Float32Array;
  pending: number;
  done: number;
  failed: boolean;
  onProgress: EmbedProgress | undefined;
  resolve: (outBD: Float32Array) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  label: string;
}

/** "[start, end)" of a job's texts in its call. */
const range = (job: Job): string => `[${job.start}, ${job.start + job.texts.length})`;

/** Start one worker; resolves once its model is loaded. */
function startWorker(url: URL, data: UseLiteWorkerData, label: string): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url, { workerData: data });
    const fail = (message: string, fix?: string): void => {
      cleanup();
      void worker.terminate();
      reject(new SaerchError(`USE-lite ${label} failed to start: ${message}`, fix));
    };
    const onMessage = (msg: UseLiteReply): void => {
      if (msg.type === "fatal") return fail(msg.message);
      if (msg.type !== "ready") return;
      if (msg.protocol !== USE_LITE_PROTOCOL) {
        return fail(
          `${fileURLToPath(url)} speaks protocol ${msg.protocol}, this pool ${USE_LITE_PROTOCOL}`,
          "run `npm run build` to recompile the worker",
        );
      }
      cleanup();
      resolve(worker);
    };
    const onError = (err: Error): void => fail(err.message);
    const onExit = (code: number): void => fail(`the thread exited with code ${code} while loading`);
    const cleanup = (): void => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });
}

/**
 * Create the USE-lite embedder: start `workers` threads and wait until each has loaded the model.
 * `id` "use-lite:512" (both backends: they differ by float rounding only); rows are unit norm (the model's
 * last op is an L2 normalisation), so `normalized` is true.
 * @throws SaerchError for invalid options, a missing build, or a worker that cannot load the model
 */
export async function createUseLiteEmbedder(input: UseLiteEmbedOptionsInput = {}): Promise<UseLiteEmbedder> {
  const parsed = UseLiteEmbedOptions.safeParse(input);
  if (!parsed.success) throw new SaerchError(`invalid USE-lite options: ${z.prettifyError(parsed.error)}`);
  const o = parsed.data;
  const url = useLiteWorkerUrl();
  const data: UseLiteWorkerData = { kind: USE_LITE_WORKER_KIND, backend: o.backend };

  const slots: Slot[] = [];
  const queue: Job[] = [];
  let nextJobId = 0;
  let nextWorker = 0;
  let closed = false;
  /** Replacement workers still loading. */
  let starting = 0;
  let lastStartError: Error | undefined;

  const failCall = (call: Call, err: Error): void => {
    if (call.failed) return;
    call.failed = true;
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.call === call) queue.splice(i, 1);
    call.reject(err);
  };

  const finishJob = (job: Job, vectors: Float32Array): void => {
    const call = job.call;
    if (call.failed) return;
    if (vectors.length !== job.texts.length * USE_LITE_DIM) {
      const message = `USE-lite worker returned ${vectors.length} values for ${job.texts.length} texts`;
      failCall(call, new SaerchError(message));
      return;
    }
    call.outBD.set(vectors, job.start * USE_LITE_DIM);
    call.done += job.texts.length;
    call.pending--;
    try {
      call.onProgress?.(call.done);
    } catch (err) {
      failCall(call, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (call.pending === 0) call.resolve(call.outBD);
  };

  const pump = (): void => {
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (slot.job) continue;
      const job = queue.shift()!;
      slot.job = job;
      slot.worker.ref(); // busy workers keep the process alive until their batch is back
      const req: UseLiteRequest = { type: "embed", jobId: job.id, texts: job.texts };
      slot.worker.postMessage(req);
    }
  };

  const addWorker = (worker: Worker, label: string): void => {
    const slot: Slot = { worker, job: undefined, label };
    slots.push(slot);
    worker.unref();
    worker.on("message", (msg: UseLiteReply) => {
      const job = slot.job;
      if (!job || (msg.type !== "result" && msg.type !== "error") || msg.jobId !== job.id) return;
      slot.job = undefined;
      worker.unref();
      if (msg.type === "result") finishJob(job, msg.vectors);
      else {
        const which =
          msg.textIndex !== undefined
            ? `text ${job.start + msg.textIndex}`
            : `texts ${range(job)}`;
        failCall(job.call, new SaerchError(`USE-lite ${slot.label} failed on ${which}: ${msg.message}`));
      }
      pump();
    });
    // A dead worker (uncaught error, out of memory, terminate): fail its batch, replace it.
    let gone = false;
    const onGone = (why: string): void => {
      if (gone) return;
      gone = true;
      slots.splice(slots.indexOf(slot), 1);
      const job = slot.job;
      slot.job = undefined;
      if (job) {
        failCall(
          job.call,
          closed
            ? new SaerchError("USE-lite embedder was closed during embed")
            : new SaerchError(`USE-lite ${slot.label} died (${why}) on texts ${range(job)}`),
        );
      }
      if (!closed) replaceWorker();
    };
    worker.on("error", (err) => onGone(err.message));
    worker.on("exit", (code) => onGone(`exit code ${code}`));
  };

  const replaceWorker = (): void => {
    const label = `worker ${nextWorker++}`;
    starting++;
    startWorker(url, data, label).then(
      (worker) => {
        starting--;
        if (closed) {
          void worker.terminate();
          return;
        }
        addWorker(worker, label);
        pump();
      },
      (err: Error) => {
        starting--;
        lastStartError = err;
        if (slots.length === 0 && starting === 0) {
          for (const job of queue.splice(0)) failCall(job.call, err);
        }
      },
    );
  };

  // Each worker joins the pool the moment it is ready, so its death is always noticed.
  const started = await Promise.allSettled(
    Array.from({ length: o.workers }, () => {
      const label = `worker ${nextWorker++}`;
      return startWorker(url, data, label).then((worker) => addWorker(worker, label));
    }),
  );
  const failure = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure) {
    closed = true;
    await Promise.all(slots.map((s) => s.worker.terminate()));
    throw failure.reason;
  }

  return {
    id: `use-lite:${USE_LITE_DIM}`,
    provider: "use-lite",
    model: "universal-sentence-encoder-lite",
    dim: USE_LITE_DIM,
    normalized: true,
    maxBatch: o.batchSize * o.workers * BATCHES_PER_WORKER_PER_CALL,
    workers: o.workers,
    batchSize: o.batchSize,
    backend: o.backend,

    embed(texts: string[], onProgress?: EmbedProgress): Promise<Float32Array> {
      if (closed) return Promise.reject(new SaerchError("USE-lite embedder is closed", "create a new one"));
      if (!Array.isArray(texts)) {
        return Promise.reject(new SaerchError("USE-lite embed: texts must be an array of strings"));
      }
      const bad = texts.findIndex((t) => typeof t !== "string");
      if (bad >= 0) {
        return Promise.reject(new SaerchError(`USE-lite embed: text ${bad} is ${typeof texts[bad]}, not a string`));
      }
      if (texts.length === 0) return Promise.resolve(new Float32Array(0));
      if (slots.length === 0 && starting === 0) {
        const noWorker = new SaerchError("USE-lite embedder has no live worker", "create a new one");
        return Promise.reject(lastStartError ?? noWorker);
      }
      return new Promise<Float32Array>((resolve, reject) => {
        const call: Call = {
          outBD: new Float32Array(texts.length * USE_LITE_DIM),
          pending: 0,
          done: 0,
          failed: false,
          onProgress,
          resolve,
          reject,
        };
        for (let start = 0; start < texts.length; start += o.batchSize) {
          queue.push({ id: nextJobId++, texts: texts.slice(start, start + o.batchSize), start, call });
          call.pending++;
        }
        pump();
      });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const closing = new SaerchError("USE-lite embedder was closed during embed");
      for (const job of queue.splice(0)) failCall(job.call, closing);
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
