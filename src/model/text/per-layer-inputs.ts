// Per-Layer Embeddings (PLE): every layer gets its own small input per token, the sum of a row of a
// huge lookup table (kept on disk) and a projection of the token's embedding. Spec §2.2.
import type { Backend } from "../../kernels/backend.js";
import type { GeluNumerics } from "../../kernels/gelu-f16-table.js";
import type { TextConfig } from "../config.js";
import type { TextWeights } from "./weights.js";

/**
 * [tokens, L, P] per-layer inputs for `ids` whose scaled embeddings are `embeds` [tokens, D]. Layer l
 * reads stored slot `w.perLayerSlots[l]` of the table and projection (a MatFormer slice skips slots).
 */
export function perLayerInputs(b: Backend, ids: Int32Array, embeds: Float32Array, w: TextWeights, c: TextConfig): Float32Array {
  const tokens = ids.length;
  const L = c.numLayers;
  const P = c.hiddenSizePerLayerInput;
  const S = w.perLayerTable.cols / P;
  const projected = b.matmul(embeds, tokens, w.perLayerModelProjection); // [tokens, S·P]
  const projScale = Math.fround(c.hiddenSize ** -0.5);
  for (let i = 0; i < projected.length; i++) projected[i] = projected[i]! * projScale;
  b.rmsNorm(projected, P, w.perLayerProjectionNorm, c.rmsNormEps, projected);
  const tableScale = Math.fround(Math.sqrt(P));
  const combine = Math.fround(2 ** -0.5);
  const row = new Float32Array(S * P);
  const out = new Float32Array(tokens * L * P);
  for (let t = 0; t < tokens; t++) {
    // Only text ids have a row; vision/audio ids use row 0 (the pad token's), as the reference does.
    const id = ids[t]! < c.vocabSizePerLayerInput ? ids[t]! : 0;
    w.perLayerTable.read(id, row);
    w.perLayerSlots.forEach((slot, l) => {
      for (let j = 0; j < P; j++) {
        const k = (t * S + slot) * P + j;
        out[(t * L + l) * P + j] = (projected[k]! + Math.fround(row[slot * P + j]! * tableScale)) * combine;
      }
    });
  }
  return out;
}

/** The per-layer input injection into streams 1..A−1 after a layer: RMSNorm(W_p · (gelu(W_g · x̃₀·s) ⊙ pli_l)). */
export function perLayerInjection(
  b: Backend,
  corrected: Float32Array,
  pli: Float32Array,
  layer: number,
  tokens: number,
  w: TextWeights["layers"][number],
  c: TextConfig,
  gelu: GeluNumerics,
): Float32Array {
  const D = c.hiddenSize;
  const P = c.hiddenSizePerLayerInput;
  const L = c.numLayers;
  const scaled = c.altupCorrectScale ? scaleRows(corrected, w.altup.correctOutputScale) : corrected;
  const gate = b.matmul(scaled, tokens, w.perLayerInputGate);
  const layerInput = new Float32Array(tokens * P);
  for (let t = 0; t < tokens; t++) layerInput.set(pli.subarray((t * L + layer) * P, (t * L + layer + 1) * P), t * P);
  b.geluMul(gate, layerInput, gelu);
  const out = b.matmul(gate, tokens, w.perLayerProjection);
  return b.rmsNorm(out, D, w.postPerLayerInputNorm, c.rmsNormEps, out);
}

/**
 * Each row of x multiplied element-wise by `scale` (its own function: a loop at the top of
 * perLayerInjection made V8 leave its code for the interpreter at every call; see decoder.ts).
 */
function scaleRows(x: Float32Array, scale: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * scale[i % scale.length]!;
  return out;
}
