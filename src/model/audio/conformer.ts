// One Conformer block of the USM audio encoder (vision-audio spec §2.3.2–2.3.3): half-step feed-forward,
// local self-attention with relative positions, light convolution, half-step feed-forward, norm.
// Activations are clamped to ±gradient_clipping before every norm, as the reference does.
import type { Backend } from "../../kernels/backend.js";
import type { AudioConfig } from "./config.js";
import type { ConformerWeights, FeedForwardWeights } from "./weights.js";

function clamp(x: Float32Array, limit: number): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = Math.min(limit, Math.max(-limit, x[i]!));
  return x;
}

/** log(1 + eˣ), linear past 20 as PyTorch's softplus. */
function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/** x += residualWeight · RMS_post(W2 · silu(W1 · RMS_pre(x))). */
function feedForward(b: Backend, c: AudioConfig, w: FeedForwardWeights, x: Float32Array, T: number): void {
  const D = c.hiddenSize;
  const h = b.rmsNorm(clamp(Float32Array.from(x), c.gradientClipping), D, w.preNorm, c.rmsNormEps);
  const up = b.matmul(h, T, w.up);
  b.silu(up);
  const down = clamp(b.matmul(up, T, w.down), c.gradientClipping);
  b.rmsNorm(down, D, w.postNorm, c.rmsNormEps, down);
  const scale = Math.fround(c.residualWeight);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + Math.fround(down[i]! * scale);
}

/**
 * The relative-position embeddings E_r = W_pos · φ(r) for distances r = maxPast … −maxFuture (row 0 is
 * the farthest past), φ being sines then cosines at timescales spread over the whole hidden size.
 * Computed in float32 like the reference.
 */
export function relativePositionTable(b: Backend, c: AudioConfig, positionProjection: ConformerWeights["attention"]["positionProjection"]): Float32Array {
  const D = c.hiddenSize;
  const half = D / 2;
  const increment = Math.log(1e4) / Math.max(half - 1, 1);
  const span = c.maxPast + c.maxFuture + 1;
  const timing = new Float32Array(span * D);
  for (let r = 0; r < span; r++) {
    const distance = c.maxPast - r;
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(distance * Math.fround(Math.exp(Math.fround(i * -increment))));
      timing[r * D + i] = Math.sin(angle);
      timing[r * D + half + i] = Math.cos(angle);
    }
  }
  return b.matmul(timing, span, positionProjection);
}

/** x += RMS_post(W_post · LocalAttention(RMS_pre(x))). Queries are scaled per dimension by softplus(p)/(√d·ln 2). */
function selfAttention(b: Backend, c: AudioConfig, w: ConformerWeights["attention"], rel: Float32Array, x: Float32Array, valid: Uint8Array): void {
  const D = c.hiddenSize;
  const T = valid.length;
  const headDim = D / c.numHeads;
  const h = b.rmsNorm(clamp(Float32Array.from(x), c.gradientClipping), D, w.preNorm, c.rmsNormEps);
  const q = b.matmul(h, T, w.q);
  const k = b.matmul(h, T, w.k);
  const v = b.matmul(h, T, w.v);
  // d^(−1/2) / softplus(0), a float32 constant in the reference; softplus(p) is applied at run time.
  const base = Math.fround(headDim ** -0.5 * Math.fround(1 / Math.fround(softplus(0))));
  const scale = Float32Array.from(w.perDimScale, softplus);
  for (let i = 0; i < q.length; i++) q[i] = Math.fround(q[i]! * base) * scale[i % headDim]!;
  const o = b.localAttention(q, k, v, rel, valid, { numHeads: c.numHeads, headDim, maxPast: c.maxPast, maxFuture: c.maxFuture, softcap: c.logitCap });
  const out = clamp(b.matmul(o, T, w.post), c.gradientClipping);
  b.rmsNorm(out, D, w.postNorm, c.rmsNormEps, out);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + out[i]!;
}

/** x += W_end · silu(RMS_conv(causal depthwise conv(GLU(W_start · RMS_pre(x))))). */
function lightConv(b: Backend, c: AudioConfig, w: ConformerWeights["lightConv"], x: Float32Array, T: number): void {
  const D = c.hiddenSize;
  const g = b.matmul(b.rmsNorm(x, D, w.preNorm, c.rmsNormEps), T, w.linearStart);
  const gated = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < D; i++) gated[t * D + i] = g[t * 2 * D + i]! / (1 + Math.exp(-g[t * 2 * D + D + i]!));
  }
  const conv = clamp(b.depthwiseConv1d(gated, w.depthwise), c.gradientClipping);
  b.rmsNorm(conv, D, w.convNorm, c.rmsNormEps, conv);
  b.silu(conv);
  const out = b.matmul(conv, T, w.linearEnd);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + out[i]!;
}

/** Runs one block on x [T, D] in place; `valid` marks real (unpadded) frames. */
export function conformerBlock(b: Backend, c: AudioConfig, w: ConformerWeights, rel: Float32Array, x: Float32Array, valid: Uint8Array): void {
  const D = c.hiddenSize;
  const T = valid.length;
  feedForward(b, c, w.ffwStart, x, T);
  selfAttention(b, c, w.attention, rel, x, valid);
  // Padded frames are zeroed so that the convolution never carries them into real frames.
  for (let t = 0; t < T; t++) if (!valid[t]) x.fill(0, t * D, (t + 1) * D);
  lightConv(b, c, w.lightConv, x, T);
  feedForward(b, c, w.ffwEnd, x, T);
  b.rmsNorm(clamp(x, c.gradientClipping), D, w.norm, c.rmsNormEps, x);
}
