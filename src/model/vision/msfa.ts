// Multi-scale fusion adapter (spec §1.5): the chosen feature maps are brought to the size of the
// first by nearest upsampling, concatenated on channels, passed through an inverted-residual FFN
// (expansion 2, no depthwise convs, no layer scale, no residual), pooled (or, when the size is not
// a multiple, bilinearly resized) to the output grid, and RMS-normalised.
import type { Backend } from "../../kernels/backend.js";
import { averagePool, resizeBilinear, resizeNearest, type FeatureMap } from "../../kernels/resize.js";
import type { VisionTowerConfig } from "./config.js";
import { invertedResidual, loadInvertedResidual, type InvertedResidualWeights } from "./inverted-residual.js";
import { normAct, type WeightSource } from "./ops.js";

export interface FusionWeights {
  ffn: InvertedResidualWeights;
  norm: Float32Array;
  resolution: number;
}

export function loadFusion(src: WeightSource, prefix: string, cfg: VisionTowerConfig, inChannels: number): FusionWeights {
  const ffnSpec = { type: "uir" as const, outChannels: cfg.outChannels, stride: 1, dwStart: 0, dwMid: 0, dwEnd: 0, expRatio: 2, noskip: true };
  return {
    ffn: loadInvertedResidual(src, `${prefix}.ffn`, ffnSpec, inChannels, false),
    norm: src.loadF32(`${prefix}.norm.weight`, [cfg.outChannels]),
    resolution: cfg.outputResolution,
  };
}

function concatChannels(maps: FeatureMap[]): FeatureMap {
  const { height, width } = maps[0]!;
  const channels = maps.reduce((s, m) => s + m.channels, 0);
  const data = new Float32Array(height * width * channels);
  for (let p = 0; p < height * width; p++) {
    let at = p * channels;
    for (const m of maps) {
      data.set(m.data.subarray(p * m.channels, (p + 1) * m.channels), at);
      at += m.channels;
    }
  }
  return { data, height, width, channels };
}

export function fuse(b: Backend, features: FeatureMap[], w: FusionWeights): FeatureMap {
  const { height, width } = features[0]!;
  const resized = features.map((f) => (f.height < height || f.width < width ? resizeNearest(f, height, width) : f));
  let y = invertedResidual(b, concatChannels(resized), w.ffn);
  const R = w.resolution;
  if (height !== R || width !== R) {
    y = height % R === 0 && width % R === 0 ? averagePool(y, height / R, width / R) : resizeBilinear(y, R, R);
  }
  return normAct(b, y, w.norm, false);
}
