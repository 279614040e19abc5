// What a checkpoint holds and what running it costs, from the tensor headers alone (no weights read).
import type { Checkpoint } from "../checkpoint/checkpoint.js";
import { DTYPE_BYTES, numel, type DType } from "../kernels/dtype.js";
import { kvSourceLayers, type TextConfig } from "./config.js";

export interface ModelInfo {
  architecture: {
    layers: number;
    hiddenSize: number;
    ffnWidths: number[];
    heads: number;
    kvHeads: number;
    headDim: number;
    vocabSize: number;
    slidingWindow: number;
    kvSharedLayers: number;
    contextLength: number;
  };
  parameters: {
    /** Text parameters minus both embedding tables: what a decode step multiplies. */
    effective: number;
    embedding: number;
    perLayerEmbedding: number;
    vision: number;
    audio: number;
    total: number;
  };
  /** Tensor count per stored dtype. */
  dtypes: Record<string, number>;
  memory: {
    /** Text weights held in memory (everything but the PLE table, which stays on disk), in `dtype`. */
    weightsBytes: number;
    /** PLE table bytes read from disk, row by row. */
    perLayerEmbeddingDiskBytes: number;
    /** float32 KV cache at the full context length. */
    kvCacheBytes: number;
    dtype: DType | "as stored";
  };
}

const TEXT = "model.language_model.";

export function describeCheckpoint(ck: Checkpoint, dtype?: DType): ModelInfo {
  const c = ck.config.text;
  const params = { effective: 0, embedding: 0, perLayerEmbedding: 0, vision: 0, audio: 0, total: 0 };
  const dtypes: Record<string, number> = {};
  let weightsBytes = 0;
  let pleBytes = 0;
  for (const name of ck.names()) {
    const e = ck.entry(name);
    const n = numel(e.shape);
    params.total += n;
    dtypes[e.dtype] = (dtypes[e.dtype] ?? 0) + 1;
    if (name === TEXT + "embed_tokens_per_layer.weight") {
      params.perLayerEmbedding += n;
      pleBytes += e.byteLength;
      continue;
    }
    if (name.startsWith("model.vision_tower.") || name.startsWith("model.embed_vision.")) params.vision += n;
    else if (name.startsWith("model.audio_tower.") || name.startsWith("model.embed_audio.")) params.audio += n;
    else if (name === TEXT + "embed_tokens.weight") params.embedding += n;
    else params.effective += n;
    if (name.startsWith(TEXT)) weightsBytes += n * (dtype ? DTYPE_BYTES[dtype] : DTYPE_BYTES[e.dtype]);
  }
  const kvCacheBytes = kvCacheBytesAt(c, c.maxPositionEmbeddings);
  return {
    architecture: {
      layers: c.numLayers,
      hiddenSize: c.hiddenSize,
      ffnWidths: c.intermediateSize,
      heads: c.numHeads,
      kvHeads: c.numKvHeads,
      headDim: c.headDim,
      vocabSize: c.vocabSize,
      slidingWindow: c.slidingWindow,
      kvSharedLayers: c.numKvSharedLayers,
      contextLength: c.maxPositionEmbeddings,
    },
    parameters: params,
    dtypes,
    memory: { weightsBytes, perLayerEmbeddingDiskBytes: pleBytes, kvCacheBytes, dtype: dtype ?? "as stored" },
  };
}

/** float32 KV cache of a full sequence of `context` tokens (sliding layers hold at most a window). */
export function kvCacheBytesAt(c: TextConfig, context: number): number {
  const kvWidth = c.numKvHeads * c.headDim;
  return kvSourceLayers(c).reduce((sum, src, i) => {
    if (src !== i) return sum;
    const positions = c.layerTypes[i] === "sliding" ? Math.min(c.slidingWindow, context) : context;
    return sum + 2 * positions * kvWidth * 4;
  }, 0);
}
