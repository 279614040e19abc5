// llama.cpp's CPU GELU: ggml evaluates gelu_tanh through a 65536-entry table indexed by the input's
// IEEE half bits (GGML_GELU_FP16), so the input is rounded to fp16 and the output has fp16 precision;
// inputs ≤ −10 give 0 and inputs ≥ 10 pass through. An exact GELU differs from it by ~1e-3 relative,
// which a chaotic (random-weight) model amplifies to whole-logit differences, so GGUF files run with
// this table by default to give llama.cpp's outputs. Both backends read the same table.
import { halfTable, toF16 } from "./dtype.js";

/** How the text decoder's GELU is evaluated: exactly (as transformers), or through llama.cpp's fp16 table. */
export type GeluNumerics = "exact" | "f16-table";
export const GELU_NUMERICS: readonly GeluNumerics[] = ["exact", "f16-table"];

/** Inputs at or beyond ±TABLE_LIMIT bypass the table (llama.cpp's bounds; assembly/kernels.ts has the same). */
const TABLE_LIMIT = 10;

const f = Math.fround;
const SQRT_2_OVER_PI = f(0.7978845608028654);
const COEF_A = f(0.044715);

/**
 * ggml_gelu_f32, operation by operation in float32, with 1 + a·x·x fused into one rounding as the
 * compilers of llama.cpp's binaries do: this reproduces all 65536 entries of the table in
 * node-llama-cpp 3.21.1's prebuilt CPU library (rounding that sum separately misses one).
 */
function geluFloat32(x: number): number {
  return f(f(0.5 * x) * f(1 + f(Math.tanh(f(f(SQRT_2_OVER_PI * x) * f(1 + f(COEF_A * x) * x))))));
}

let table: Float32Array | undefined;
/** gelu(x) for every half-precision x, rounded to half precision (indexed by the half bits of x). */
export function geluF16Table(): Float32Array {
  if (table) return table;
  const half = halfTable();
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = half[toF16(geluFloat32(half[h]!))]!;
  return (table = t);
}

/** llama.cpp's table GELU of one value. */
export function geluF16(x: number, t = geluF16Table()): number {
  if (x <= -TABLE_LIMIT) return 0;
  if (x >= TABLE_LIMIT) return x;
  return t[toF16(x)]!;
}
