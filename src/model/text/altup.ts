// AltUp ("alternating updates"): the hidden state is A parallel streams; each layer runs on the active
// stream only, after a cheap linear *prediction* of every stream from all of them, and its output then
// *corrects* every stream with a learnt, input-dependent gain. Text-decoder spec §2.3, §2.4(a)(f), §2.5.
import type { Backend } from "../../kernels/backend.js";
import type { Tensor } from "../../kernels/dtype.js";
import type { TextConfig } from "../config.js";
import type { AltUpWeights } from "./weights.js";

/** A streams of [tokens, D] activations. */
export type Streams = Float32Array[];

const MAGNITUDE_EPS = 1e-5;

function rootMeanSquare(x: Float32Array, base: number, width: number): number {
  let s = 0;
  for (let i = 0; i < width; i++) s += x[base + i]! * x[base + i]!;
  return Math.sqrt(Math.fround(s / width));
}

/** Rescales each row of `v` to the RMS of the same row of `ref` (the reference clamps v's mean square at 1e-5). */
function matchMagnitude(v: Float32Array, ref: Float32Array, width: number): void {
  for (let base = 0; base < v.length; base += width) {
    const target = rootMeanSquare(ref, base, width);
    const own = Math.sqrt(Math.max(Math.fround(rootMeanSquare(v, base, width) ** 2), MAGNITUDE_EPS));
    const gain = target / own;
    for (let i = 0; i < width; i++) v[base + i] = v[base + i]! * gain;
  }
}

/** Stream 0 is the embedding; streams 1..A−1 are learnt projections of it at the same magnitude. */
export function initStreams(b: Backend, embeds: Float32Array, tokens: number, projections: Tensor[], width: number): Streams {
  const streams = [embeds];
  for (const w of projections) {
    const x = b.matmul(embeds, tokens, w);
    matchMagnitude(x, embeds, width);
    streams.push(x);
  }
  return streams;
}

/** Inverse of initStreams: project streams 1..A−1 back, match stream 0's magnitude, average all. */
export function mergeStreams(b: Backend, x: Streams, tokens: number, unembed: Tensor[], width: number): Float32Array {
  const sum = Float32Array.from(x[0]!);
  unembed.forEach((w, k) => {
    const v = b.matmul(x[k + 1]!, tokens, w);
    matchMagnitude(v, x[0]!, width);
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + v[i]!;
  });
  for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! / x.length;
  return sum;
}

/** Per-token mixing weights m = tanh(W_r · (RMSNorm(x) / D)), shape [tokens, A]. */
function routerModalities(b: Backend, x: Float32Array, w: AltUpWeights, c: TextConfig): Float32Array {
  const D = c.hiddenSize;
  const normed = b.rmsNorm(x, D, w.routerNorm, c.rmsNormEps);
  const m = b.matmul(normed, x.length / D, w.router);
  for (let k = 0; k < m.length; k++) m[k] = Math.tanh(m[k]! / D);
  return m;
}

/** Per token, A·n coefficients: coefs[t, k] = Σ_a weights[k, a] · m[t, a] (weights [A·n, A], m [tokens, A]). */
function mix(weights: Float32Array, m: Float32Array, A: number): Float32Array {
  const n = weights.length / A;
  const tokens = m.length / A;
  const out = new Float32Array(tokens * n);
  for (let t = 0; t < tokens; t++) {
    for (let k = 0; k < n; k++) {
      let s = 0;
      for (let a = 0; a < A; a++) s += weights[k * A + a]! * m[t * A + a]!;
      out[t * n + k] = s;
    }
  }
  return out;
}

/** x̂_i = x_i + Σ_j C[i][j] · x_j with C = prediction_coefs · m, per token. */
export function predict(b: Backend, x: Streams, w: AltUpWeights, c: TextConfig): Streams {
  const m = routerModalities(b, x[c.altupActiveIdx]!, w, c);
  return b.altupPredict(x, mix(w.predictionCoefs, m, c.altupNumInputs), c.hiddenSize);
}

/** x̃_i = x̂_i + (1 + correction_coefs · m')_i · (y − x̂_active), m' routed from the layer output y. */
export function correct(b: Backend, predicted: Streams, y: Float32Array, w: AltUpWeights, c: TextConfig): Streams {
  const m = routerModalities(b, y, w, c);
  const gains = mix(w.correctionCoefs, m, c.altupNumInputs).map((g) => g + 1);
  return b.altupCorrect(predicted, y, c.altupActiveIdx, gains, c.hiddenSize);
}
