// LAuReL (learned augmented residual layer): a rank-r bypass around attention, n + RMSNorm(W_r · W_l · n),
// taken from the *normed* active stream. Spec §2.4(b).
import type { Backend } from "../../kernels/backend.js";
import type { TextConfig } from "../config.js";
import type { LayerWeights } from "./weights.js";

export function laurel(b: Backend, normed: Float32Array, tokens: number, w: LayerWeights["laurel"], c: TextConfig): Float32Array {
  const low = b.matmul(normed, tokens, w.left);
  const back = b.matmul(low, tokens, w.right);
  b.rmsNorm(back, c.hiddenSize, w.postNorm, c.rmsNormEps, back);
  for (let i = 0; i < back.length; i++) back[i] = back[i]! + normed[i]!;
  return back;
}
