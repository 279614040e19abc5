// The Gemma 3n text decoder, top to bottom (text-decoder spec §2): embed → per-layer inputs → AltUp
// streams → L × (predict, attention + LAuReL, MLP, correct, per-layer injection) → merge → tied logits.
import { InputError } from "../../errors.js";
import type { Backend } from "../../kernels/backend.js";
import type { GeluNumerics } from "../../kernels/gelu-f16-table.js";
import type { ModelConfig, TextConfig } from "../config.js";
import type { SoftTokens } from "../multimodal.js";
import { correct, initStreams, mergeStreams, predict, type Streams } from "./altup.js";
import { attention } from "./attention.js";
import type { KVCache } from "./kv-cache.js";
import { laurel } from "./laurel.js";
import { mlp, normalQuantile } from "./mlp.js";
import { perLayerInjection, perLayerInputs } from "./per-layer-inputs.js";
import type { HardTokenWeights, TextWeights } from "./weights.js";

export interface ForwardOptions {
  /** Compute logits for every position (default: only the last one). */
  allLogits?: boolean;
  /** Called with the streams after each layer, for checking against reference dumps. */
  onLayer?: (layer: number, streams: Streams) => void;
  /** Embeddings that replace the token embeddings at some of these ids' positions (image/audio soft tokens). */
  soft?: SoftTokens;
}

export interface ForwardResult {
  /** [n, vocab] for the positions asked for. */
  logits: Float32Array;
  /** [n, D] final hidden state (after the final norm) for the same positions. */
  hidden: Float32Array;
}

// The element-wise loops of a layer live in these helpers, not in `layer`: V8 (Node 20) compiled
// `layer` on the stack at its first loop, before the rest of it had ever run, and then left that code
// for the interpreter at every call — a third of a decode step's JavaScript time.

/** attn ← (attn + residual + laurel) / √2: the attention and LAuReL branches averaged onto the residual. */
function averageBranches(attn: Float32Array, residual: Float32Array, laurel: Float32Array): void {
  const invSqrt2 = 1 / Math.SQRT2;
  for (let i = 0; i < attn.length; i++) attn[i] = (attn[i]! + residual[i]! + laurel[i]!) * invSqrt2;
}

function addInto(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + y[i]!;
}

export class TextDecoder {
  private readonly c: TextConfig;
  private readonly sparsityZ: (number | null)[];
  /** First layer that reads another layer's KV cache: from here on only the last token matters. */
  private readonly firstShared: number;

  constructor(
    readonly config: ModelConfig,
    readonly weights: TextWeights,
    readonly backend: Backend,
    /** How the MLP and per-layer-input GELUs are evaluated ("f16-table": as llama.cpp does). */
    readonly gelu: GeluNumerics = "exact",
  ) {
    this.c = config.text;
    this.sparsityZ = this.c.activationSparsity.map((s) => (s > 0 ? Math.fround(normalQuantile(Math.fround(s))) : null));
    this.firstShared = this.c.numLayers - this.c.numKvSharedLayers;
  }

  /** Runs `ids` (at the cache's next positions) through the decoder, appending to `cache`. */
  forward(ids: Int32Array, cache: KVCache, opts: ForwardOptions = {}): ForwardResult {
    const b = this.backend;
    const c = this.c;
    const D = c.hiddenSize;
    let tokens = ids.length;
    if (tokens === 0) throw new InputError("no tokens to run");
    if (cache.config !== c) throw new InputError("this KV cache was made for another MatFormer slice of the model; start a new cache (or session)");
    const positions = Int32Array.from({ length: tokens }, (_, t) => cache.position + t);
    const embeds = this.embed(ids);
    opts.soft?.positions.forEach((p, k) => embeds.set(opts.soft!.values.subarray(k * D, (k + 1) * D), p * D));
    let pli = perLayerInputs(b, ids, embeds, this.weights, c);
    let x = initStreams(b, embeds, tokens, this.weights.altupProjections, D);
    let pos = positions;

    for (let l = 0; l < c.numLayers; l++) {
      if (l === this.firstShared && !opts.allLogits && tokens > 1 && !opts.onLayer) {
        // Exact shortcut: KV-shared layers write no cache, so earlier tokens' outputs are never used.
        const keep = (a: Float32Array, width: number) => a.slice((tokens - 1) * width);
        x = x.map((s) => keep(s, D));
        pli = keep(pli, c.numLayers * c.hiddenSizePerLayerInput);
        pos = pos.slice(tokens - 1);
        tokens = 1;
      }
      x = this.layer(l, x, pli, pos, tokens, cache);
      opts.onLayer?.(l, x);
    }
    cache.commit(positions.length);

    let hidden = mergeStreams(b, x, tokens, this.weights.altupUnembedProjections, D);
    if (!opts.allLogits && tokens > 1) {
      hidden = hidden.slice((tokens - 1) * D);
      tokens = 1;
    }
    b.rmsNorm(hidden, D, this.weights.finalNorm, c.rmsNormEps, hidden);
    const logits = b.matmul(hidden, tokens, this.weights.embedTokens);
    if (c.finalLogitSoftcap !== null) b.softcap(logits, c.finalLogitSoftcap);
    return { logits, hidden };
  }

  private layer(l: number, x: Streams, pli: Float32Array, positions: Int32Array, tokens: number, cache: KVCache): Streams {
    const b = this.backend;
    const c = this.c;
    const D = c.hiddenSize;
    const w = this.weights.layers[l]!;
    const predicted = predict(b, x, w.altup, c);
    const active = predicted[c.altupActiveIdx]!;
    const normed = b.rmsNorm(active, D, w.inputNorm, c.rmsNormEps);
    const laurelOut = laurel(b, normed, tokens, w.laurel, c);
    const attn = attention(b, normed, positions, l, w, cache.of(l), c);
    b.rmsNorm(attn, D, w.postAttentionNorm, c.rmsNormEps, attn);
    averageBranches(attn, active, laurelOut);
    const ffIn = b.rmsNorm(attn, D, w.preFeedforwardNorm, c.rmsNormEps);
    const ff = mlp(b, ffIn, tokens, w, c.intermediateSize[l]!, this.sparsityZ[l]!, this.gelu);
    b.rmsNorm(ff, D, w.postFeedforwardNorm, c.rmsNormEps, ff);
    addInto(attn, ff);
    const corrected = correct(b, predicted, attn, w.altup, c);
    const injection = perLayerInjection(b, corrected[c.altupActiveIdx]!, pli, l, tokens, w, c, this.gelu);
    corrected.forEach((s, k) => k !== c.altupActiveIdx && addInto(s, injection));
    return corrected;
  }

  /** Token embeddings: text ids scaled by √D; vision/audio hard-token ids through their embedders. */
  embed(ids: Int32Array): Float32Array {
    const c = this.c;
    const D = c.hiddenSize;
    const out = new Float32Array(ids.length * D);
    const scale = Math.fround(Math.sqrt(D));
    ids.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
        throw new InputError(`token id ${id} at position ${t} is out of range: the vocabulary has ${c.vocabSize} ids`);
      }
      const row = out.subarray(t * D, (t + 1) * D);
      const hard = id >= c.vocabSizePerLayerInput ? this.weights.hardTokens.find((h) => id >= h.config.vocabOffset && id < h.config.vocabOffset + h.config.vocabSize) : undefined;
      if (hard) {
        row.set(this.embedHardToken(hard, id - hard.config.vocabOffset));
        return;
      }
      this.backend.row(this.weights.embedTokens, id, row);
      for (let i = 0; i < D; i++) row[i] = row[i]! * scale;
    });
    return out;
  }

  /** RMSNorm_∅(W · RMSNorm_hard(E[id])): the multimodal embedder's hard-token path (spec §2.11). */
  private embedHardToken(h: HardTokenWeights, index: number): Float32Array {
    const b = this.backend;
    const v = b.rmsNorm(h.embedding.subarray(index * h.width, (index + 1) * h.width), h.width, h.hardNorm, h.config.rmsNormEps);
    const projected = b.matmul(v, 1, h.projection);
    return b.rmsNorm(projected, this.c.hiddenSize, null, h.config.rmsNormEps, projected);
  }
}
