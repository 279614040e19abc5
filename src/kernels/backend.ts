// The compute interface the model is written against. Activations are float32, row-major
// [rows, width]; weights are `Tensor`s in any supported dtype, stored [out, in] as in PyTorch.
// The reference backend (reference.ts) is the oracle every faster backend is tested against.
import type { Tensor } from "./dtype.js";

/** Keys/values visible to a block of queries, with each key's absolute position. */
export interface KeyValues {
  keys: Float32Array; // [n, kvHeads·headDim]
  values: Float32Array; // [n, kvHeads·headDim]
  positions: Int32Array; // [n]
  length: number; // n
}

export interface AttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  scale: number;
  /** Keys at most this far back are visible (key position > query position − window); 0 = no window. */
  window: number;
}

export interface Backend {
  readonly name: string;
  /** y[t, o] = Σ_i x[t, i] · W[o, i] over the first `rows` output rows (default all) and `cols` inputs (default all). */
  matmul(x: Float32Array, tokens: number, w: Tensor, rows?: number, cols?: number): Float32Array;
  /** Row-wise x / sqrt(mean(x²) + eps) ⊙ weight (weight null = none), written into `out` (may be `x`). */
  rmsNorm(x: Float32Array, width: number, weight: Float32Array | null, eps: number, out?: Float32Array): Float32Array;
  /** Rotate-half RoPE in place on [tokens, heads·headDim]; token t is at `positions[t]`. */
  rope(x: Float32Array, heads: number, headDim: number, positions: Int32Array, theta: number): void;
  /** Causal (and optionally windowed) softmax attention of queries [tokens, heads·headDim] at `positions`. */
  attention(q: Float32Array, positions: Int32Array, kv: KeyValues, shape: AttentionShape): Float32Array;
  /** gelu_tanh(gate) ⊙ up, in place in `gate`. */
  geluMul(gate: Float32Array, up: Float32Array): void;
  /** Gaussian top-k sparsity per row: x ← relu(x − (mean + z·std)), population std. */
  gaussianTopK(x: Float32Array, width: number, z: number): void;
  /** cap · tanh(x / cap), in place. */
  softcap(x: Float32Array, cap: number): void;
}
