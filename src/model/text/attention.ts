// Self-attention with per-head RMS-normed queries and keys (so the score scale is 1, not 1/√d), a
// weightless RMSNorm on values, rotate-half RoPE, grouped KV heads, and KV sharing: the last layers
// reuse the cache of an earlier layer of the same type instead of computing K/V. Spec §2.4(c).
import type { Backend } from "../../kernels/backend.js";
import type { TextConfig } from "../config.js";
import type { LayerCache } from "./kv-cache.js";
import type { LayerWeights } from "./weights.js";

export function attention(
  b: Backend,
  x: Float32Array,
  positions: Int32Array,
  layer: number,
  w: LayerWeights,
  cache: LayerCache,
  c: TextConfig,
): Float32Array {
  const tokens = positions.length;
  const { headDim, numHeads, numKvHeads } = c;
  const type = c.layerTypes[layer]!;
  const theta = c.ropeTheta[type];
  const q = b.matmul(x, tokens, w.q);
  b.rmsNorm(q, headDim, w.qNorm, c.rmsNormEps, q);
  b.rope(q, numHeads, headDim, positions, theta);
  if (w.k && w.v) {
    const k = b.matmul(x, tokens, w.k);
    b.rmsNorm(k, headDim, w.kNorm!, c.rmsNormEps, k);
    b.rope(k, numKvHeads, headDim, positions, theta);
    const v = b.matmul(x, tokens, w.v);
    b.rmsNorm(v, headDim, null, c.rmsNormEps, v);
    cache.append(k, v, positions);
  }
  const window = type === "sliding" ? c.slidingWindow : 0;
  const o = b.attention(q, positions, cache, { numHeads, numKvHeads, headDim, scale: 1, window });
  return b.matmul(o, tokens, w.o);
}
