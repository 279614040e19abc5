// The USM Conformer audio encoder (`model.audio_tower`, vision-audio spec §2.3): sub-sampling
// convolutions, the Conformer blocks, then every `reduction_factor`-th frame becomes a soft token.
import type { Backend } from "../../kernels/backend.js";
import type { AudioConfig } from "./config.js";
import { conformerBlock, relativePositionTable } from "./conformer.js";
import { subsample } from "./subsample.js";
import type { AudioTowerWeights } from "./weights.js";

export interface EncodedAudio {
  /** [tokens, hidden]; padded rows are zero. */
  hidden: Float32Array;
  /** 1 where the token comes from padding (the reference's audio_mel_mask). */
  padded: Uint8Array;
}

export class AudioTower {
  /** Each layer's relative-position embeddings (they depend on the weights only). */
  private readonly relative: Float32Array[];

  constructor(private readonly b: Backend, readonly config: AudioConfig, private readonly w: AudioTowerWeights) {
    this.relative = w.layers.map((l) => relativePositionTable(b, config, l.attention.positionProjection));
  }

  /** Encodes one clip's features [frames, inputFeatSize], of which the first `validFrames` are real. */
  encode(features: Float32Array, frames: number, validFrames: number): EncodedAudio {
    const c = this.config;
    const D = c.hiddenSize;
    const { x, frames: T } = subsample(this.b, c, this.w, features, frames);
    // A sub-sampled frame is real when the input frame at the start of its receptive field is.
    const stride = c.sscp.reduce((s, conv) => s * conv.stride[0], 1);
    const valid = Uint8Array.from({ length: T }, (_, t) => (Math.min(t * stride, frames - 1) < validFrames ? 1 : 0));
    this.w.layers.forEach((layer, i) => conformerBlock(this.b, c, layer, this.relative[i]!, x, valid));
    const tokens = Math.ceil(T / c.reductionFactor);
    const hidden = new Float32Array(tokens * D);
    const padded = new Uint8Array(tokens);
    for (let j = 0; j < tokens; j++) {
      const t = j * c.reductionFactor;
      if (valid[t]) hidden.set(x.subarray(t * D, (t + 1) * D), j * D);
      else padded[j] = 1;
    }
    return { hidden, padded };
  }
}
