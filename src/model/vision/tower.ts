// The MobileNet-v5 vision tower (timm `mobilenetv5_300m_enc`, spec §1.4): a 3×3 stride-2 stem
// (with bias, RMSNorm, GELU), stages of edge-residual, inverted-residual and multi-query attention
// blocks, and the fusion adapter over the chosen stage outputs. Pixels [H, W, 3] in [0, 1] →
// soft tokens [R·R, 2048], row-major over the output grid.
import type { Backend } from "../../kernels/backend.js";
import type { Tensor } from "../../kernels/dtype.js";
import type { FeatureMap } from "../../kernels/resize.js";
import { mobileAttention, loadAttention, type AttentionWeights } from "./attention.js";
import type { BlockSpec, VisionTowerConfig } from "./config.js";
import { edgeResidual, loadEdgeResidual, type EdgeResidualWeights } from "./edge-residual.js";
import { invertedResidual, loadInvertedResidual, type InvertedResidualWeights } from "./inverted-residual.js";
import { fuse, loadFusion, type FusionWeights } from "./msfa.js";
import { convSame, normAct, type WeightSource } from "./ops.js";

const PREFIX = "model.vision_tower.timm_model";

type Block =
  | { type: "er"; w: EdgeResidualWeights }
  | { type: "uir"; w: InvertedResidualWeights }
  | { type: "mqa"; w: AttentionWeights };

export interface VisionTowerWeights {
  stem: { conv: Tensor; bias: Float32Array; norm: Float32Array };
  stages: Block[][];
  msfa: FusionWeights;
}

function loadBlock(src: WeightSource, prefix: string, spec: BlockSpec, inChannels: number, layerScale: boolean): Block {
  switch (spec.type) {
    case "er": return { type: "er", w: loadEdgeResidual(src, prefix, spec, inChannels) };
    case "uir": return { type: "uir", w: loadInvertedResidual(src, prefix, spec, inChannels, layerScale) };
    case "mqa": return { type: "mqa", w: loadAttention(src, prefix, spec, inChannels, layerScale) };
  }
}

/** Reads every tower tensor, checking each shape against the architecture. */
export function loadVisionTower(src: WeightSource, cfg: VisionTowerConfig): VisionTowerWeights {
  const stem = cfg.stemSize;
  const featureChannels = [stem];
  let channels = stem;
  const stages = cfg.stages.map((specs, s) =>
    specs.map((spec, i) => {
      const block = loadBlock(src, `${PREFIX}.blocks.${s}.${i}`, spec, channels, cfg.layerScale);
      channels = spec.outChannels;
      if (i === specs.length - 1) featureChannels.push(channels);
      return block;
    }),
  );
  const fusedChannels = cfg.msfaIndices.reduce((sum, f) => sum + featureChannels[f]!, 0);
  return {
    stem: {
      conv: src.load(`${PREFIX}.conv_stem.conv.weight`, [stem, 3, 3, 3]),
      // timm before 1.0.17 had no stem bias; a checkpoint converted for it has none (spec §8).
      bias: src.has(`${PREFIX}.conv_stem.conv.bias`) ? src.loadF32(`${PREFIX}.conv_stem.conv.bias`, [stem]) : new Float32Array(stem),
      norm: src.loadF32(`${PREFIX}.conv_stem.bn.weight`, [stem]),
    },
    stages,
    msfa: loadFusion(src, `${PREFIX}.msfa`, cfg, fusedChannels),
  };
}

/** Every tower tensor's name and shape under this architecture (for synthetic checkpoints). */
export function visionTowerShapes(cfg: VisionTowerConfig): { name: string; shape: number[] }[] {
  const shapes: { name: string; shape: number[] }[] = [];
  const record = (name: string, shape?: readonly number[]) => {
    shapes.push({ name, shape: [...shape!] });
    return new Float32Array(0);
  };
  loadVisionTower({ has: () => true, loadF32: record, load: (name, shape) => ({ dtype: "f32", shape: shape!, data: record(name, shape) }) }, cfg);
  return shapes;
}

function runBlock(b: Backend, x: FeatureMap, block: Block): FeatureMap {
  switch (block.type) {
    case "er": return edgeResidual(b, x, block.w);
    case "uir": return invertedResidual(b, x, block.w);
    case "mqa": return mobileAttention(b, x, block.w);
  }
}

export class VisionTower {
  constructor(readonly config: VisionTowerConfig, readonly weights: VisionTowerWeights, readonly backend: Backend) {}

  /** Pixels [H, W, 3] → the fusion adapter's output [R, R, 2048]. `lap` is told when each part ends ("stem", "stage 0", …, "msfa"). */
  forward(pixels: FeatureMap, lap?: (part: string) => void): FeatureMap {
    const b = this.backend;
    const { stem, stages, msfa } = this.weights;
    let x = convSame(b, pixels, stem.conv, 2, false);
    for (let i = 0; i < x.data.length; i++) x.data[i] = x.data[i]! + stem.bias[i % x.channels]!;
    x = normAct(b, x, stem.norm, true);
    lap?.("stem");
    const features = [x];
    stages.forEach((stage, s) => {
      for (const block of stage) x = runBlock(b, x, block);
      features.push(x);
      lap?.(`stage ${s}`);
    });
    const out = fuse(b, this.config.msfaIndices.map((f) => features[f]!), msfa);
    lap?.("msfa");
    return out;
  }
}
