/**
 * The one interface every embedding provider implements (OpenAI, USE-lite, transformers ONNX models,
 * adopted precomputed vectors). The embedding store (store.ts) drives any of them the same way.
 */

/** Progress callback: texts embedded so far in this call. */
export type EmbedProgress = (done: number) => void;

/** A text → vector model. */
export interface Embedder {
  /**
   * Stable identity of the model *and* every setting that changes its vectors, e.g.
   * "openai:text-embedding-3-small:1536" or "use-lite:512". Cached vectors are reused only under the same id.
   */
  readonly id: string;
  /** Provider family: "openai" | "use-lite" | "transformers" | "npy". */
  readonly provider: string;
  /** Model name as the provider knows it. */
  readonly model: string;
  /** Output dimension D. */
  readonly dim: number;
  /** True when every output row has unit L2 norm. */
  readonly normalized: boolean;
  /** Largest number of texts one `embed` call should get (the store batches by it). */
  readonly maxBatch: number;
  /**
   * Embed a batch of texts.
   * @param texts B texts
   * @returns `[B, D]` row-major float32 vectors; rejects (never returns zeros) when any text fails
   */
  embed(texts: string[], onProgress?: EmbedProgress): Promise<Float32Array>;
  /** Release workers, sessions or sockets. */
  close(): Promise<void>;
}
