// Mobile multi-query attention (spec §1.3): RMSNorm, per-pixel queries in `numHeads` heads, one
// shared key/value head computed from a depthwise-downsampled copy of the map when kvStride > 1,
// softmax(q·k/√d)·v over every key position (no mask, no positional term), 1×1 output projection,
// layer scale and a residual around the whole block.
import type { Backend } from "../../kernels/backend.js";
import type { Tensor } from "../../kernels/dtype.js";
import type { FeatureMap } from "../../kernels/resize.js";
import type { AttentionSpec } from "./config.js";
import { convSame, normAct, pointwise, scaleAndAdd, type WeightSource } from "./ops.js";

/** How keys (or values) are made: optional depthwise downsampling + RMSNorm, then a 1×1 projection to one head. */
interface KeyValueWeights {
  downConv?: Tensor; // [C, 1, k, k]
  norm?: Float32Array;
  proj: Tensor; // [d, C, 1, 1]
}

export interface AttentionWeights {
  spec: AttentionSpec;
  residual: boolean;
  norm: Float32Array;
  query: Tensor; // [h·d, C, 1, 1]
  key: KeyValueWeights;
  value: KeyValueWeights;
  output: Tensor; // [out, h·d, 1, 1]
  gamma?: Float32Array;
}

export function loadAttention(src: WeightSource, prefix: string, spec: AttentionSpec, inChannels: number, layerScale: boolean): AttentionWeights {
  const C = inChannels;
  const d = spec.headDim;
  const kv = (name: string): KeyValueWeights => ({
    ...(spec.kvStride > 1 && {
      downConv: src.load(`${prefix}.attn.${name}.down_conv.weight`, [C, 1, spec.kvKernel, spec.kvKernel]),
      norm: src.loadF32(`${prefix}.attn.${name}.norm.weight`, [C]),
    }),
    proj: src.load(`${prefix}.attn.${name}.proj.weight`, [d, C, 1, 1]),
  });
  return {
    spec,
    residual: inChannels === spec.outChannels && !spec.noskip,
    norm: src.loadF32(`${prefix}.norm.weight`, [C]),
    query: src.load(`${prefix}.attn.query.proj.weight`, [spec.numHeads * d, C, 1, 1]),
    key: kv("key"),
    value: kv("value"),
    output: src.load(`${prefix}.attn.output.proj.weight`, [spec.outChannels, spec.numHeads * d, 1, 1]),
    gamma: layerScale ? src.loadF32(`${prefix}.layer_scale.gamma`, [spec.outChannels]) : undefined,
  };
}

function keysOrValues(b: Backend, x: FeatureMap, w: KeyValueWeights, stride: number): FeatureMap {
  const source = w.downConv ? normAct(b, convSame(b, x, w.downConv, stride, true), w.norm!, false) : x;
  return pointwise(b, source, w.proj);
}

export function mobileAttention(b: Backend, x: FeatureMap, w: AttentionWeights): FeatureMap {
  const { numHeads, headDim, kvStride } = w.spec;
  const normed = normAct(b, { ...x, data: new Float32Array(x.data) }, w.norm, false);
  const q = pointwise(b, normed, w.query);
  const k = keysOrValues(b, normed, w.key, kvStride);
  const v = keysOrValues(b, normed, w.value, kvStride);
  const queries = x.height * x.width;
  const keys = k.height * k.width;
  // Every query and key sits at position 0, so the causal test never masks: full attention.
  const attended = b.attention(
    q.data,
    new Int32Array(queries),
    { keys: k.data, values: v.data, positions: new Int32Array(keys), length: keys },
    { numHeads, numKvHeads: 1, headDim, scale: 1 / Math.sqrt(headDim), window: 0 },
  );
  const y = pointwise(b, { ...x, data: attended, channels: numHeads * headDim }, w.output);
  return scaleAndAdd(y, w.gamma, w.residual ? x : undefined);
}
