// Universal Inverted Residual (MobileNet-v4/v5): optional depthwise conv before the expansion
// (RMSNorm, no activation), 1×1 expansion (RMSNorm + GELU), optional depthwise conv in the expanded
// width (RMSNorm + GELU, where the stride is), 1×1 projection (RMSNorm), optional depthwise conv at
// the end (RMSNorm), layer scale, residual when the shape is kept (spec §1.3). With no depthwise
// convs it is the tower's FFN, and the fusion adapter's.
import type { Backend } from "../../kernels/backend.js";
import type { FeatureMap } from "../../kernels/resize.js";
import { makeDivisible, type InvertedResidualSpec } from "./config.js";
import { convSame, loadConvNorm, normAct, pointwise, scaleAndAdd, type ConvNorm, type WeightSource } from "./ops.js";

export interface InvertedResidualWeights {
  residual: boolean;
  dwStart?: ConvNorm & { stride: number };
  pwExp: ConvNorm;
  dwMid?: ConvNorm & { stride: number };
  pwProj: ConvNorm;
  dwEnd?: ConvNorm & { stride: number };
  gamma?: Float32Array;
}

export function loadInvertedResidual(src: WeightSource, prefix: string, spec: InvertedResidualSpec, inChannels: number, layerScale: boolean): InvertedResidualWeights {
  const mid = makeDivisible(inChannels * spec.expRatio);
  const out = spec.outChannels;
  // The stride goes to the first depthwise conv among mid, start, end that exists (timm's order).
  const strideAt = spec.dwMid ? "mid" : spec.dwStart ? "start" : "end";
  const dw = (name: string, k: number, channels: number, at: string) =>
    k ? { ...loadConvNorm(src, `${prefix}.${name}`, channels, 1, k), stride: strideAt === at ? spec.stride : 1 } : undefined;
  return {
    residual: spec.stride === 1 && inChannels === out && !spec.noskip,
    dwStart: dw("dw_start", spec.dwStart, inChannels, "start"),
    pwExp: loadConvNorm(src, `${prefix}.pw_exp`, mid, inChannels, 1),
    dwMid: dw("dw_mid", spec.dwMid, mid, "mid"),
    pwProj: loadConvNorm(src, `${prefix}.pw_proj`, out, mid, 1),
    dwEnd: dw("dw_end", spec.dwEnd, out, "end"),
    gamma: layerScale ? src.loadF32(`${prefix}.layer_scale.gamma`, [out]) : undefined,
  };
}

export function invertedResidual(b: Backend, x: FeatureMap, w: InvertedResidualWeights): FeatureMap {
  let h = x;
  if (w.dwStart) h = normAct(b, convSame(b, h, w.dwStart.conv, w.dwStart.stride, true), w.dwStart.norm, false);
  h = normAct(b, pointwise(b, h, w.pwExp.conv), w.pwExp.norm, true);
  if (w.dwMid) h = normAct(b, convSame(b, h, w.dwMid.conv, w.dwMid.stride, true), w.dwMid.norm, true);
  h = normAct(b, pointwise(b, h, w.pwProj.conv), w.pwProj.norm, false);
  if (w.dwEnd) h = normAct(b, convSame(b, h, w.dwEnd.conv, w.dwEnd.stride, true), w.dwEnd.norm, false);
  return scaleAndAdd(h, w.gamma, w.residual ? x : undefined);
}
