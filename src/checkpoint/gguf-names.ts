// llama.cpp's Gemma 3n tensor names ↔ the canonical (Hugging Face) names, both directions
// (text-decoder spec §3.2). GGUF shapes are the PyTorch shapes reversed; no tensor is transposed. The
// AltUp projections are the one structural difference: llama.cpp stacks the A−1 matrices into one
// [D, D, A−1] tensor, the canonical checkpoint keeps them apart.

export const TEXT_PREFIX = "model.language_model.";

/** Global tensors: GGUF name → canonical name (after TEXT_PREFIX). */
const GLOBAL: ReadonlyArray<readonly [string, string]> = [
  ["token_embd.weight", "embed_tokens.weight"],
  ["per_layer_token_embd.weight", "embed_tokens_per_layer.weight"],
  ["per_layer_model_proj.weight", "per_layer_model_projection.weight"],
  ["per_layer_proj_norm.weight", "per_layer_projection_norm.weight"],
  ["output_norm.weight", "norm.weight"],
];

/** Stacked tensors: GGUF name → canonical name of matrix k, `${base}.${k}.weight`. */
export const STACKED: ReadonlyArray<readonly [string, string]> = [
  ["altup_proj.weight", "altup_projections"],
  ["altup_unembd_proj.weight", "altup_unembed_projections"],
];

/** Per-layer tensors: `blk.N.` + GGUF suffix → `layers.N.` + canonical suffix. */
const LAYER: ReadonlyArray<readonly [string, string]> = [
  ["attn_norm.weight", "input_layernorm.weight"],
  ["attn_q.weight", "self_attn.q_proj.weight"],
  ["attn_k.weight", "self_attn.k_proj.weight"],
  ["attn_v.weight", "self_attn.v_proj.weight"],
  ["attn_output.weight", "self_attn.o_proj.weight"],
  ["attn_q_norm.weight", "self_attn.q_norm.weight"],
  ["attn_k_norm.weight", "self_attn.k_norm.weight"],
  ["post_attention_norm.weight", "post_attention_layernorm.weight"],
  ["ffn_norm.weight", "pre_feedforward_layernorm.weight"],
  ["ffn_gate.weight", "mlp.gate_proj.weight"],
  ["ffn_up.weight", "mlp.up_proj.weight"],
  ["ffn_down.weight", "mlp.down_proj.weight"],
  ["post_ffw_norm.weight", "post_feedforward_layernorm.weight"],
  ["inp_gate.weight", "per_layer_input_gate.weight"],
  ["proj.weight", "per_layer_projection.weight"],
  ["post_norm.weight", "post_per_layer_input_norm.weight"],
  ["altup_correct_coef.weight", "altup.correction_coefs.weight"],
  // The converter appends ".weight" to names ending in "_scale".
  ["altup_correct_scale.weight", "altup.correct_output_scale"],
  ["altup_predict_coef.weight", "altup.prediction_coefs.weight"],
  ["altup_router.weight", "altup.modality_router.weight"],
  ["altup_router_norm.weight", "altup.router_norm.weight"],
  ["laurel_l.weight", "laurel.linear_left.weight"],
  ["laurel_r.weight", "laurel.linear_right.weight"],
  ["laurel_post_norm.weight", "laurel.post_laurel_norm.weight"],
];

const fromGGUFGlobal = new Map(GLOBAL);
const fromGGUFLayer = new Map(LAYER);
const toGGUFGlobal = new Map(GLOBAL.map(([g, c]) => [TEXT_PREFIX + c, g]));
const toGGUFLayer = new Map(LAYER.map(([g, c]) => [c, g]));

/** The canonical name of a (non-stacked) GGUF tensor, or undefined for tensors the text model does not use. */
export function canonicalFromGGUF(name: string): string | undefined {
  const global = fromGGUFGlobal.get(name);
  if (global) return TEXT_PREFIX + global;
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  const suffix = m && fromGGUFLayer.get(m[2]!);
  return suffix ? `${TEXT_PREFIX}layers.${m![1]}.${suffix}` : undefined;
}

/** The GGUF name of a canonical tensor (stacked AltUp matrices excluded), or undefined when llama.cpp's text model has none. */
export function ggufFromCanonical(name: string): string | undefined {
  const global = toGGUFGlobal.get(name);
  if (global) return global;
  const m = /^model\.language_model\.layers\.(\d+)\.(.+)$/.exec(name);
  const suffix = m && toGGUFLayer.get(m[2]!);
  return suffix ? `blk.${m![1]}.${suffix}` : undefined;
}
