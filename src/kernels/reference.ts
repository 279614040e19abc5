// Plain-TypeScript backend: simple loops that follow the math literally. It is the oracle for every
// faster backend, so clarity beats speed here; sums run in float64 and results are stored as float32.
import type { AttentionShape, Backend, KeyValues } from "./backend.js";
import { widen, type Tensor } from "./dtype.js";

const GELU_C = Math.sqrt(2 / Math.PI);

export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
}

export class ReferenceBackend implements Backend {
  readonly name = "reference";

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
    // inv_freq and the angles are float32 in the reference; reproduce that rounding.
    const invFreq = new Float32Array(half);
    for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / headDim));
    const cos = new Float32Array(half);
    const sin = new Float32Array(half);
    for (let t = 0; t < positions.length; t++) {
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(positions[t]! * invFreq[i]!);
        cos[i] = Math.cos(angle);
        sin[i] = Math.sin(angle);
      }
      for (let h = 0; h < heads; h++) {
        const base = (t * heads + h) * headDim;
        for (let i = 0; i < half; i++) {
          const a = x[base + i]!;
          const b = x[base + half + i]!;
          x[base + i] = a * cos[i]! - b * sin[i]!;
          x[base + half + i] = b * cos[i]! + a * sin[i]!;
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

  geluMul(gate: Float32Array, up: Float32Array): void {
    for (let i = 0; i < gate.length; i++) gate[i] = geluTanh(gate[i]!) * up[i]!;
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
}
