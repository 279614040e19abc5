// Plain-TypeScript backend: simple loops that follow the math literally. It is the oracle for every
// faster backend, so clarity beats speed here; sums run in float64 and results are stored as float32.
import type { AttentionShape, Backend, Conv2dShape, KeyValues, LocalAttentionShape } from "./backend.js";
import { widen, type Tensor } from "./dtype.js";
import { fft } from "./fft.js";
import { geluF16, geluF16Table, type GeluNumerics } from "./gelu-f16-table.js";

const GELU_C = Math.sqrt(2 / Math.PI);
/** Output pixels per patch matrix of conv2d (bounds its memory: rows × in·kh·kw floats). */
const CONV_PATCH_ROWS = 4096;

const patchMatrices = new WeakMap<Tensor, Tensor>();
/**
 * A convolution weight [out, in, kh, kw] viewed as the [out, in·kh·kw] matrix it is, one view object
 * per weight, so that what a backend derives from a weight (a copy into kernel memory) is made once.
 */
function patchMatrix(w: Tensor): Tensor {
  let m = patchMatrices.get(w);
  if (!m) patchMatrices.set(w, (m = { dtype: w.dtype, shape: [w.shape[0]!, w.shape[1]! * w.shape[2]! * w.shape[3]!], data: w.data }));
  return m;
}

/**
 * RoPE's cos and sin of each token's angles, [tokens, headDim/2] each. inv_freq and the angles are
 * float32 in the reference implementation; this reproduces that rounding.
 */
export function ropeTables(positions: Int32Array, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / headDim));
  const cos = new Float32Array(positions.length * half);
  const sin = new Float32Array(positions.length * half);
  for (let t = 0; t < positions.length; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(positions[t]! * invFreq[i]!);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
}

export class ReferenceBackend implements Backend {
  readonly name: string = "reference";

  weightStorage(bytes: number): Uint8Array {
    return new Uint8Array(bytes);
  }

  close(): void {}

  row(w: Tensor, index: number, out: Float32Array): void {
    widen(w, index * w.shape[1]!, w.shape[1]!, out);
  }

  matmul(x: Float32Array, tokens: number, w: Tensor, rows = w.shape[0]!, cols?: number): Float32Array {
    const inDim = w.shape[1]!;
    const n = cols ?? inDim;
    if (x.length !== tokens * n) throw new Error(`matmul: input has ${x.length} values, expected ${tokens}×${n}`);
    const out = new Float32Array(tokens * rows);
    const row = new Float32Array(n);
    for (let o = 0; o < rows; o++) {
      widen(w, o * inDim, n, row);
      for (let t = 0; t < tokens; t++) {
        let s = 0;
        const base = t * n;
        for (let i = 0; i < n; i++) s += x[base + i]! * row[i]!;
        out[t * rows + o] = s;
      }
    }
    return out;
  }

  rmsNorm(x: Float32Array, width: number, weight: Float32Array | null, eps: number, out = new Float32Array(x.length)): Float32Array {
    for (let base = 0; base < x.length; base += width) {
      let ss = 0;
      for (let i = 0; i < width; i++) ss += x[base + i]! * x[base + i]!;
      const inv = 1 / Math.sqrt(Math.fround(ss / width) + eps);
      for (let i = 0; i < width; i++) {
        const v = x[base + i]! * inv;
        out[base + i] = weight ? v * weight[i]! : v;
      }
    }
    return out;
  }

  rope(x: Float32Array, heads: number, headDim: number, positions: Int32Array, theta: number): void {
    const half = headDim / 2;
    const { cos, sin } = ropeTables(positions, headDim, theta);
    for (let t = 0; t < positions.length; t++) {
      for (let h = 0; h < heads; h++) {
        const base = (t * heads + h) * headDim;
        for (let i = 0; i < half; i++) {
          const a = x[base + i]!;
          const b = x[base + half + i]!;
          const c = cos[t * half + i]!;
          const s = sin[t * half + i]!;
          x[base + i] = a * c - b * s;
          x[base + half + i] = b * c + a * s;
        }
      }
    }
  }

  attention(q: Float32Array, positions: Int32Array, kv: KeyValues, s: AttentionShape): Float32Array {
    const { numHeads, numKvHeads, headDim, scale, window } = s;
    const group = numHeads / numKvHeads;
    const kvWidth = numKvHeads * headDim;
    const tokens = positions.length;
    const out = new Float32Array(tokens * numHeads * headDim);
    const scores = new Float64Array(kv.length);
    for (let t = 0; t < tokens; t++) {
      const p = positions[t]!;
      for (let h = 0; h < numHeads; h++) {
        const qBase = (t * numHeads + h) * headDim;
        const kvHead = Math.floor(h / group) * headDim;
        let max = -Infinity;
        for (let j = 0; j < kv.length; j++) {
          const kp = kv.positions[j]!;
          if (kp > p || (window > 0 && kp <= p - window)) {
            scores[j] = -Infinity;
            continue;
          }
          let d = 0;
          const kBase = j * kvWidth + kvHead;
          for (let i = 0; i < headDim; i++) d += q[qBase + i]! * kv.keys[kBase + i]!;
          scores[j] = Math.fround(d) * scale;
          if (scores[j]! > max) max = scores[j]!;
        }
        let sum = 0;
        for (let j = 0; j < kv.length; j++) {
          const e = scores[j] === -Infinity ? 0 : Math.exp(scores[j]! - max);
          scores[j] = e;
          sum += e;
        }
        for (let j = 0; j < kv.length; j++) {
          const pj = scores[j]! / sum;
          if (pj === 0) continue;
          const vBase = j * kvWidth + kvHead;
          for (let i = 0; i < headDim; i++) out[qBase + i] = out[qBase + i]! + pj * kv.values[vBase + i]!;
        }
      }
    }
    return out;
  }

  geluMul(gate: Float32Array, up: Float32Array, numerics: GeluNumerics = "exact"): void {
    if (numerics === "f16-table") {
      const t = geluF16Table();
      for (let i = 0; i < gate.length; i++) gate[i] = geluF16(gate[i]!, t) * up[i]!;
      return;
    }
    for (let i = 0; i < gate.length; i++) gate[i] = geluTanh(gate[i]!) * up[i]!;
  }

  altupPredict(x: Float32Array[], coefs: Float32Array, width: number): Float32Array[] {
    const A = x.length;
    const out = x.map((s) => Float32Array.from(s));
    const sum = new Float64Array(width); // Σ_j C[i][j] · x_j of one token
    for (let t = 0; t * width < x[0]!.length; t++) {
      const base = t * width;
      for (let i = 0; i < A; i++) {
        sum.fill(0);
        // Stream by stream, so the inner loop walks two arrays in step (4× faster than a loop over j inside).
        for (let j = 0; j < A; j++) {
          const c = coefs[(t * A + i) * A + j]!;
          const src = x[j]!;
          for (let d = 0; d < width; d++) sum[d] = sum[d]! + c * src[base + d]!;
        }
        const dst = out[i]!;
        for (let d = 0; d < width; d++) dst[base + d] = dst[base + d]! + sum[d]!;
      }
    }
    return out;
  }

  altupCorrect(predicted: Float32Array[], y: Float32Array, active: number, gains: Float32Array, width: number): Float32Array[] {
    const A = predicted.length;
    const p = predicted[active]!;
    return predicted.map((s, i) => {
      const out = Float32Array.from(s);
      for (let t = 0; t * width < y.length; t++) {
        const gain = gains[t * A + i]!;
        for (let d = t * width; d < (t + 1) * width; d++) out[d] = out[d]! + gain * (y[d]! - p[d]!);
      }
      return out;
    });
  }

  gaussianTopK(x: Float32Array, width: number, z: number): void {
    for (let base = 0; base < x.length; base += width) {
      let mean = 0;
      for (let i = 0; i < width; i++) mean += x[base + i]!;
      mean /= width;
      let v = 0;
      for (let i = 0; i < width; i++) v += (x[base + i]! - mean) ** 2;
      const cutoff = mean + Math.sqrt(v / width) * z;
      for (let i = 0; i < width; i++) x[base + i] = Math.max(x[base + i]! - cutoff, 0);
    }
  }

  softcap(x: Float32Array, cap: number): void {
    for (let i = 0; i < x.length; i++) x[i] = cap * Math.tanh(x[i]! / cap);
  }

  silu(x: Float32Array): void {
    for (let i = 0; i < x.length; i++) x[i] = x[i]! / (1 + Math.exp(-x[i]!));
  }

  rfftMagnitude(frames: Float32Array, frameLength: number, fftLength: number): Float32Array {
    if (frameLength > fftLength) throw new RangeError(`frame length ${frameLength} exceeds the FFT length ${fftLength}`);
    const rows = frames.length / frameLength;
    const bins = fftLength / 2 + 1;
    const out = new Float32Array(rows * bins);
    const re = new Float64Array(fftLength);
    const im = new Float64Array(fftLength);
    for (let r = 0; r < rows; r++) {
      re.fill(0);
      im.fill(0);
      for (let i = 0; i < frameLength; i++) re[i] = frames[r * frameLength + i]!;
      fft(re, im);
      for (let k = 0; k < bins; k++) out[r * bins + k] = Math.hypot(re[k]!, im[k]!);
    }
    return out;
  }

  /**
   * As a product of the [out, in·kh·kw] weight with each output pixel's input patch (in the weight's
   * (channel, ky, kx) order), so that a backend with a faster matmul runs convolutions at its speed.
   */
  conv2d(x: Float32Array, w: Tensor, s: Conv2dShape): { out: Float32Array; height: number; width: number } {
    const [cOut, cIn, kh, kw] = w.shape as [number, number, number, number];
    const { height: H, width: W, stride: [sh, sw], pad: [top, bottom, left, right] } = s;
    if (x.length !== H * W * cIn) throw new Error(`conv2d: input has ${x.length} values, expected ${H}×${W}×${cIn}`);
    const height = Math.floor((H + top + bottom - kh) / sh) + 1;
    const width = Math.floor((W + left + right - kw) / sw) + 1;
    const patch = cIn * kh * kw;
    const matrix = patchMatrix(w);
    const out = new Float32Array(height * width * cOut);
    const pixels = height * width;
    for (let first = 0; first < pixels; first += CONV_PATCH_ROWS) {
      const rows = Math.min(CONV_PATCH_ROWS, pixels - first);
      const patches = new Float32Array(rows * patch);
      for (let r = 0; r < rows; r++) {
        const oy = Math.floor((first + r) / width);
        const ox = (first + r) % width;
        for (let ky = 0; ky < kh; ky++) {
          const y = oy * sh + ky - top;
          if (y < 0 || y >= H) continue;
          for (let kx = 0; kx < kw; kx++) {
            const xx = ox * sw + kx - left;
            if (xx < 0 || xx >= W) continue;
            for (let c = 0; c < cIn; c++) patches[r * patch + (c * kh + ky) * kw + kx] = x[(y * W + xx) * cIn + c]!;
          }
        }
      }
      out.set(this.matmul(patches, rows, matrix), first * cOut);
    }
    return { out, height, width };
  }

  depthwiseConv1d(x: Float32Array, w: Tensor): Float32Array {
    const [C, , K] = w.shape as [number, number, number];
    const weights = new Float32Array(C * K);
    widen(w, 0, C * K, weights);
    const T = x.length / C;
    const out = new Float32Array(x.length);
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const src = t - K + 1 + k;
          if (src >= 0) sum += weights[c * K + k]! * x[src * C + c]!;
        }
        out[t * C + c] = sum;
      }
    }
    return out;
  }

  cumulativeGroupNorm(x: Float32Array, frameWidth: number, weight: Float32Array, eps: number): void {
    const C = weight.length;
    let sum = 0;
    let sumSq = 0;
    for (let base = 0, t = 0; base < x.length; base += frameWidth, t++) {
      const count = (t + 1) * frameWidth;
      for (let i = 0; i < frameWidth; i++) sum += x[base + i]!;
      const mean = Math.fround(sum / count);
      for (let i = 0; i < frameWidth; i++) sumSq += (x[base + i]! - mean) ** 2;
      const inv = 1 / Math.sqrt(Math.fround(sumSq / count) + eps);
      for (let i = 0; i < frameWidth; i++) x[base + i] = (x[base + i]! - mean) * inv * weight[i % C]!;
    }
  }

  localAttention(q: Float32Array, k: Float32Array, v: Float32Array, rel: Float32Array, valid: Uint8Array, s: LocalAttentionShape): Float32Array {
    const { numHeads, headDim, maxPast, maxFuture, softcap } = s;
    const width = numHeads * headDim;
    const T = valid.length;
    const out = new Float32Array(T * width);
    const span = maxPast + maxFuture + 1;
    const scores = new Float64Array(span);
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < numHeads; h++) {
        const qBase = t * width + h * headDim;
        let max = -Infinity;
        for (let j = 0; j < span; j++) {
          const src = t - maxPast + j;
          scores[j] = -Infinity;
          if (src < 0 || src >= T || !valid[src]) continue;
          const kBase = src * width + h * headDim;
          const rBase = (maxPast - (t - src)) * width + h * headDim;
          let content = 0;
          let position = 0;
          for (let i = 0; i < headDim; i++) {
            content += q[qBase + i]! * k[kBase + i]!;
            position += q[qBase + i]! * rel[rBase + i]!;
          }
          const logit = Math.fround(Math.fround(content) + Math.fround(position));
          scores[j] = softcap * Math.tanh(logit / softcap);
          if (scores[j]! > max) max = scores[j]!;
        }
        if (max === -Infinity) continue;
        let sum = 0;
        for (let j = 0; j < span; j++) {
          scores[j] = scores[j] === -Infinity ? 0 : Math.exp(scores[j]! - max);
          sum += scores[j]!;
        }
        for (let j = 0; j < span; j++) {
          if (scores[j] === 0) continue;
          const p = scores[j]! / sum;
          const vBase = (t - maxPast + j) * width + h * headDim;
          for (let i = 0; i < headDim; i++) out[qBase + i] = out[qBase + i]! + p * v[vBase + i]!;
        }
      }
    }
    return out;
  }

  depthwiseConv2d(x: Float32Array, w: Tensor, s: Conv2dShape): { out: Float32Array; height: number; width: number } {
    const [C, , kh, kw] = w.shape as [number, number, number, number];
    const { height: H, width: W, stride: [sh, sw], pad: [top, bottom, left, right] } = s;
    if (x.length !== H * W * C) throw new Error(`depthwiseConv2d: input has ${x.length} values, expected ${H}×${W}×${C}`);
    const height = Math.floor((H + top + bottom - kh) / sh) + 1;
    const width = Math.floor((W + left + right - kw) / sw) + 1;
    const weights = new Float32Array(w.data.length);
    widen(w, 0, weights.length, weights);
    const out = new Float32Array(height * width * C);
    for (let oy = 0; oy < height; oy++) {
      for (let ox = 0; ox < width; ox++) {
        for (let c = 0; c < C; c++) {
          let sum = 0;
          for (let ky = 0; ky < kh; ky++) {
            const y = oy * sh + ky - top;
            if (y < 0 || y >= H) continue;
            for (let kx = 0; kx < kw; kx++) {
              const xx = ox * sw + kx - left;
              if (xx >= 0 && xx < W) sum += x[(y * W + xx) * C + c]! * weights[(c * kh + ky) * kw + kx]!;
            }
          }
          out[(oy * width + ox) * C + c] = sum;
        }
      }
    }
    return { out, height, width };
  }

  gelu(x: Float32Array): void {
    for (let i = 0; i < x.length; i++) x[i] = geluTanh(x[i]!);
  }
}
