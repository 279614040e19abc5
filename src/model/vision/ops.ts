// The tower's building blocks over channels-last feature maps [H, W, C]: convolutions with
// TensorFlow-style "same" padding, RMSNorm2d (per pixel, over channels) and GELU. 1×1 convolutions
// are matmuls over the H·W pixels.
import type { Checkpoint } from "../../checkpoint/checkpoint.js";
import type { Backend } from "../../kernels/backend.js";
import type { Tensor } from "../../kernels/dtype.js";
import type { FeatureMap } from "../../kernels/resize.js";
import { TOWER_EPS } from "./config.js";

/** Where the tower's weights come from: a checkpoint, or random tensors for benchmarks. */
export type WeightSource = Pick<Checkpoint, "has" | "load" | "loadF32">;

/** TF "same": output ⌈n/s⌉, total padding split with the odd pixel after (bottom/right). */
export function samePadding(n: number, k: number, s: number): [number, number] {
  const total = Math.max((Math.ceil(n / s) - 1) * s + k - n, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** A k×k convolution with "same" padding: depthwise when the weight is [C, 1, k, k], otherwise full. */
export function convSame(b: Backend, x: FeatureMap, w: Tensor, stride: number, depthwise: boolean): FeatureMap {
  const k = w.shape[2]!;
  const [top, bottom] = samePadding(x.height, k, stride);
  const [left, right] = samePadding(x.width, k, stride);
  const shape = { height: x.height, width: x.width, stride: [stride, stride] as [number, number], pad: [top, bottom, left, right] as [number, number, number, number] };
  const r = depthwise ? b.depthwiseConv2d(x.data, w, shape) : b.conv2d(x.data, w, shape);
  return { data: r.out, height: r.height, width: r.width, channels: depthwise ? x.channels : w.shape[0]! };
}

/** A 1×1 convolution, weight [out, in, 1, 1]. */
export function pointwise(b: Backend, x: FeatureMap, w: Tensor): FeatureMap {
  return { ...x, data: b.matmul(x.data, x.height * x.width, w), channels: w.shape[0]! };
}

/** RMSNorm2d, then GELU when `act`; in place. */
export function normAct(b: Backend, x: FeatureMap, weight: Float32Array, act: boolean): FeatureMap {
  b.rmsNorm(x.data, x.channels, weight, TOWER_EPS, x.data);
  if (act) b.gelu(x.data);
  return x;
}

/** A convolution and its norm, as timm's ConvNormAct holds them (`<prefix>.conv.weight`, `<prefix>.bn.weight`). */
export interface ConvNorm {
  conv: Tensor;
  norm: Float32Array;
}

export function loadConvNorm(src: WeightSource, prefix: string, out: number, inPerGroup: number, k: number): ConvNorm {
  return { conv: src.load(`${prefix}.conv.weight`, [out, inPerGroup, k, k]), norm: src.loadF32(`${prefix}.bn.weight`, [out]) };
}

/** y = γ ⊙ x (+ shortcut), in place in x. */
export function scaleAndAdd(x: FeatureMap, gamma: Float32Array | undefined, shortcut: FeatureMap | undefined): FeatureMap {
  const C = x.channels;
  const d = x.data;
  for (let i = 0; i < d.length; i++) {
    let v = gamma ? d[i]! * gamma[i % C]! : d[i]!;
    if (shortcut) v += shortcut.data[i]!;
    d[i] = v;
  }
  return x;
}
