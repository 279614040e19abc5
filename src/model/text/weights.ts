// The text decoder's weights, read from a checkpoint by canonical name and checked against the config.
// Big matrices stay in their stored (or requested) dtype; norm vectors and AltUp coefficients are tiny
// and kept as float32. The per-layer-embedding table stays on disk. Layers that reuse another layer's
// KV cache never load their own k/v projections (the checkpoint has them, the model does not use them).
import type { Checkpoint } from "../../checkpoint/checkpoint.js";
import { DiskRows } from "../../checkpoint/checkpoint.js";
import { heapStorage, type DType, type Storage, type Tensor } from "../../kernels/dtype.js";
import { kvSourceLayers, type HardTokenConfig, type ModelConfig, type TextConfig } from "../config.js";

export interface AltUpWeights {
  routerNorm: Float32Array; // [D]
  router: Tensor; // [A, D], float32
  predictionCoefs: Float32Array; // [A·A, A]
  correctionCoefs: Float32Array; // [A, A]
  correctOutputScale: Float32Array; // [D]
}

export interface LayerWeights {
  inputNorm: Float32Array;
  q: Tensor;
  k?: Tensor;
  v?: Tensor;
  o: Tensor;
  qNorm: Float32Array;
  kNorm?: Float32Array;
  postAttentionNorm: Float32Array;
  preFeedforwardNorm: Float32Array;
  gate: Tensor;
  up: Tensor;
  down: Tensor;
  postFeedforwardNorm: Float32Array;
  altup: AltUpWeights;
  laurel: { left: Tensor; right: Tensor; postNorm: Float32Array };
  perLayerInputGate: Tensor; // [P, D]
  perLayerProjection: Tensor; // [D, P]
  postPerLayerInputNorm: Float32Array;
}

/** `embed_vision` / `embed_audio`: how ids past the text vocabulary are embedded. */
export interface HardTokenWeights {
  config: HardTokenConfig;
  embedding: Float32Array; // [vocab, C]
  width: number; // C
  hardNorm: Float32Array; // [C]
  projection: Tensor; // [D, C]
}

export interface TextWeights {
  embedTokens: Tensor; // [V, D], also the tied output projection
  perLayerTable: DiskRows; // [V_ple, S·P] on disk, S = stored layers
  perLayerModelProjection: Tensor; // [S·P, D]
  /** The stored per-layer-embedding slot of each layer: identity, or for a MatFormer slice the kept layers' indices. */
  perLayerSlots: readonly number[];
  perLayerProjectionNorm: Float32Array; // [P]
  altupProjections: Tensor[]; // A−1 × [D, D]
  altupUnembedProjections: Tensor[]; // A−1 × [D, D]
  finalNorm: Float32Array;
  layers: LayerWeights[];
  hardTokens: HardTokenWeights[];
}

const T = "model.language_model.";

function clip(coefs: Float32Array, limit: number | null): Float32Array {
  if (limit === null) return coefs;
  for (let i = 0; i < coefs.length; i++) coefs[i] = Math.min(limit, Math.max(-limit, coefs[i]!));
  return coefs;
}

function loadHardTokens(ck: Checkpoint, prefix: string, hc: HardTokenConfig | undefined, D: number): HardTokenWeights | undefined {
  if (!hc || !ck.has(`${prefix}.embedding.weight`)) return undefined;
  const table = ck.entry(`${prefix}.embedding.weight`);
  const width = table.shape[1]!;
  return {
    config: hc,
    embedding: ck.loadF32(`${prefix}.embedding.weight`, [hc.vocabSize, width]),
    width,
    hardNorm: ck.loadF32(`${prefix}.hard_embedding_norm.weight`, [width]),
    projection: ck.load(`${prefix}.embedding_projection.weight`, [D, width]),
  };
}

/**
 * Stored layer `i`, its FFN cut to the first `ffnWidth` hidden units (a MatFormer slice keeps a prefix:
 * rows of gate/up, columns of down). Layers that read another layer's KV cache get no k/v. `storage`
 * holds the big matrices (a backend may want them in its own memory).
 */
export function loadLayerWeights(ck: Checkpoint, c: TextConfig, i: number, ffnWidth: number, dtype?: DType, storage: Storage = heapStorage): LayerWeights {
  const D = c.hiddenSize;
  const A = c.altupNumInputs;
  const P = c.hiddenSizePerLayerInput;
  const p = `${T}layers.${i}.`;
  const mat = (name: string, shape: number[]) => ck.load(p + name, shape, dtype, storage);
  const vec = (name: string, n: number) => ck.loadF32(p + name, [n]);
  const F = c.intermediateSize[i]!;
  const ffn = (name: string, shape: number[], rows: number, cols: number) => ck.loadBlock(p + name, shape, rows, cols, dtype, storage);
  const ownsKv = kvSourceLayers(c)[i] === i;
  const qWidth = c.numHeads * c.headDim;
  const kvWidth = c.numKvHeads * c.headDim;
  return {
    inputNorm: vec("input_layernorm.weight", D),
    q: mat("self_attn.q_proj.weight", [qWidth, D]),
    k: ownsKv ? mat("self_attn.k_proj.weight", [kvWidth, D]) : undefined,
    v: ownsKv ? mat("self_attn.v_proj.weight", [kvWidth, D]) : undefined,
    o: mat("self_attn.o_proj.weight", [D, qWidth]),
    qNorm: vec("self_attn.q_norm.weight", c.headDim),
    kNorm: ownsKv ? vec("self_attn.k_norm.weight", c.headDim) : undefined,
    postAttentionNorm: vec("post_attention_layernorm.weight", D),
    preFeedforwardNorm: vec("pre_feedforward_layernorm.weight", D),
    gate: ffn("mlp.gate_proj.weight", [F, D], ffnWidth, D),
    up: ffn("mlp.up_proj.weight", [F, D], ffnWidth, D),
    down: ffn("mlp.down_proj.weight", [D, F], D, ffnWidth),
    postFeedforwardNorm: vec("post_feedforward_layernorm.weight", D),
    altup: {
      routerNorm: vec("altup.router_norm.weight", D),
      router: ck.load(p + "altup.modality_router.weight", [A, D], "f32", storage),
      predictionCoefs: clip(ck.loadF32(p + "altup.prediction_coefs.weight", [A * A, A]), c.altupCoefClip),
      correctionCoefs: clip(ck.loadF32(p + "altup.correction_coefs.weight", [A, A]), c.altupCoefClip),
      correctOutputScale: vec("altup.correct_output_scale", D),
    },
    laurel: {
      left: mat("laurel.linear_left.weight", [c.laurelRank, D]),
      right: mat("laurel.linear_right.weight", [D, c.laurelRank]),
      postNorm: vec("laurel.post_laurel_norm.weight", D),
    },
    perLayerInputGate: mat("per_layer_input_gate.weight", [P, D]),
    perLayerProjection: mat("per_layer_projection.weight", [D, P]),
    postPerLayerInputNorm: vec("post_per_layer_input_norm.weight", D),
  };
}

/** Everything but the layers: embeddings, per-layer-input projection, AltUp stream projections, final norm. */
export function loadSharedWeights(ck: Checkpoint, cfg: ModelConfig, dtype?: DType, storage: Storage = heapStorage): Omit<TextWeights, "layers" | "perLayerSlots"> {
  const c = cfg.text;
  const D = c.hiddenSize;
  const A = c.altupNumInputs;
  const P = c.hiddenSizePerLayerInput;
  const L = c.numLayers;
  const mat = (name: string, shape: number[]) => ck.load(T + name, shape, dtype, storage);
  const vec = (name: string, n: number) => ck.loadF32(T + name, [n]);
  const stack = (name: string) => Array.from({ length: A - 1 }, (_, k) => mat(`${name}.${k}.weight`, [D, D]));
  return {
    embedTokens: mat("embed_tokens.weight", [c.vocabSize, D]),
    perLayerTable: new DiskRows(ck.entry(T + "embed_tokens_per_layer.weight", [c.vocabSizePerLayerInput, L * P])),
    perLayerModelProjection: mat("per_layer_model_projection.weight", [L * P, D]),
    perLayerProjectionNorm: vec("per_layer_projection_norm.weight", P),
    altupProjections: stack("altup_projections"),
    altupUnembedProjections: stack("altup_unembed_projections"),
    finalNorm: vec("norm.weight", D),
    hardTokens: [
      loadHardTokens(ck, "model.embed_vision", cfg.vision, D),
      loadHardTokens(ck, "model.embed_audio", cfg.audio, D),
    ].filter((h): h is HardTokenWeights => h !== undefined),
  };
}
