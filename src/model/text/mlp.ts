// The feed-forward block: gelu_tanh(gate) ⊙ up → down, with Gaussian top-k activation sparsity on the
// gate pre-activation of the first layers (only values above mean + z·std of each token survive). §2.4(e).
import type { Backend } from "../../kernels/backend.js";
import type { GeluNumerics } from "../../kernels/gelu-f16-table.js";
import type { LayerWeights } from "./weights.js";

/** Φ⁻¹(p) for the standard normal (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const bb = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const cc = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((cc[0]! * q + cc[1]!) * q + cc[2]!) * q + cc[3]!) * q + cc[4]!) * q + cc[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  let x: number;
  if (p < 0.02425) x = tail(Math.sqrt(-2 * Math.log(p)));
  else if (p > 1 - 0.02425) x = -tail(Math.sqrt(-2 * Math.log(1 - p)));
  else {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
      (((((bb[0]! * r + bb[1]!) * r + bb[2]!) * r + bb[3]!) * r + bb[4]!) * r + 1);
  }
  return x;
}

/** `width` hidden units: the stored width, or a MatFormer slice's prefix of it (spec §5.2). */
export function mlp(b: Backend, x: Float32Array, tokens: number, w: LayerWeights, width: number, sparsityZ: number | null, gelu: GeluNumerics): Float32Array {
  const gate = b.matmul(x, tokens, w.gate, width);
  const up = b.matmul(x, tokens, w.up, width);
  if (sparsityZ !== null) b.gaussianTopK(gate, width, sparsityZ);
  b.geluMul(gate, up, gelu);
  return b.matmul(gate, tokens, w.down, undefined, width);
}
