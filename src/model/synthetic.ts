// config.json contents with the real Gemma 3n E2B / E4B text dimensions (text-decoder spec §1.1), for
// synthetic checkpoints with random weights: memory and speed measurements without a download.
export type SyntheticSize = "e2b" | "e4b";

export function syntheticConfig(size: SyntheticSize): Record<string, unknown> {
  const layers = size === "e2b" ? 30 : 35;
  const ffn = size === "e2b" ? 8192 : 16384;
  return {
    architectures: ["Gemma3nForConditionalGeneration"],
    model_type: "gemma3n",
    boi_token_id: 255999,
    eoi_token_id: 262144,
    image_token_id: 262145,
    boa_token_id: 256000,
    eoa_token_id: 262272,
    audio_token_id: 262273,
    eos_token_id: [1, 106],
    vision_soft_tokens_per_image: 256,
    audio_soft_tokens_per_image: 188,
    text_config: {
      model_type: "gemma3n_text",
      hidden_size: 2048,
      num_hidden_layers: layers,
      num_attention_heads: 8,
      num_key_value_heads: 2,
      head_dim: 256,
      intermediate_size: new Array(layers).fill(ffn),
      hidden_activation: "gelu_pytorch_tanh",
      vocab_size: 262400,
      vocab_size_per_layer_input: 262144,
      hidden_size_per_layer_input: 256,
      altup_num_inputs: 4,
      altup_active_idx: 0,
      altup_coef_clip: 120,
      altup_correct_scale: true,
      laurel_rank: 64,
      num_kv_shared_layers: layers - 20,
      activation_sparsity_pattern: Array.from({ length: layers }, (_, i) => (i < 10 ? 0.95 : 0)),
      sliding_window: 512,
      layer_types: Array.from({ length: layers }, (_, i) => ((i + 1) % 5 === 0 ? "full_attention" : "sliding_attention")),
      rope_theta: 1_000_000,
      rope_local_base_freq: 10_000,
      final_logit_softcapping: 30,
      rms_norm_eps: 1e-6,
      max_position_embeddings: 32768,
      bos_token_id: 2,
      pad_token_id: 0,
      eos_token_id: 1,
    },
    vision_config: { model_type: "gemma3n_vision", hidden_size: 2048, vocab_offset: 262144, vocab_size: 128, rms_norm_eps: 1e-6 },
    audio_config: { model_type: "gemma3n_audio", hidden_size: 1536, vocab_offset: 262272, vocab_size: 128, rms_norm_eps: 1e-6 },
  };
}

/** Every text tensor (and the hard-token embedders) of a checkpoint with this config: name and shape. */
export function textTensorShapes(config: Record<string, unknown>): { name: string; shape: number[] }[] {
  const t = config.text_config as Record<string, any>;
  const D = t.hidden_size as number;
  const L = t.num_hidden_layers as number;
  const P = t.hidden_size_per_layer_input as number;
  const A = t.altup_num_inputs as number;
  const r = t.laurel_rank as number;
  const q = t.num_attention_heads * t.head_dim;
  const kv = t.num_key_value_heads * t.head_dim;
  const T = "model.language_model.";
  const out: { name: string; shape: number[] }[] = [
    { name: T + "embed_tokens.weight", shape: [t.vocab_size, D] },
    { name: T + "embed_tokens_per_layer.weight", shape: [t.vocab_size_per_layer_input, L * P] },
    { name: T + "per_layer_model_projection.weight", shape: [L * P, D] },
    { name: T + "per_layer_projection_norm.weight", shape: [P] },
    { name: T + "norm.weight", shape: [D] },
  ];
  for (let k = 0; k < A - 1; k++) {
    out.push({ name: `${T}altup_projections.${k}.weight`, shape: [D, D] });
    out.push({ name: `${T}altup_unembed_projections.${k}.weight`, shape: [D, D] });
  }
  for (let i = 0; i < L; i++) {
    const p = `${T}layers.${i}.`;
    const F = t.intermediate_size[i] as number;
    out.push(
      { name: p + "input_layernorm.weight", shape: [D] },
      { name: p + "self_attn.q_proj.weight", shape: [q, D] },
      { name: p + "self_attn.k_proj.weight", shape: [kv, D] },
      { name: p + "self_attn.v_proj.weight", shape: [kv, D] },
      { name: p + "self_attn.o_proj.weight", shape: [D, q] },
      { name: p + "self_attn.q_norm.weight", shape: [t.head_dim] },
      { name: p + "self_attn.k_norm.weight", shape: [t.head_dim] },
      { name: p + "post_attention_layernorm.weight", shape: [D] },
      { name: p + "pre_feedforward_layernorm.weight", shape: [D] },
      { name: p + "mlp.gate_proj.weight", shape: [F, D] },
      { name: p + "mlp.up_proj.weight", shape: [F, D] },
      { name: p + "mlp.down_proj.weight", shape: [D, F] },
      { name: p + "post_feedforward_layernorm.weight", shape: [D] },
      { name: p + "altup.correct_output_scale", shape: [D] },
      { name: p + "altup.correction_coefs.weight", shape: [A, A] },
      { name: p + "altup.prediction_coefs.weight", shape: [A * A, A] },
      { name: p + "altup.modality_router.weight", shape: [A, D] },
      { name: p + "altup.router_norm.weight", shape: [D] },
      { name: p + "laurel.linear_left.weight", shape: [r, D] },
      { name: p + "laurel.linear_right.weight", shape: [D, r] },
      { name: p + "laurel.post_laurel_norm.weight", shape: [D] },
      { name: p + "per_layer_input_gate.weight", shape: [P, D] },
      { name: p + "per_layer_projection.weight", shape: [D, P] },
      { name: p + "post_per_layer_input_norm.weight", shape: [D] },
    );
  }
  for (const [m, cfg] of [["embed_vision", config.vision_config], ["embed_audio", config.audio_config]] as const) {
    const c = cfg as Record<string, number>;
    out.push(
      { name: `model.${m}.embedding.weight`, shape: [c.vocab_size!, c.hidden_size!] },
      { name: `model.${m}.hard_embedding_norm.weight`, shape: [c.hidden_size!] },
      { name: `model.${m}.soft_embedding_norm.weight`, shape: [c.hidden_size!] },
      { name: `model.${m}.embedding_projection.weight`, shape: [D, c.hidden_size!] },
    );
  }
  return out;
}
