// The compute interface the model is written against. Activations are float32, row-major
// [rows, width]; weights are `Tensor`s in any supported dtype, stored [out, in] as in PyTorch.
// The reference backend (reference.ts) is the oracle every faster backend is tested against.
import type { Tensor } from "./dtype.js";
import type { GeluNumerics } from "./gelu-f16-table.js";

/** Keys/values visible to a block of queries, with each key's absolute position. */
export interface KeyValues {
  keys: Float32Array; // [n, kvHeads·headDim]
  values: Float32Array; // [n, kvHeads·headDim]
  positions: Int32Array; // [n]
  length: number; // n
  /** Changes whenever entries below `length` change other than by appending (backends may mirror the cache). */
  version?: number;
}

export interface AttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  scale: number;
  /** Keys at most this far back are visible (key position > query position − window); 0 = no window. */
  window: number;
}

/** The audio encoder's local self-attention (vision-audio spec §2.3.3). */
export interface LocalAttentionShape {
  numHeads: number;
  headDim: number;
  /** A query at t sees keys t − maxPast … t + maxFuture. */
  maxPast: number;
  maxFuture: number;
  /** Logits become cap · tanh(ℓ / cap) before masking. */
  softcap: number;
}

/** A 2-D convolution without bias on channels-last images [H, W, C] (weights stored [out, in, kh, kw]). */
export interface Conv2dShape {
  height: number;
  width: number;
  stride: [number, number];
  /** Zeros added [top, bottom, left, right]. */
  pad: [number, number, number, number];
}

export interface Backend {
  readonly name: string;
  /**
   * Fresh bytes for a weight tensor, in memory this backend's kernels read directly (loaders fill them).
   * Once a product has used a weight, the backend may keep its bytes in a layout of its own: read its
   * values through `row`, not through `data`.
   */
  weightStorage(bytes: number): Uint8Array;
  /** Row `index` of a weight matrix as float32 (an embedding lookup). */
  row(w: Tensor, index: number, out: Float32Array): void;
  /** Releases threads and memory; the backend is unusable afterwards. */
  close(): void;
  /** y[t, o] = Σ_i x[t, i] · W[o, i] over the first `rows` output rows (default all) and `cols` inputs (default all). */
  matmul(x: Float32Array, tokens: number, w: Tensor, rows?: number, cols?: number): Float32Array;
  /** Row-wise x / sqrt(mean(x²) + eps) ⊙ weight (weight null = none), written into `out` (may be `x`). */
  rmsNorm(x: Float32Array, width: number, weight: Float32Array | null, eps: number, out?: Float32Array): Float32Array;
  /** Rotate-half RoPE in place on [tokens, heads·headDim]; token t is at `positions[t]`. */
  rope(x: Float32Array, heads: number, headDim: number, positions: Int32Array, theta: number): void;
  /** Causal (and optionally windowed) softmax attention of queries [tokens, heads·headDim] at `positions`. */
  attention(q: Float32Array, positions: Int32Array, kv: KeyValues, shape: AttentionShape): Float32Array;
  /** gelu_tanh(gate) ⊙ up, in place in `gate`; "f16-table" evaluates the GELU as llama.cpp's CPU backend does. */
  geluMul(gate: Float32Array, up: Float32Array, numerics?: GeluNumerics): void;
  /**
   * AltUp prediction over A streams [tokens, width]: out_i = x_i + Σ_j coefs[t, i, j] · x_j, with
   * per-token mixing coefficients `coefs` [tokens, A, A]. Returns new streams.
   */
  altupPredict(x: Float32Array[], coefs: Float32Array, width: number): Float32Array[];
  /**
   * AltUp correction: out_i = predicted_i + gains[t, i] · (y − predicted_active) for the A predicted
   * streams [tokens, width], the layer output y and per-token gains [tokens, A]. Returns new streams.
   */
  altupCorrect(predicted: Float32Array[], y: Float32Array, active: number, gains: Float32Array, width: number): Float32Array[];
  /** Gaussian top-k sparsity per row: x ← relu(x − (mean + z·std)), population std. */
  gaussianTopK(x: Float32Array, width: number, z: number): void;
  /** cap · tanh(x / cap), in place. */
  softcap(x: Float32Array, cap: number): void;
  /** x · sigmoid(x), in place. */
  silu(x: Float32Array): void;
  /** |rfft| of each row of `frames` [rows, frameLength], zero-padded to fftLength (a power of 2): [rows, fftLength/2 + 1]. */
  rfftMagnitude(frames: Float32Array, frameLength: number, fftLength: number): Float32Array;
  /** Convolution of x [H, W, Cin] with w [Cout, Cin, kh, kw]: [Ho, Wo, Cout] with Ho, Wo from the padded size and stride. */
  conv2d(x: Float32Array, w: Tensor, shape: Conv2dShape): { out: Float32Array; height: number; width: number };
  /** Causal depthwise convolution over time of x [T, C] with w [C, 1, K]: out[t, c] = Σ_k w[c, k] · x[t − K + 1 + k, c]. */
  depthwiseConv1d(x: Float32Array, w: Tensor): Float32Array;
  /**
   * Group norm of x [T, frameWidth] (frames of G × C values, channels fastest; C = weight.length) with
   * statistics accumulated over time: frame t is normalised by the mean and variance of frames 0…t,
   * each frame's squared deviations taken from the running mean at that frame; then scaled per channel.
   * In place.
   */
  cumulativeGroupNorm(x: Float32Array, frameWidth: number, weight: Float32Array, eps: number): void;
  /**
   * Banded self-attention over T frames with a relative-position term: ℓ = q_t·k_s + q_t·rel[maxPast − (t − s)]
   * for q, k, v, rel rows of heads·headDim (rel has maxPast + maxFuture + 1 rows), soft-capped, over
   * keys in the band that are `valid`. Queries that see no valid key give zeros.
   */
  localAttention(q: Float32Array, k: Float32Array, v: Float32Array, rel: Float32Array, valid: Uint8Array, shape: LocalAttentionShape): Float32Array;
  /** Depthwise convolution of x [H, W, C] with w [C, 1, kh, kw] (each channel its own filter): [Ho, Wo, C]. */
  depthwiseConv2d(x: Float32Array, w: Tensor, shape: Conv2dShape): { out: Float32Array; height: number; width: number };
  /** gelu_tanh(x), in place. */
  gelu(x: Float32Array): void;
}
