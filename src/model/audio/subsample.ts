// Sub-sample convolution projection (SSCP, vision-audio spec §2.3.1): the log-mel image [T, 128] goes
// through two stride-2 3×3 convolutions (time padded by two frames at the end, so each output frame
// looks slightly ahead; frequency padded by one on each side), each followed by a cumulative group
// norm and ReLU, then the [T/4, F/4 · C] frames (frequency-major) are projected to the hidden size.
import type { Backend } from "../../kernels/backend.js";
import type { AudioConfig } from "./config.js";
import type { AudioTowerWeights } from "./weights.js";

/** [frames, inputFeatSize] features → [T2, hidden] frames. */
export function subsample(b: Backend, c: AudioConfig, w: AudioTowerWeights, features: Float32Array, frames: number): { x: Float32Array; frames: number } {
  let x = features;
  let height = frames;
  let width = c.inputFeatSize;
  c.sscp.forEach((s, i) => {
    const conv = b.conv2d(x, w.sscp[i]!.conv, { height, width, stride: s.stride, pad: [0, s.kernel[0] - 1, 1, 1] });
    b.cumulativeGroupNorm(conv.out, conv.width * s.channels, w.sscp[i]!.norm, c.sscpEps);
    for (let j = 0; j < conv.out.length; j++) if (conv.out[j]! < 0) conv.out[j] = 0;
    ({ out: x, height, width } = conv);
  });
  return { x: b.matmul(x, height, w.inputProjection), frames: height };
}
