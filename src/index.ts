/**
 * saerch-ts — the public API (compiled to dist/index.js; notebooks import it as `s`).
 * Sparse autoencoders on dense text embeddings, after O'Neill, Ye, Iyer & Wu (2024),
 * "Disentangling Dense Embeddings with Sparse Autoencoders".
 *
 * A deliberate list, grouped by stage: each stage's entry point (`run…Stage`), its zod config and size
 * presets, its result types, the building blocks a researcher calls on their own (embedders, the SAE
 * model, search and interventions, fits, family statistics) and one function per figure. Internals — file
 * formats and names, prompt parsers, worker pools, the notebook runner, the ONNX/WASM builders and the
 * local OpenAI-compatible test server — are imported from their modules by the code and tests that need
 * them and are not part of this API (README, "Library API").
 */

// core: errors, math, progress
export { describeError, FormatError, SaerchError } from "./core/errors.js";
export { type Matrix, matmul, matmulTransB, shapeOf, transpose, zeros } from "./core/matrix.js";
export { type Pca, type PcaOptions, pcaFit, pcaProject } from "./core/pca.js";
export { type Progress, progress } from "./core/progress.js";
export { Rng } from "./core/rng.js";
export { type Histogram, histogram, mean, median, pearson, quantile, variance } from "./core/stats.js";
export { rowTopK, type TopK } from "./core/topk.js";
export { cosine, cosineMatrix, dot, maxCosinePerRow, norm, normalizeRowsInPlace, rowNorms } from "./core/vector.js";

// io: paths, artefacts, file formats
export { benchDir, dataDir, displayPath, figuresDir, repoPath, sharedDir, sharedPath } from "./io/paths.js";
export { type ArtefactRun, artefactRun, runIdFor } from "./io/artefact.js";
export { readNpy, readNpyRows, writeNpy } from "./io/npy.js";
export { readSafetensors, writeSafetensors } from "./io/safetensors.js";
export { readJsonl, writeJsonl } from "./io/jsonl.js";
export { RunInUseError } from "./io/run-lock.js";

// compute and tools: profiles, engine probes, environment report, notebook tables
export { type Profile, PROFILES, resolveProfile } from "./compute/profile.js";
export { type EngineProbe, listGpus, onnxExecutionProviders, probeEngines } from "./compute/engines.js";
export { pathReport, versionReport } from "./tools/environment.js";
export { comparisonTable, type ComparisonRow, htmlTable } from "./tools/display.js";

// stage 1: corpus
export { CorpusConfig, parseCorpusConfig } from "./corpus/config.js";
export { type Doc, docText } from "./corpus/document.js";
export { loadDocs, streamDocs } from "./corpus/load.js";
export { filterDocs, sampleDocs, selectCorpus, stratifiedSample } from "./corpus/select.js";
export { type CorpusStats, corpusStats } from "./corpus/stats.js";
export { harvestArxiv } from "./corpus/arxiv.js";

// stage 1: embeddings
export { type Embedder } from "./embed/embedder.js";
export { createUseLiteEmbedder } from "./embed/use-lite.js";
export { createOpenAIEmbedder } from "./embed/openai.js";
export { createTransformersEmbedder } from "./embed/transformers.js";
export { createStoreEmbedder } from "./embed/store-embedder.js";
export { adoptNpy } from "./embed/adopt-npy.js";
export { embedPreset, EmbedStageConfig } from "./embed/config.js";
export { createEmbedder, type EmbedStageResult, runEmbedStage } from "./embed/stage.js";
export { EmbeddingStore, type StoreOpenOptions, type StoreStats, storeStats } from "./embed/store-reader.js";
export { type DomainCosineOptions, domainCosines, npyRowsById, reproductionCheck, storeDomainCosines } from "./embed/checks.js";
export { embedPaperRows } from "./embed/compare.js";
export { countTokens, truncateToTokens } from "./tokenizer/tokens.js";

// stage 2: SAE training and encoding
export { resolveSaeConfig, SaeConfig, saePreset } from "./sae/config.js";
export { type AdamState, initSaeParams, type SaeParams } from "./sae/params.js";
export { decodeSparse, encodeTopK, nmse, reconstruct } from "./sae/model.js";
export { trainSae, type TrainSaeResult } from "./sae/trainer.js";
export { loadSaeWeights, saveSaeWeights } from "./sae/checkpoint.js";
export { encodeStore, featureStats, loadCodes, type SparseCodes } from "./sae/encode.js";
export { runSaeStage, type SaeDomainResult } from "./sae/stage.js";
export { saePaperRows } from "./sae/compare.js";
export { type WebGpuAdapterReport, checkAdapterFits, openWebGpuDevice, requestWebGpuAdapter } from "./sae/webgpu/adapter.js";
export { createWebGpuEncoder } from "./sae/webgpu/encode.js";
export { runGpuChecks } from "./sae/webgpu/gpu-check.js";

// stage 3: scaling laws and feature splitting
export { runSweep, sweepPreset } from "./scaling/sweep.js";
export { fitComputeLaw, fitJoint, fitPowerLaw } from "./scaling/fit.js";
export { fitSweep, paperAlphas, splittingPairs, standardSplittingPairs } from "./scaling/analysis.js";
export { matchFeatures, splittingSummary } from "./scaling/splitting.js";
export { scalingPaperRows } from "./scaling/compare.js";

// stage 4: interpretation
export { InterpretConfig, interpretPreset } from "./interpret/config.js";
export {
  estimateInterpretCost,
  type InterpretResult,
  type InterpretTarget,
  resolveScorerKind,
  runInterpretStage,
  sweepLadderTargets,
  targetFromSae,
} from "./interpret/stage.js";
export { readLabels } from "./interpret/labeller.js";
export { chanceCleanFraction, selectCleanFeatures } from "./interpret/clean.js";
export { buildInterpreterMessages, buildPredictorMessages } from "./interpret/prompts.js";
export { type LabelRecord } from "./interpret/types.js";
export { exampleFeatureRows, interpretPaperRows, labelTermCoverage, paperComparisonRows, titleOf } from "./interpret/report.js";
export { runTuneBaseline } from "./interpret/tune-baseline-stage.js";

// stage 5: feature families
export { FamiliesConfig, familiesPreset } from "./families/config.js";
export { type FamiliesResult, type FamiliesStability, familiesStability, runFamiliesStage } from "./families/stage.js";
export { buildFamilies, type Family, familyFeatures } from "./families/build.js";
export { cooccurrence } from "./families/cooccurrence.js";
export { familyStats } from "./families/stats.js";
export { readFamiliesJson } from "./families/families-json.js";
export { gexfString, graphmlString } from "./families/graph-export.js";
export { compareFamilies, readAuthorsFamilies } from "./families/authors-families.js";
export { familyExampleRows, familyName, familyPaperRows, familyStabilityRows, familyStatsRows, familyToDraw } from "./families/report.js";

// stage 6: steering semantic search
export { type JudgeKind, SteerConfig, steerPreset } from "./steer/config.js";
export { runSteerStage, type SteerStageResult } from "./steer/stage.js";
export { ExactIndex, type SearchHit } from "./steer/exact-index.js";
export { exactIndexRanker, searchTargetOf } from "./steer/ranker.js";
export { steeredSearch, type SteerRequest, type SteerResult } from "./steer/search.js";
export { activeFeatures, addDirection, addDirections, clampQuery, cosineOf, encodeQuery, familyEdits } from "./steer/interventions.js";
export { activationJudge, textJudge } from "./steer/judges.js";
export {
  artefactRows,
  downSteeringRows,
  exampleRows,
  familySteeringRows,
  paperSteeringRows,
  pointsOf,
  steeringRows,
} from "./steer/report.js";

// figures: one function per figure, saving and rendering
export { saveFigure, writeFiguresIndex } from "./plot/save.js";
export { closeRenderer, renderFigure } from "./plot/render.js";
export { type FigureSpec } from "./plot/spec.js";
export { engineCheckFigure, histogramFigure } from "./plot/figures.js";
export { categoryCountsFigure, embeddingMapFigure, overlaidHistogramsFigure } from "./plot/embed-figures.js";
export { logDensityFigure, trainingCurvesFigure } from "./plot/sae-figures.js";
export { deadFractionFigure, maxCosineHistogramFigure, nmseVsFlopsFigure, nmseVsSizeFigure } from "./plot/scaling-figures.js";
export { scoreHistogramsFigure } from "./plot/interpret-figures.js";
export { childrenHistogramFigure, conditionalVsRandomFigure, cooccurrenceBlocksFigure } from "./plot/families-figures.js";
export { familyGraphFigure } from "./plot/family-graph-figure.js";
export { familySteeringFigure, steeringFigure } from "./plot/steer-figures.js";

/** Package version. */
export const VERSION = "0.1.0";
