// What a MatFormer slice costs, from tensor shapes alone (no weights read): the parameters it
// multiplies, the memory its weights take as this runtime holds them, its KV cache, and the bytes a
// decode step reads. Works on a checkpoint's headers or on a synthetic list of shapes.
import { canHold, DTYPE_BYTES, numel, type DType } from "../../kernels/dtype.js";
import { kvSourceLayers, type TextConfig } from "../config.js";
import { kvCacheBytesAt } from "../info.js";
import type { SlicePlan } from "./plan.js";

export interface TensorShape {
  name: string;
  shape: readonly number[];
  dtype: DType;
}

export interface SliceCost {
  layers: number;
  /** Text parameters minus both embedding tables (Google's "effective parameters"). */
  effectiveParams: number;
  /** Text weights in memory to run the slice (the per-layer-embedding table stays on disk). */
  weightsBytes: number;
  /** float32 KV cache at `context` tokens. */
  kvCacheBytes: number;
  /** Weight bytes one decode step reads: the multiplied weights and the tied output projection. */
  decodeBytes: number;
}

const TEXT = "model.language_model.";
const LAYER = /^model\.language_model\.layers\.(\d+)\.(.+)$/;
const KV_ONLY = new Set(["self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.k_norm.weight"]);

/**
 * `stored`: the checkpoint's text config; `dtype`: the weight dtype in memory (default as stored);
 * `context`: tokens the KV cache is sized for (default the config's maximum).
 */
export function sliceCost(tensors: readonly TensorShape[], stored: TextConfig, plan: SlicePlan, dtype?: DType, context = stored.maxPositionEmbeddings): SliceCost {
  const width = new Map(plan.layers.map((i, l) => [i, plan.text.intermediateSize[l]!]));
  const ownsKv = kvSourceLayers(stored).map((src, i) => src === i);
  const D = stored.hiddenSize;
  const P = stored.hiddenSizePerLayerInput;
  let effectiveParams = 0;
  let effectiveBytes = 0;
  let weightsBytes = 0;
  let embeddingBytes = 0;
  const bytes = (t: TensorShape, n: number, shape: readonly number[]) => n * DTYPE_BYTES[dtype && canHold(dtype, shape) ? dtype : t.dtype];
  for (const t of tensors) {
    const n = numel(t.shape);
    if (t.name === TEXT + "embed_tokens_per_layer.weight") continue;
    if (t.name === TEXT + "embed_tokens.weight" || t.name.startsWith("model.embed_vision.") || t.name.startsWith("model.embed_audio.")) {
      const b = bytes(t, n, t.shape);
      weightsBytes += b;
      if (t.name === TEXT + "embed_tokens.weight") embeddingBytes = b;
      continue;
    }
    if (!t.name.startsWith(TEXT)) continue;
    if (t.name === TEXT + "per_layer_model_projection.weight") {
      const rows = plan.layers.length * P; // the slice's own rows; the view keeps them all
      effectiveParams += rows * D;
      effectiveBytes += bytes(t, rows * D, [rows, D]);
      weightsBytes += bytes(t, n, t.shape);
      continue;
    }
    const m = LAYER.exec(t.name);
    if (!m) {
      effectiveParams += n;
      effectiveBytes += bytes(t, n, t.shape);
      weightsBytes += bytes(t, n, t.shape);
      continue;
    }
    const i = Number(m[1]);
    const w = width.get(i);
    if (w === undefined) continue;
    const isFfn = m[2]!.startsWith("mlp.") && t.shape.length === 2;
    const shape = !isFfn ? t.shape : m[2] === "mlp.down_proj.weight" ? [D, w] : [w, D];
    const kept = numel(shape);
    effectiveParams += kept;
    if (ownsKv[i] || !KV_ONLY.has(m[2]!)) {
      effectiveBytes += bytes(t, kept, shape);
      weightsBytes += bytes(t, kept, shape);
    }
  }
  return {
    layers: plan.layers.length,
    effectiveParams,
    weightsBytes,
    kvCacheBytes: kvCacheBytesAt(plan.text, context),
    decodeBytes: effectiveBytes + embeddingBytes, // the tied output projection reads the whole table
  };
}
