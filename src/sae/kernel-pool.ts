/**
 * The worker threads the onnx engine's CPU kernels run on (METHOD.md §2, THE STEP SPEC steps 4–12; the passes
 * are in `cpu-step.ts`): every worker instantiates the kernels' module over the same shared WebAssembly memory,
 * and a pass runs one kernel on every thread at once, each on its own row range.
 *
 * The handoff, per worker thread t ≥ 1, through its control slot in one SharedArrayBuffer
 * (`[state i32 | pad | result f64 | argc f64 | args f64 × MAX_ARGS]`):
 *
 *   caller: (slot idle) write argc, args  →  Atomics.store(state, cmd)  →  Atomics.notify
 *   worker: Atomics.load(state) = cmd     →  read args, run the kernel, write result  →  Atomics.store(state, IDLE)  →  notify
 *   caller: Atomics.load(state) = IDLE    →  read result and the kernel's output rows
 *
 * The seq-cst store that publishes a state is the last write of its side, and the seq-cst load that observes it
 * comes before the other side's reads, so every plain write (arguments, the kernel's rows) happens-before the
 * reads that need it. Only the caller moves a slot out of IDLE and only the worker moves it back, so a slot is
 * never rewritten before the other side consumed it. Both sides loop on Atomics.load around Atomics.wait, so a
 * "not-equal" return or any wake-up without a state change only re-checks. That matters: the caller's store and
 * its notify are two steps, and a caller preempted between them can notify a worker that saw the store, ran the
 * command and is back in IDLE; a worker that took that wake-up for a command ran "command 0" and failed (the one
 * two-thread failure seen, environment.md; `lateNotifyMs` replays it). A worker that fails (a kernel threw,
 * or it could not start) leaves FAILED with its error text; a worker that fails or does not answer within the
 * timeout breaks the pool: it may still be writing, so every later pass is refused instead of handed out. When
 * the calling thread's share of the pass threw as well, the error says so (the same fault on every thread points
 * at the kernel or its data, not at the handoff).
 * Growing the shared memory is safe between passes (the workers' instances see the new size); views made
 * before a grow must be replaced by the caller (`CpuKernels.ensureBatch`).
 */
import { Worker } from "node:worker_threads";
import { SaerchError, describeError } from "../core/errors.js";
import type { WasmMemory } from "../compute/wasm-assembler.js";

/** Most arguments a kernel takes. */
export const MAX_ARGS = 32;
/** Bytes of one thread's control block (state, result, argc, args), padded. */
const SLOT_BYTES = 512;
/** A thread's state: idle, or the 1-based kernel index it is running, or one of these. */
const STATE_IDLE = 0;
const STATE_EXIT = -1;
const STATE_FAILED = -2;
/** Bytes per worker for its last error message. */
const ERROR_BYTES = 1024;
/** How long the calling thread waits for a worker before declaring it stuck (and the pool broken). */
export const WORKER_TIMEOUT_MS = 120_000;

/** The worker's loop (plain JS, evaluated in each worker thread). */
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, control, errors, slot, names, delayMs, jitterMs } = workerData;
const state = new Int32Array(control, slot * ${SLOT_BYTES}, 1);
const f64 = new Float64Array(control, slot * ${SLOT_BYTES} + 8, ${MAX_ARGS + 2});
const errorBytes = new Uint8Array(errors, slot * ${ERROR_BYTES}, ${ERROR_BYTES});
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const fail = (err) => {
  const text = new TextEncoder().encode(String(err && err.stack ? err.stack : err)).subarray(0, ${ERROR_BYTES - 1});
  errorBytes.fill(0);
  errorBytes.set(text);
};
let kernels;
try {
  kernels = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
} catch (err) {
  fail("could not start: " + (err && err.stack ? err.stack : err));
  Atomics.store(state, 0, ${STATE_FAILED});
  Atomics.notify(state, 0);
}
while (kernels) {
  const cmd = Atomics.load(state, 0);
  if (cmd === ${STATE_EXIT}) break;
  // Only a positive value is a command; idle and failed wait for the calling thread to change the state.
  if (cmd <= 0) {
    Atomics.wait(state, 0, cmd);
    continue;
  }
  let next = ${STATE_IDLE};
  try {
    const pause = delayMs + (jitterMs > 0 ? Math.random() * jitterMs : 0);
    if (pause > 0) Atomics.wait(sleeper, 0, 0, pause);
    const args = Array.from(f64.subarray(2, 2 + f64[1]));
    const r = kernels[names[cmd - 1]](...args);
    f64[0] = typeof r === "number" ? r : 0;
  } catch (err) {
    next = ${STATE_FAILED};
    fail(err);
  }
  Atomics.store(state, 0, next);
  Atomics.notify(state, 0);
}
`;

/** Fault injection for the protocol tests and the stress harness (`stress.ts`): widen the race windows. */
export interface KernelPoolTiming {
  /** Per worker thread t ≥ 1 (index t − 1): milliseconds it sleeps before each kernel. */
  delayMs?: readonly number[];
  /** Up to this many more milliseconds, drawn afresh before each kernel on every worker. */
  jitterMs?: number;
  /** How long the calling thread waits for a worker (default WORKER_TIMEOUT_MS). */
  timeoutMs?: number;
  /**
   * After each pass, the calling thread sleeps this many milliseconds and then notifies every (idle) worker again:
   * the notify of a caller preempted between its store and its notify, arriving after the worker already ran the
   * command and went back to waiting. A worker loop that took any wake-up for a command ran "command 0" then.
   */
  lateNotifyMs?: number;
}

/** Runs a kernel on the calling thread and the workers at once, each on its own argument list. */
export class KernelPool<Name extends string> {
  private readonly workers: Worker[] = [];
  private readonly control: SharedArrayBuffer;
  /** Per worker, the UTF-8 text of its last error (NUL-padded). */
  private readonly errors: SharedArrayBuffer;
  private readonly timeoutMs: number;
  private readonly lateNotifyMs: number;
  /** Why the pool refuses work (a worker failed or timed out, or the pool was closed). */
  private broken: string | undefined;

  /**
   * @param kernels the calling thread's instance of `module` (its exports)
   * @param module the compiled kernels' module; every worker instantiates it over `memory`
   * @param memory shared when threads > 1
   * @param names the kernels' export names; a command is its 1-based index here
   * @param threads the calling thread plus threads − 1 workers
   */
  constructor(
    private readonly kernels: Record<Name, (...args: number[]) => number | undefined>,
    module: object,
    memory: WasmMemory,
    private readonly names: readonly Name[],
    readonly threads: number,
    timing: KernelPoolTiming = {},
  ) {
    this.timeoutMs = timing.timeoutMs ?? WORKER_TIMEOUT_MS;
    this.lateNotifyMs = timing.lateNotifyMs ?? 0;
    this.control = new SharedArrayBuffer(SLOT_BYTES * threads);
    this.errors = new SharedArrayBuffer(ERROR_BYTES * threads);
    for (let slot = 1; slot < threads; slot++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          module,
          memory,
          control: this.control,
          errors: this.errors,
          slot,
          names,
          delayMs: timing.delayMs?.[slot - 1] ?? 0,
          jitterMs: timing.jitterMs ?? 0,
        },
      });
      // Seen between passes only (the calling thread blocks during one); the next pass then refuses to start.
      worker.on("error", (err) => (this.broken ??= `worker thread ${slot} stopped: ${err instanceof Error ? err.message : String(err)}`));
      worker.on("exit", (code) => (this.broken ??= `worker thread ${slot} exited (code ${code})`));
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** Run `name` with argsPerThread[t] on thread t (0 = this one, at most `threads`); returns each thread's result. */
  run(name: Name, argsPerThread: number[][]): number[] {
    if (this.broken) throw new SaerchError(`onnx SAE step: the kernel pool cannot run ${name}: ${this.broken}`, "start a new engine (rerun resumes from the last checkpoint)");
    const cmd = this.names.indexOf(name) + 1;
    const used = argsPerThread.length;
    if (cmd < 1 || used < 1 || used > this.threads || argsPerThread.some((a) => a.length > MAX_ARGS)) {
      throw new SaerchError(`onnx SAE step: bad kernel pass ${name} on ${used} of ${this.threads} threads (at most ${MAX_ARGS} arguments each)`);
    }
    for (let t = 1; t < used; t++) {
      const f64 = new Float64Array(this.control, t * SLOT_BYTES + 8, MAX_ARGS + 2);
      const args = argsPerThread[t]!;
      f64[1] = args.length;
      f64.set(args, 2);
      const state = new Int32Array(this.control, t * SLOT_BYTES, 1);
      Atomics.store(state, 0, cmd);
      Atomics.notify(state, 0);
    }
    let mine = 0;
    let error: unknown;
    try {
      mine = this.kernels[name](...argsPerThread[0]!) ?? 0;
    } catch (err) {
      error = err;
    }
    // Always collect the workers, so that none is still running when the next pass hands out work.
    let results: number[];
    try {
      results = this.collect(name, used);
    } catch (workerError) {
      // Say when this thread failed too: a failure on every thread is the kernel or its data, not the handoff.
      if (error === undefined || !(workerError instanceof SaerchError) || this.broken === undefined) throw workerError;
      throw new SaerchError(`onnx SAE step: ${this.broken}; on the calling thread too: ${describeError(error)}`, workerError.fix);
    }
    if (error !== undefined) throw error;
    if (this.lateNotifyMs > 0) this.notifyLate(used);
    return [mine, ...results];
  }

  /** Wait for threads 1..used−1 to finish `name`; their results. */
  private collect(name: Name, used: number): number[] {
    const results: number[] = [];
    const failed: string[] = [];
    for (let t = 1; t < used; t++) {
      const state = new Int32Array(this.control, t * SLOT_BYTES, 1);
      const deadline = performance.now() + this.timeoutMs;
      for (;;) {
        const now = Atomics.load(state, 0);
        if (now === STATE_IDLE) break;
        if (now === STATE_FAILED) {
          const bytes = new Uint8Array(this.errors, t * ERROR_BYTES, ERROR_BYTES);
          const end = bytes.indexOf(0);
          const why = new TextDecoder().decode(bytes.slice(0, end < 0 ? ERROR_BYTES : end));
          failed.push(`the ${name} kernel failed in worker thread ${t}: ${why}`);
          break;
        }
        const left = deadline - performance.now();
        if (left <= 0) {
          this.broken = `worker thread ${t} did not finish ${name} within ${this.timeoutMs / 1000} s`;
          throw new SaerchError(`onnx SAE step: ${this.broken}`, "check the machine's load; the engine must be recreated");
        }
        Atomics.wait(state, 0, now, left);
      }
      results.push(new Float64Array(this.control, t * SLOT_BYTES + 8, 1)[0]!);
    }
    if (failed.length > 0) {
      // A failed worker's rows (and a worker that could not start, every later pass) are unknown: no more passes.
      this.broken = failed.join("; ");
      throw new SaerchError(`onnx SAE step: ${this.broken}`);
    }
    return results;
  }

  /** Fault injection (`KernelPoolTiming.lateNotifyMs`): wake threads 1..used−1, now idle, after a pause. */
  private notifyLate(used: number): void {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, this.lateNotifyMs);
    for (let t = 1; t < used; t++) Atomics.notify(new Int32Array(this.control, t * SLOT_BYTES, 1), 0);
  }

  /** Stop the workers; the pool refuses work afterwards. */
  async close(): Promise<void> {
    this.broken ??= "the pool was closed";
    for (let t = 1; t < this.threads; t++) {
      const state = new Int32Array(this.control, t * SLOT_BYTES, 1);
      Atomics.store(state, 0, STATE_EXIT);
      Atomics.notify(state, 0);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
