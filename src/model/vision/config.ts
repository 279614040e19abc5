// The vision tower's architecture, from config.json's vision_config. The released checkpoints name
// timm's `mobilenetv5_300m_enc` and carry no block list, so its definition is built in here (timm's
// arch strings, vision-audio spec §1.4); a config may override it through `model_args` (timm kwargs:
// `block_args`, `stem_size`, `msfa_indices`, `msfa_output_resolution`), as the tiny test model does.
import { ConfigError } from "../../errors.js";

export interface EdgeResidualSpec {
  type: "er";
  outChannels: number;
  stride: number;
  kernel: number;
  expRatio: number;
  /** Width the expansion is computed from instead of the input width (0 = the input width). */
  forceInChannels: number;
  noskip: boolean;
}

export interface InvertedResidualSpec {
  type: "uir";
  outChannels: number;
  stride: number;
  /** Depthwise kernels before the expansion, after it and after the projection (0 = none). */
  dwStart: number;
  dwMid: number;
  dwEnd: number;
  expRatio: number;
  noskip: boolean;
}

export interface AttentionSpec {
  type: "mqa";
  outChannels: number;
  numHeads: number;
  /** Width of each query head and of the single shared key/value head. */
  headDim: number;
  /** Keys and values come from a depthwise-convolved map this many times smaller (1 = none). */
  kvStride: number;
  kvKernel: number;
  noskip: boolean;
}

export type BlockSpec = EdgeResidualSpec | InvertedResidualSpec | AttentionSpec;

export interface VisionTowerConfig {
  stemSize: number;
  stages: BlockSpec[][];
  /** Feature maps the fusion adapter takes: 0 is the stem, i the end of stage i. */
  msfaIndices: number[];
  /** The fusion adapter's output grid is outputResolution × outputResolution. */
  outputResolution: number;
  /** Width of the soft tokens (timm fixes it at 2048). */
  outChannels: number;
  /** Whether blocks scale their output per channel (timm's layer_scale_init_value is not None). */
  layerScale: boolean;
}

/** Every RMSNorm2d of the tower (timm's default; the config's rms_norm_eps is the embedder's). */
export const TOWER_EPS = 1e-6;

/** timm's `mobilenetv5_300m_enc` (mobilenetv5.py `_gen_mobilenet_v5`). */
const MOBILENETV5_300M: string[][] = [
  ["er_r1_k3_s2_e4_c128", "er_r1_k3_s1_e4_c128", "er_r1_k3_s1_e4_c128"],
  ["uir_r1_a3_k5_s2_e6_c256", "uir_r1_a5_k0_s1_e4_c256", "uir_r1_a3_k0_s1_e4_c256", "uir_r1_a5_k0_s1_e4_c256", "uir_r1_a3_k0_s1_e4_c256"],
  [
    "uir_r1_a5_k5_s2_e6_c640",
    ...Array<string>(7).fill("uir_r1_a5_k0_s1_e4_c640"),
    "uir_r1_a0_k0_s1_e1_c640",
    ...Array.from({ length: 14 }, () => ["mqa_r1_k3_h12_v2_s1_d64_c640", "uir_r1_a0_k0_s1_e2_c640"]).flat(),
  ],
  ["uir_r1_a5_k5_s2_e6_c1280", ...Array.from({ length: 19 }, () => ["mqa_r1_k3_h16_s1_d96_c1280", "uir_r1_a0_k0_s1_e2_c1280"]).flat()],
];

/** timm's block string notation → the same keyword arguments `model_args.block_args` holds. */
function decodeArchString(s: string): Record<string, unknown> {
  const [type, ...ops] = s.split("_");
  const o: Record<string, number> = {};
  for (const op of ops) {
    const m = /^([a-z]+)(\d.*)$/.exec(op);
    if (m) o[m[1]!] = Number(m[2]);
  }
  const common = { block_type: type, out_chs: o.c, stride: o.s, noskip: false };
  if (type === "er") return { ...common, exp_kernel_size: o.k, exp_ratio: o.e, pw_kernel_size: 1 };
  if (type === "uir") return { ...common, dw_kernel_size_start: o.a ?? 0, dw_kernel_size_mid: o.k, dw_kernel_size_end: o.p ?? 0, exp_ratio: o.e };
  return { ...common, dw_kernel_size: o.k, num_heads: o.h, key_dim: o.d, value_dim: o.d, kv_stride: o.v ?? 1 };
}

/** timm's make_divisible(v, 8): nearest multiple of 8, never more than 10% below v. */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

type Json = Record<string, unknown>;

function parseBlock(b: unknown, where: string): BlockSpec {
  if (typeof b !== "object" || b === null) throw new ConfigError(`${where} must be an object`);
  const j = b as Json;
  const int = (key: string, dflt?: number, min = 0): number => {
    const v = j[key] ?? dflt;
    if (!Number.isInteger(v) || (v as number) < min) throw new ConfigError(`${where}.${key} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const ratio = (key: string): number => {
    const v = j[key];
    if (typeof v !== "number" || !(v > 0)) throw new ConfigError(`${where}.${key} must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const unsupported = (key: string, ok: (v: unknown) => boolean, what: string) => {
    if (j[key] !== undefined && !ok(j[key])) throw new ConfigError(`${where}.${key} = ${JSON.stringify(j[key])} is not supported (${what})`);
  };
  unsupported("act_layer", (v) => v === null, "the tower uses GELU throughout");
  unsupported("se_ratio", (v) => v === 0, "MobileNet-v5 has no squeeze-excite");
  unsupported("group_size", (v) => v === 1 || v === 0, "only depthwise and full convolutions");
  const noskip = j.noskip === true;
  const outChannels = makeDivisible(int("out_chs", undefined, 1));
  const type = j.block_type;
  if (type === "er") {
    unsupported("pw_kernel_size", (v) => v === 1, "the projection is 1×1");
    return { type, outChannels, stride: int("stride", 1, 1), kernel: int("exp_kernel_size", undefined, 1), expRatio: ratio("exp_ratio"), forceInChannels: int("force_in_chs", 0), noskip };
  }
  if (type === "uir") {
    return {
      type,
      outChannels,
      stride: int("stride", 1, 1),
      dwStart: int("dw_kernel_size_start", 0),
      dwMid: int("dw_kernel_size_mid", 0),
      dwEnd: int("dw_kernel_size_end", 0),
      expRatio: ratio("exp_ratio"),
      noskip,
    };
  }
  if (type === "mqa") {
    if (int("stride", 1, 1) !== 1) throw new ConfigError(`${where}.stride must be 1 for an attention block`);
    const headDim = int("key_dim", undefined, 1);
    if (int("value_dim", headDim, 1) !== headDim) throw new ConfigError(`${where}: key_dim and value_dim must be equal`);
    return { type, outChannels, numHeads: int("num_heads", undefined, 1), headDim, kvStride: int("kv_stride", 1, 1), kvKernel: int("dw_kernel_size", 3, 1), noskip };
  }
  throw new ConfigError(`${where}.block_type ${JSON.stringify(type)} is not supported (MobileNet-v5 uses "er", "uir" and "mqa")`);
}

/** timm kwargs this runtime reads; the others listed change nothing at inference (dropout, classifier head). */
const KNOWN_MODEL_ARGS = new Set([
  "block_args", "stem_size", "fix_stem", "stem_bias", "msfa_indices", "msfa_output_resolution", "layer_scale_init_value", "pad_type", "in_chans",
  "drop_rate", "drop_path_rate", "num_classes", "global_pool", "num_features",
]);

/** The tower of a config.json `vision_config` object. */
export function parseVisionTowerConfig(vision: Json | undefined, where = "config.json vision_config"): VisionTowerConfig {
  if (!vision) throw new ConfigError(`config.json has no vision_config, so this model takes no image input`);
  const arch = vision.architecture ?? "mobilenetv5_300m_enc";
  if (arch !== "mobilenetv5_300m_enc") throw new ConfigError(`${where}.architecture ${JSON.stringify(arch)} is not supported (expected "mobilenetv5_300m_enc")`);
  const args = (vision.model_args ?? {}) as Json;
  if (typeof args !== "object" || Array.isArray(args)) throw new ConfigError(`${where}.model_args must be an object`);
  for (const key of Object.keys(args)) {
    if (!KNOWN_MODEL_ARGS.has(key)) throw new ConfigError(`${where}.model_args.${key} is not supported`);
  }
  const rawStages = (args.block_args ?? MOBILENETV5_300M.map((stage) => stage.map(decodeArchString))) as unknown;
  if (!Array.isArray(rawStages) || rawStages.length === 0 || !rawStages.every((s) => Array.isArray(s) && s.length > 0)) {
    throw new ConfigError(`${where}.model_args.block_args must be a non-empty list of non-empty stages`);
  }
  const stages = (rawStages as unknown[][]).map((stage, i) => stage.map((b, k) => parseBlock(b, `${where}.model_args.block_args[${i}][${k}]`)));
  const stem = args.stem_size ?? 64;
  if (!Number.isInteger(stem) || (stem as number) < 1) throw new ConfigError(`${where}.model_args.stem_size must be a positive integer`);
  if ((args.pad_type ?? "same") !== "same") throw new ConfigError(`${where}.model_args.pad_type ${JSON.stringify(args.pad_type)} is not supported (mobilenetv5_300m_enc pads "same")`);
  if ((args.in_chans ?? 3) !== 3) throw new ConfigError(`${where}.model_args.in_chans must be 3 (RGB)`);
  const features = stages.length + 1;
  const indices = (args.msfa_indices ?? [-2, -1]) as unknown;
  if (!Array.isArray(indices) || indices.length === 0 || !indices.every((i) => Number.isInteger(i) && i >= -features && i < features)) {
    throw new ConfigError(`${where}.model_args.msfa_indices must list feature indices in [${-features}, ${features})`);
  }
  const resolution = args.msfa_output_resolution ?? 16;
  if (!Number.isInteger(resolution) || (resolution as number) < 1) throw new ConfigError(`${where}.model_args.msfa_output_resolution must be a positive integer`);
  const hidden = vision.hidden_size ?? 2048;
  if (hidden !== 2048) throw new ConfigError(`${where}.hidden_size is ${JSON.stringify(hidden)}, but mobilenetv5_300m_enc always emits 2048 channels`);
  return {
    stemSize: args.fix_stem === true ? (stem as number) : makeDivisible(stem as number),
    stages,
    msfaIndices: (indices as number[]).map((i) => (i < 0 ? features + i : i)),
    outputResolution: resolution as number,
    outChannels: 2048,
    layerScale: args.layer_scale_init_value !== null,
  };
}
