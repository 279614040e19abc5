// EdgeResidual (fused inverted bottleneck), stage 0: a full k×k expansion convolution, RMSNorm +
// GELU, a 1×1 projection and RMSNorm; residual when the shape is kept. No layer scale (spec §1.3).
import type { Backend } from "../../kernels/backend.js";
import type { Tensor } from "../../kernels/dtype.js";
import type { FeatureMap } from "../../kernels/resize.js";
import { makeDivisible, type EdgeResidualSpec } from "./config.js";
import { convSame, normAct, pointwise, scaleAndAdd, type WeightSource } from "./ops.js";

export interface EdgeResidualWeights {
  spec: EdgeResidualSpec;
  residual: boolean;
  convExp: Tensor; // [mid, in, k, k]
  bn1: Float32Array;
  convPwl: Tensor; // [out, mid, 1, 1]
  bn2: Float32Array;
}

export function loadEdgeResidual(src: WeightSource, prefix: string, spec: EdgeResidualSpec, inChannels: number): EdgeResidualWeights {
  const mid = makeDivisible((spec.forceInChannels || inChannels) * spec.expRatio);
  const out = spec.outChannels;
  return {
    spec,
    residual: spec.stride === 1 && inChannels === out && !spec.noskip,
    convExp: src.load(`${prefix}.conv_exp.weight`, [mid, inChannels, spec.kernel, spec.kernel]),
    bn1: src.loadF32(`${prefix}.bn1.weight`, [mid]),
    convPwl: src.load(`${prefix}.conv_pwl.weight`, [out, mid, 1, 1]),
    bn2: src.loadF32(`${prefix}.bn2.weight`, [out]),
  };
}

export function edgeResidual(b: Backend, x: FeatureMap, w: EdgeResidualWeights): FeatureMap {
  const expanded = normAct(b, convSame(b, x, w.convExp, w.spec.stride, false), w.bn1, true);
  const y = normAct(b, pointwise(b, expanded, w.convPwl), w.bn2, false);
  return w.residual ? scaleAndAdd(y, undefined, x) : y;
}
