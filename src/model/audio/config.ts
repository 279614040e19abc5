// config.json's `audio_config` (transformers' Gemma3nAudioConfig): the USM Conformer's dimensions.
// Defaults are the class defaults, which are also E2B's values (vision-audio spec §2.3).
import { ConfigError } from "../../errors.js";
import { Fields, type ModelConfig } from "../config.js";

export interface AudioConfig {
  inputFeatSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** Frames before the query that attention sees (context_left − 1) and after it (context_right). */
  maxPast: number;
  maxFuture: number;
  logitCap: number;
  convKernelSize: number;
  reductionFactor: number;
  residualWeight: number;
  /** Activations are clamped to ±this before every norm. */
  gradientClipping: number;
  rmsNormEps: number;
  /** The two sub-sampling convolutions: output channels, kernel [time, freq], stride [time, freq]. */
  sscp: { channels: number; kernel: [number, number]; stride: [number, number] }[];
  sscpEps: number;
}

const pair = (x: unknown): x is [number, number] => Array.isArray(x) && x.length === 2 && x.every((v) => Number.isInteger(v) && v > 0);

export function parseAudioConfig(config: ModelConfig): AudioConfig {
  const raw = config.raw.audio_config;
  if (typeof raw !== "object" || raw === null) throw new ConfigError("config.json has no audio_config: this model takes no audio");
  const f = new Fields(raw as Record<string, unknown>, "config.json: audio_config");
  const list = <T>(key: string, check: (x: unknown) => x is T, dflt: T[]): T[] => {
    const v = f.raw(key) ?? dflt;
    if (!Array.isArray(v) || v.length !== 2 || !v.every(check)) throw new ConfigError(`config.json: audio_config.${key} must list 2 entries`);
    return v;
  };
  const channels = list("sscp_conv_channel_size", (x): x is number => Number.isInteger(x) && (x as number) > 0, [128, 32]);
  const kernels = list<[number, number]>("sscp_conv_kernel_size", pair, [[3, 3], [3, 3]]);
  const strides = list<[number, number]>("sscp_conv_stride_size", pair, [[2, 2], [2, 2]]);
  const hiddenSize = f.int("hidden_size", 1536, 1);
  const numHeads = f.int("conf_num_attention_heads", 8, 1);
  if (hiddenSize % numHeads !== 0) throw new ConfigError(`config.json: audio_config.hidden_size (${hiddenSize}) must be a multiple of conf_num_attention_heads (${numHeads})`);
  return {
    inputFeatSize: f.int("input_feat_size", 128, 1),
    hiddenSize,
    numLayers: f.int("conf_num_hidden_layers", 12, 1),
    numHeads,
    maxPast: Math.max(0, f.int("conf_attention_context_left", 13) - 1),
    maxFuture: f.int("conf_attention_context_right", 0),
    logitCap: f.num("conf_attention_logit_cap", 50),
    convKernelSize: f.int("conf_conv_kernel_size", 5, 1),
    reductionFactor: f.int("conf_reduction_factor", 4, 1),
    residualWeight: f.num("conf_residual_weight", 0.5),
    gradientClipping: f.num("gradient_clipping", 1e10),
    rmsNormEps: f.num("rms_norm_eps", 1e-6),
    sscp: channels.map((c, i) => ({ channels: c, kernel: kernels[i]!, stride: strides[i]! })),
    sscpEps: f.num("sscp_conv_group_norm_eps", f.has("sscp_conv_eps") ? f.num("sscp_conv_eps") : 1e-3),
  };
}
