// The audio tower's weights (`model.audio_tower.*`), read by canonical name and checked against
// audio_config. Matrices keep their stored dtype; norms and small vectors are float32.
import type { Checkpoint } from "../../checkpoint/checkpoint.js";
import { heapStorage, type Storage, type Tensor } from "../../kernels/dtype.js";
import type { AudioConfig } from "./config.js";

export interface FeedForwardWeights {
  preNorm: Float32Array;
  up: Tensor; // [4D, D]
  down: Tensor; // [D, 4D]
  postNorm: Float32Array;
}

export interface ConformerWeights {
  ffwStart: FeedForwardWeights;
  attention: {
    preNorm: Float32Array;
    /** Raw per-dimension query scale [headDim]; softplus is applied at run time. */
    perDimScale: Float32Array;
    positionProjection: Tensor; // [D, D]
    q: Tensor;
    k: Tensor;
    v: Tensor;
    post: Tensor;
    postNorm: Float32Array;
  };
  lightConv: {
    preNorm: Float32Array;
    linearStart: Tensor; // [2D, D]
    depthwise: Tensor; // [D, 1, K]
    convNorm: Float32Array;
    linearEnd: Tensor; // [D, D]
  };
  ffwEnd: FeedForwardWeights;
  norm: Float32Array;
}

export interface AudioTowerWeights {
  sscp: { conv: Tensor; norm: Float32Array }[];
  inputProjection: Tensor; // [D, F2·C2]
  layers: ConformerWeights[];
}

const P = "model.audio_tower.";

/** Reads the tower; matrices go into `storage` (the backend's kernel memory), in their stored dtype. */
export function loadAudioTowerWeights(ck: Pick<Checkpoint, "load" | "loadF32">, c: AudioConfig, storage: Storage = heapStorage): AudioTowerWeights {
  const D = c.hiddenSize;
  const mat = (name: string, shape: number[]) => ck.load(P + name, shape, undefined, storage);
  const vec = (name: string, n: number) => ck.loadF32(P + name, [n]);
  let freq = c.inputFeatSize;
  let inChannels = 1;
  const sscp = c.sscp.map((s, i) => {
    const name = `subsample_conv_projection.conv_${i}.`;
    const w = { conv: mat(name + "conv.weight", [s.channels, inChannels, ...s.kernel]), norm: vec(name + "norm.weight", s.channels) };
    freq = Math.floor((freq + 2 - s.kernel[1]) / s.stride[1]) + 1; // frequency is padded by one on each side
    inChannels = s.channels;
    return w;
  });
  const ffw = (p: string): FeedForwardWeights => ({
    preNorm: vec(p + "pre_layer_norm.weight", D),
    up: mat(p + "ffw_layer_1.weight", [4 * D, D]),
    down: mat(p + "ffw_layer_2.weight", [D, 4 * D]),
    postNorm: vec(p + "post_layer_norm.weight", D),
  });
  const layers = Array.from({ length: c.numLayers }, (_, i): ConformerWeights => {
    const p = `conformer.${i}.`;
    return {
      ffwStart: ffw(p + "ffw_layer_start."),
      attention: {
        preNorm: vec(p + "attention.pre_attn_norm.weight", D),
        perDimScale: vec(p + "attention.attn.per_dim_scale", D / c.numHeads),
        positionProjection: mat(p + "attention.attn.relative_position_embedding.pos_proj.weight", [D, D]),
        q: mat(p + "attention.attn.q_proj.weight", [D, D]),
        k: mat(p + "attention.attn.k_proj.weight", [D, D]),
        v: mat(p + "attention.attn.v_proj.weight", [D, D]),
        post: mat(p + "attention.post.weight", [D, D]),
        postNorm: vec(p + "attention.post_norm.weight", D),
      },
      lightConv: {
        preNorm: vec(p + "lconv1d.pre_layer_norm.weight", D),
        linearStart: mat(p + "lconv1d.linear_start.weight", [2 * D, D]),
        depthwise: mat(p + "lconv1d.depthwise_conv1d.weight", [D, 1, c.convKernelSize]),
        convNorm: vec(p + "lconv1d.conv_norm.weight", D),
        linearEnd: mat(p + "lconv1d.linear_end.weight", [D, D]),
      },
      ffwEnd: ffw(p + "ffw_layer_end."),
      norm: vec(p + "norm.weight", D),
    };
  });
  return { sscp, inputProjection: mat("subsample_conv_projection.input_proj_linear.weight", [D, freq * inChannels]), layers };
}

/** Every tower tensor's name and shape under this config (for synthetic checkpoints). */
export function audioTowerShapes(c: AudioConfig): { name: string; shape: number[] }[] {
  const shapes: { name: string; shape: number[] }[] = [];
  const record = (name: string, shape?: readonly number[]) => {
    shapes.push({ name, shape: [...shape!] });
    return new Float32Array(0);
  };
  loadAudioTowerWeights({ loadF32: record, load: (name, shape) => ({ dtype: "f32", shape: shape!, data: record(name, shape) }) }, c);
  return shapes;
}
