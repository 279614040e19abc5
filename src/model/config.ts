// Gemma 3n config.json → a typed, validated config. Field names and defaults follow the reference
// (transformers' Gemma3nConfig / Gemma3nTextConfig); real configs differ between releases, so both the
// newer `rope_parameters` and the older `rope_theta` / `rope_local_base_freq` are accepted.
import { ConfigError } from "../errors.js";

export type LayerType = "sliding" | "full";

export interface TextConfig {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** FFN width of each layer (MatFormer allows them to differ). */
  intermediateSize: number[];
  /** Full vocabulary: text ids, then vision and audio hard-token ids. */
  vocabSize: number;
  /** Rows of the per-layer-embedding table (text ids only). */
  vocabSizePerLayerInput: number;
  hiddenSizePerLayerInput: number;
  altupNumInputs: number;
  altupActiveIdx: number;
  altupCoefClip: number | null;
  altupCorrectScale: boolean;
  laurelRank: number;
  numKvSharedLayers: number;
  activationSparsity: number[];
  slidingWindow: number;
  layerTypes: LayerType[];
  ropeTheta: Record<LayerType, number>;
  finalLogitSoftcap: number | null;
  rmsNormEps: number;
  maxPositionEmbeddings: number;
}

/** A hard-token embedder (`embed_vision` / `embed_audio`): ids [vocabOffset, vocabOffset + vocabSize). */
export interface HardTokenConfig {
  vocabOffset: number;
  vocabSize: number;
  /** Width of the embedder's own table (2048 vision, 1536 audio in the real model). */
  rmsNormEps: number;
}

export interface ModelConfig {
  text: TextConfig;
  vision?: HardTokenConfig;
  audio?: HardTokenConfig;
  bosId: number;
  padId: number;
  eosIds: number[];
  /** Multimodal special ids (absent for a text-only checkpoint). */
  tokens: { boi?: number; eoi?: number; image?: number; boa?: number; eoa?: number; audio?: number };
  visionSoftTokensPerImage?: number;
  audioSoftTokensPerImage?: number;
  /** The parsed config.json, kept for writers (slicing, export). */
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** Typed reads of a config object's fields; errors name the field and where it is. */
export class Fields {
  constructor(private readonly obj: Json, private readonly where: string) {}
  private fail(key: string, problem: string): never {
    throw new ConfigError(`${this.where}: field "${key}" ${problem}`);
  }
  missing(key: string): never {
    return this.fail(key, "is missing and has no default");
  }
  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }
  int(key: string, dflt?: number, min = 0): number {
    const v = this.obj[key] ?? dflt;
    if (v === undefined) this.fail(key, "is missing and has no default");
    if (!Number.isInteger(v) || (v as number) < min) this.fail(key, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  }
  num(key: string, dflt?: number): number {
    const v = this.obj[key] ?? dflt;
    if (v === undefined) this.fail(key, "is missing and has no default");
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(key, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  }
  optNum(key: string, dflt: number | null): number | null {
    const v = this.obj[key];
    if (v === undefined) return dflt;
    if (v === null) return null;
    return this.num(key);
  }
  bool(key: string, dflt: boolean): boolean {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== "boolean") this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  list<T>(key: string, n: number, check: (x: unknown) => x is T, what: string): T[] | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every(check)) this.fail(key, `must be a list of ${what}`);
    if (v.length !== n) this.fail(key, `has ${v.length} entries but num_hidden_layers is ${n}`);
    return v;
  }
  obj_(key: string): Fields | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) this.fail(key, "must be an object");
    return new Fields(v as Json, `${this.where}.${key}`);
  }
  raw(key: string): unknown {
    return this.obj[key];
  }
}

const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const isPosInt = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;

function parseRopeTheta(t: Fields): Record<LayerType, number> {
  const params = t.obj_("rope_parameters");
  if (params) {
    const theta = (type: string, fallback: number): number => {
      const p = params.obj_(type);
      if (!p) return fallback;
      const kind = p.raw("rope_type") ?? "default";
      if (kind !== "default") throw new ConfigError(`config.json: rope_parameters.${type}.rope_type "${String(kind)}" is not supported (Gemma 3n uses "default")`);
      return p.num("rope_theta", fallback);
    };
    return { full: theta("full_attention", 1_000_000), sliding: theta("sliding_attention", 10_000) };
  }
  const scaling = t.raw("rope_scaling") as Json | null | undefined;
  if (scaling && typeof scaling === "object" && (scaling.rope_type ?? scaling.type ?? "default") !== "default") {
    throw new ConfigError(`config.json: rope_scaling ${JSON.stringify(scaling)} is not supported (Gemma 3n uses none)`);
  }
  return { full: t.num("rope_theta", 1_000_000), sliding: t.num("rope_local_base_freq", 10_000) };
}

export function parseTextConfig(t: Fields): TextConfig {
  const numLayers = t.int("num_hidden_layers", undefined, 1);
  const hiddenSize = t.int("hidden_size", undefined, 1);
  const numHeads = t.int("num_attention_heads", undefined, 1);
  const numKvHeads = t.int("num_key_value_heads", undefined, 1);
  const headDim = t.int("head_dim", undefined, 2);
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError(`config.json: num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  if (headDim % 2 !== 0) throw new ConfigError(`config.json: head_dim (${headDim}) must be even for RoPE`);
  const ffn = t.raw("intermediate_size");
  let intermediateSize: number[];
  if (isPosInt(ffn)) intermediateSize = new Array<number>(numLayers).fill(ffn);
  else intermediateSize = t.list("intermediate_size", numLayers, isPosInt, "positive integers") ??
    t.missing("intermediate_size");
  const typeNames = t.list("layer_types", numLayers, (x): x is string => x === "sliding_attention" || x === "full_attention", '"sliding_attention" / "full_attention"');
  const layerTypes: LayerType[] = typeNames
    ? typeNames.map((s) => (s === "full_attention" ? "full" : "sliding"))
    : Array.from({ length: numLayers }, (_, i) => ((i + 1) % 5 === 0 ? "full" : "sliding"));
  const activationSparsity = t.list("activation_sparsity_pattern", numLayers, (x): x is number => isNum(x) && x >= 0 && x < 1, "numbers in [0, 1)") ??
    // The reference's default: the first 10 layers sparse, but only in models deeper than 10 layers.
    Array.from({ length: numLayers }, (_, i) => (numLayers > 10 && i < 10 ? 0.95 : 0));
  const numKvSharedLayers = t.int("num_kv_shared_layers", 15);
  if (numKvSharedLayers >= numLayers) {
    throw new ConfigError(`config.json: num_kv_shared_layers (${numKvSharedLayers}) must be smaller than num_hidden_layers (${numLayers})`);
  }
  const altupNumInputs = t.int("altup_num_inputs", 4, 1);
  const altupActiveIdx = t.int("altup_active_idx", 0);
  if (altupActiveIdx >= altupNumInputs) throw new ConfigError(`config.json: altup_active_idx (${altupActiveIdx}) must be below altup_num_inputs (${altupNumInputs})`);
  const activation = t.raw("hidden_activation") ?? "gelu_pytorch_tanh";
  if (activation !== "gelu_pytorch_tanh") throw new ConfigError(`config.json: hidden_activation "${String(activation)}" is not supported (Gemma 3n uses "gelu_pytorch_tanh")`);
  if (t.bool("attention_bias", false)) throw new ConfigError(`config.json: attention_bias true is not supported (Gemma 3n has no biases)`);
  const vocabSize = t.int("vocab_size", undefined, 1);
  const vocabSizePerLayerInput = t.int("vocab_size_per_layer_input", 262144, 1);
  if (vocabSizePerLayerInput > vocabSize) {
    throw new ConfigError(`config.json: vocab_size_per_layer_input (${vocabSizePerLayerInput}) exceeds vocab_size (${vocabSize})`);
  }
  return {
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize,
    vocabSize,
    vocabSizePerLayerInput,
    hiddenSizePerLayerInput: t.int("hidden_size_per_layer_input", 256, 1),
    altupNumInputs,
    altupActiveIdx,
    altupCoefClip: t.optNum("altup_coef_clip", 120),
    altupCorrectScale: t.bool("altup_correct_scale", true),
    laurelRank: t.int("laurel_rank", 64, 1),
    numKvSharedLayers,
    activationSparsity,
    slidingWindow: t.int("sliding_window", 512, 1),
    layerTypes,
    ropeTheta: parseRopeTheta(t),
    finalLogitSoftcap: t.optNum("final_logit_softcapping", 30),
    rmsNormEps: t.num("rms_norm_eps", 1e-6),
    maxPositionEmbeddings: t.int("max_position_embeddings", 32768, 1),
  };
}

function parseHardTokens(f: Fields | undefined): HardTokenConfig | undefined {
  if (!f || !f.has("vocab_offset")) return undefined;
  return { vocabOffset: f.int("vocab_offset"), vocabSize: f.int("vocab_size", 128, 1), rmsNormEps: f.num("rms_norm_eps", 1e-6) };
}

function idList(v: unknown): number[] | undefined {
  if (Number.isInteger(v)) return [v as number];
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x))) return v as number[];
  return undefined;
}

/** Parses config.json (the multimodal `gemma3n` layout, or a bare `gemma3n_text` one). */
export function parseModelConfig(raw: unknown, where = "config.json"): ModelConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: not a JSON object`);
  const top = new Fields(raw as Json, where);
  const modelType = top.raw("model_type");
  let text: Fields;
  if (modelType === "gemma3n") {
    text = top.obj_("text_config") ?? (() => { throw new ConfigError(`${where}: model_type "gemma3n" but no text_config`); })();
  } else if (modelType === "gemma3n_text") {
    text = top;
  } else {
    throw new ConfigError(
      `${where}: model_type is ${JSON.stringify(modelType)}, not a Gemma 3n model (expected "gemma3n" or "gemma3n_text")`,
    );
  }
  const textCfg = parseTextConfig(text);
  const pick = (key: string): number | undefined => (top.has(key) ? top.int(key) : undefined);
  const eosIds = idList(top.raw("eos_token_id")) ?? idList(text.raw("eos_token_id")) ?? [1];
  const vision = parseHardTokens(top.obj_("vision_config"));
  const audio = parseHardTokens(top.obj_("audio_config"));
  for (const [name, hc] of [["vision_config", vision], ["audio_config", audio]] as const) {
    if (hc && (hc.vocabOffset < textCfg.vocabSizePerLayerInput || hc.vocabOffset + hc.vocabSize > textCfg.vocabSize)) {
      throw new ConfigError(`${where}: ${name} hard-token ids [${hc.vocabOffset}, ${hc.vocabOffset + hc.vocabSize}) fall outside [vocab_size_per_layer_input, vocab_size) = [${textCfg.vocabSizePerLayerInput}, ${textCfg.vocabSize})`);
    }
  }
  return {
    text: textCfg,
    vision,
    audio,
    bosId: (top.has("bos_token_id") ? top.int("bos_token_id") : undefined) ?? text.int("bos_token_id", 2),
    padId: (top.has("pad_token_id") ? top.int("pad_token_id") : undefined) ?? text.int("pad_token_id", 0),
    eosIds,
    tokens: {
      boi: pick("boi_token_id"),
      eoi: pick("eoi_token_id"),
      image: pick("image_token_id"),
      boa: pick("boa_token_id"),
      eoa: pick("eoa_token_id"),
      audio: pick("audio_token_id"),
    },
    visionSoftTokensPerImage: pick("vision_soft_tokens_per_image"),
    audioSoftTokensPerImage: pick("audio_soft_tokens_per_image"),
    raw: raw as Json,
  };
}

/** The layer whose K/V cache layer `i` reads: itself, or for a KV-shared layer the last earlier layer of its type. */
export function kvSourceLayers(c: TextConfig): number[] {
  const first = c.numLayers - c.numKvSharedLayers;
  return c.layerTypes.map((type, i) => {
    if (i < first || first === 0) return i;
    for (let j = first - 1; j >= 0; j--) if (c.layerTypes[j] === type) return j;
    throw new ConfigError(`config.json: KV-shared layer ${i} (${type}) has no earlier ${type} layer to share the cache of`);
  });
}
