/**
 * saerch-ts — the public API that notebooks and scripts import (compiled to dist/index.js).
 * Sparse autoencoders on dense text embeddings, after O'Neill, Ye, Iyer & Wu (2024),
 * "Disentangling Dense Embeddings with Sparse Autoencoders".
 */
export * from "./core/errors.js";
export * from "./core/pca.js";
export * from "./core/progress.js";
export * from "./core/matrix.js";
export * from "./core/rng.js";
export * from "./core/stats.js";
export * from "./core/topk.js";
export * from "./core/vector.js";
export * from "./corpus/arxiv.js";
export * from "./corpus/config.js";
export * from "./corpus/document.js";
export * from "./corpus/load.js";
export * from "./corpus/select.js";
export * from "./corpus/stats.js";
export * from "./embed/adopt-npy.js";
export * from "./embed/checks.js";
export * from "./embed/config.js";
export * from "./embed/embedder.js";
export * from "./embed/embedder-id.js";
export * from "./embed/manifest.js";
export * from "./embed/openai.js";
export * from "./embed/retry.js";
export * from "./embed/stage.js";
export * from "./embed/store.js";
export * from "./embed/store-reader.js";
export * from "./embed/store-embedder.js";
export * from "./embed/transformers.js";
export * from "./embed/use-lite.js";
export * from "./families/authors-families.js";
export * from "./families/build.js";
export * from "./families/config.js";
export * from "./families/cooccurrence.js";
export * from "./families/examples.js";
export * from "./families/families-json.js";
export * from "./families/forest.js";
export * from "./families/graph-export.js";
export * from "./families/labeller.js";
export * from "./families/paper.js";
export * from "./families/prompts.js";
export * from "./families/report.js";
export * from "./families/scorer.js";
export * from "./families/stability.js";
export * from "./families/stage.js";
export * from "./families/stats.js";
export * from "./interpret/baseline.js";
export * from "./interpret/clean.js";
export * from "./interpret/config.js";
export {
  BudgetExceededError,
  BudgetedLlmClient,
  CostMeter,
  costUsd,
  estimateLabellingCost,
  estimatePromptTokens,
  estimateTokens as estimateChatTokens,
  worstCaseUsd,
  type Charge,
  type CostSummary,
  type RoleCost,
  type RoleEstimate,
} from "./interpret/cost.js";
export * from "./interpret/examples.js";
export * from "./interpret/labeller.js";
export * from "./interpret/llm-client.js";
export * from "./interpret/llm-scorer.js";
export * from "./interpret/paper.js";
export * from "./interpret/prompts.js";
export * from "./interpret/report.js";
export * from "./interpret/request-cache.js";
export * from "./interpret/scores.js";
export * from "./interpret/spend-ledger.js";
export * from "./interpret/stage.js";
export * from "./interpret/terms.js";
export * from "./interpret/types.js";
export * from "./io/artefact.js";
export * from "./io/atomic.js";
export * from "./io/jsonl.js";
export * from "./io/npy.js";
export * from "./io/paths.js";
export * from "./io/run-lock.js";
export * from "./io/safetensors.js";
export * from "./plot/embed-figures.js";
export * from "./plot/families-figures.js";
export * from "./plot/family-graph-figure.js";
export * from "./plot/interpret-figures.js";
export * from "./plot/sae-figures.js";
export * from "./plot/scaling-figures.js";
export * from "./plot/figures.js";
export * from "./plot/render.js";
export * from "./plot/save.js";
export * from "./plot/spec.js";
export * from "./plot/steer-figures.js";
export * from "./runtime/display.js";
export * from "./sae/checkpoint.js";
export * from "./sae/config.js";
export * from "./sae/encode.js";
export * from "./sae/engines.js";
export * from "./sae/model.js";
export * from "./sae/naive.js";
export * from "./sae/onnx-encode.js";
export * from "./sae/onnx-step.js";
export * from "./sae/params.js";
export * from "./sae/stage.js";
export * from "./sae/tfjs-step.js";
export * from "./sae/train-step.js";
export * from "./sae/trainer.js";
export * from "./sae/webgpu/adapter.js";
export { createWebGpuEncoder, type WebGpuEncoderOptions } from "./sae/webgpu/encode.js";
export { runGpuChecks, type GpuCheckOptions, type GpuCheckRecord } from "./sae/webgpu/gpu-check.js";
export { WebGpuTrainStep, type WebGpuStepOptions } from "./sae/webgpu/step.js";
export * from "./scaling/analysis.js";
export * from "./scaling/cosine-onnx.js";
export * from "./scaling/fit.js";
export * from "./scaling/paper.js";
export * from "./scaling/splitting.js";
export * from "./scaling/sweep.js";
export * from "./steer/config.js";
export * from "./steer/evaluate.js";
export * from "./steer/interventions.js";
export * from "./steer/judges.js";
export * from "./steer/paper.js";
export * from "./steer/prompts.js";
export * from "./steer/ranker.js";
export * from "./steer/exact-index.js";
export * from "./steer/report.js";
export * from "./steer/search.js";
export * from "./steer/stage.js";
export * from "./runtime/engines.js";
export * from "./runtime/environment.js";
export * from "./runtime/local-openai-server.js";
export * from "./runtime/notebooks.js";
export * from "./runtime/onnx-model.js";
export * from "./runtime/profile.js";

/** Package version. */
export const VERSION = "0.1.0";
