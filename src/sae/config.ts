/**
 * The top-k SAE's config (METHOD.md §2, after Gao et al. 2024): sizes, the AuxK term, the optimiser and the
 * training schedule. Defaults are the paper's recipe; invalid combinations are rejected with a clear message.
 */
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import type { Profile } from "../compute/profile.js";

/**
 * Compute engines: onnx (fast, sparse-aware, default), tfjs (autograd reference; GPU via tfjs-node-gpu) or
 * webgpu (the whole step on a WebGPU device through Dawn: a GPU's Vulkan driver, or Mesa's software one);
 * auto: webgpu on a hardware adapter, onnx otherwise (src/sae/engines.ts).
 */
export const SAE_ENGINES = ["onnx", "tfjs", "webgpu", "auto"] as const;
/** A compute engine name. */
export type SaeEngine = (typeof SAE_ENGINES)[number];

/** Top-k SAE config. */
export const SaeConfig = z
  .strictObject({
    d: z.number().int().min(1).describe("input (embedding) dimension D; 1536 for text-embedding-3-small, 512 for USE-lite"),
    n: z.number().int().min(2).describe("dictionary size F (latents); the paper uses 2–8·D"),
    k: z.number().int().min(1).describe("active latents per input (top-k on pre-activations); the paper uses 16–128"),
    kAux: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("dead latents used by the AuxK term per input; default 2k as in Gao et al. (the astro SAE16/32 used 1.5k); 0 disables AuxK"),
    auxCoef: z.number().min(0).default(1 / 32).describe("weight of AuxK in the loss: 1/32 as in the paper"),
    deadWindow: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        "a latent is dead after this many training examples without being in any input's top-k; default one epoch " +
          "(the paper's code: 266 steps ≈ one epoch of 272k examples at B = 1024)",
      ),
    lr: z.number().positive().default(1e-4).describe("Adam learning rate: 1e-4, constant, as in the paper"),
    beta1: z.number().min(0).max(1).default(0.9).describe("Adam β1 (PyTorch default)"),
    beta2: z.number().min(0).max(1).default(0.999).describe("Adam β2 (PyTorch default)"),
    eps: z.number().positive().default(1e-8).describe("Adam ε (PyTorch default)"),
    batch: z.number().int().min(1).default(1024).describe("batch size B: 1024 as in the paper"),
    steps: z.number().int().min(1).optional().describe("optimisation steps; give steps or epochs"),
    epochs: z.number().positive().optional().describe("passes over the training rows (the astro SAEs: 50 epochs); give steps or epochs"),
    gradClip: z.number().positive().default(1).describe("global gradient-norm clip: 1.0 as in the paper"),
    initSampleRows: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe("rows whose coordinate-wise median initialises the pre-bias (the paper: ~10k embeddings)"),
    seed: z.number().int().default(0).describe("seeds initialisation and batch order"),
    engine: z.enum(SAE_ENGINES).default("onnx").describe(
        "onnx: sparse-aware step on onnxruntime (default); tfjs: autograd reference; webgpu: whole step on a WebGPU device; " +
          "auto: webgpu on a hardware GPU adapter, else onnx",
      ),
    threads: z.number().int().min(0).default(0).describe("CPU threads for the engine; 0 = one per core"),
    checkpointEvery: z.number().int().min(1).default(500).describe("steps between atomic checkpoints: what a crash can lose"),
    logEvery: z.number().int().min(1).default(50).describe("steps between metric lines (metrics.jsonl and the progress report)"),
  })
  .superRefine((c, ctx) => {
    const issue = (message: string, path: string): void => {
      ctx.addIssue({ code: "custom", message, path: [path] });
    };
    if (c.k >= c.n) issue(`k (${c.k}) must be smaller than n (${c.n})`, "k");
    if (c.kAux !== undefined && c.kAux > c.n) issue(`kAux (${c.kAux}) must not exceed n (${c.n})`, "kAux");
    if (c.steps === undefined && c.epochs === undefined) issue("give steps or epochs", "steps");
    if (c.steps !== undefined && c.epochs !== undefined) issue("give steps or epochs, not both", "steps");
  });
/** Parsed SAE config (kAux and deadWindow may still be undefined: see resolveSaeConfig). */
export type SaeConfig = z.infer<typeof SaeConfig>;
/** SAE config as a caller writes it. */
export type SaeConfigInput = z.input<typeof SaeConfig>;

/** A config with every derived default filled in for a given training set. */
export interface ResolvedSaeConfig extends SaeConfig {
  kAux: number;
  deadWindow: number;
  steps: number;
}

/**
 * Validate a config and fill the defaults that depend on the data: kAux = min(2k, n), deadWindow = one
 * epoch of `trainRows`, steps = ceil(epochs · trainRows / batch).
 * @throws SaerchError listing every invalid field
 */
export function resolveSaeConfig(input: SaeConfigInput, trainRows: number): ResolvedSaeConfig {
  const parsed = SaeConfig.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join(".") || "config"}: ${i.message}`);
    throw new SaerchError(`invalid SAE config:\n${lines.join("\n")}`);
  }
  const c = parsed.data;
  const steps = c.steps ?? Math.max(1, Math.ceil(((c.epochs ?? 1) * trainRows) / c.batch));
  return { ...c, kAux: c.kAux ?? Math.min(2 * c.k, c.n), deadWindow: c.deadWindow ?? Math.max(trainRows, c.batch), steps };
}

/**
 * Per-domain training presets. tiny: n = 2·d, k = 16, 150 steps of B = 256 on two kernel threads (CI, seconds);
 * default: n = 8·d, k = 32, 3000 steps of B = 1024 (≈ 200–270 epochs of a 11–14k-row domain: at the
 * paper's constant lr 1e-4 the NMSE is still falling steeply after 40 epochs on a corpus this small);
 * paper: the paper's 50 epochs (on its ≈ 270k-row corpus that is 13,300 steps), on engine "auto" (a GPU when
 * a hardware WebGPU adapter is there).
 */
export function saePreset(profile: Profile, d: number): Omit<SaeConfigInput, "d"> {
  switch (profile) {
    case "tiny":
      // Two threads, as the default profile on a 2-core machine, named so that a CI machine with more cores gives
      // the same bits (the kernel pool's two-thread path is stress-tested: environment.md, `npm run stress:sae`).
      return { n: 2 * d, k: 16, steps: 150, batch: 256, checkpointEvery: 50, logEvery: 10, threads: 2 };
    case "default":
      return { n: 8 * d, k: 32, steps: 3000 };
    case "paper":
      // The paper trained on a GPU: take one when a hardware WebGPU adapter is there.
      return { n: 8 * d, k: 32, epochs: 50, engine: "auto" };
  }
}
