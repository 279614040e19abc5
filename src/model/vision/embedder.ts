// embed_vision's soft path (spec §1.7): each soft token u ∈ R^2048 becomes
// RMSNorm_∅(W_proj · RMSNorm_soft(u · √2048)), a unit-RMS row in the language model's space. The
// projection is the one the decoder already holds for the vision hard tokens.
import type { Backend } from "../../kernels/backend.js";
import type { HardTokenWeights } from "../text/weights.js";

export interface SoftEmbedder {
  softNorm: Float32Array;
  /** The hard-token embedder of the same module, for its projection and eps. */
  hard: HardTokenWeights;
}

/** Soft tokens [n, C] → language-model embeddings [n, hidden]. */
export function embedSoftTokens(b: Backend, tokens: Float32Array, e: SoftEmbedder, hidden: number): Float32Array {
  const C = e.hard.width;
  const eps = e.hard.config.rmsNormEps;
  const scale = Math.fround(Math.sqrt(C));
  const scaled = new Float32Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) scaled[i] = tokens[i]! * scale;
  b.rmsNorm(scaled, C, e.softNorm, eps, scaled);
  const projected = b.matmul(scaled, tokens.length / C, e.hard.projection);
  return b.rmsNorm(projected, hidden, null, eps, projected);
}
