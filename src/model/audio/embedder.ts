// `embed_audio`'s soft path (vision-audio spec §2.4): encoder outputs → language-model embeddings,
// e = RMSNorm_∅(W_proj · RMSNorm_soft(a)). Unlike the vision path there is no √hidden pre-scale.
import type { Backend } from "../../kernels/backend.js";
import type { Tensor } from "../../kernels/dtype.js";

export interface AudioEmbedderWeights {
  softNorm: Float32Array; // [C]
  projection: Tensor; // [D, C]
  eps: number;
}

/** [tokens, C] encoder outputs → [tokens, D] language-model embeddings. */
export function embedAudio(b: Backend, w: AudioEmbedderWeights, hidden: Float32Array, tokens: number): Float32Array {
  const C = w.softNorm.length;
  const projected = b.matmul(b.rmsNorm(hidden, C, w.softNorm, w.eps), tokens, w.projection);
  return b.rmsNorm(projected, w.projection.shape[0]!, null, w.eps, projected);
}
