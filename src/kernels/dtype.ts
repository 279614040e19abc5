/** Element types a weight can have in memory. Activations are always float32. */
export type DType = "f32" | "f16" | "bf16";

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, bf16: 2 };

export function isDType(s: string): s is DType {
  return s === "f32" || s === "f16" || s === "bf16";
}

/** A dense weight tensor, row-major. 16-bit types keep their raw bits; kernels widen them as they go. */
export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Uint16Array;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

let f16Table: Float32Array | undefined;
/** All 65536 half-precision values, built once on first use. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return (f16Table = t);
}

/** Widens `src[from, from+n)` of a tensor into `dst[0, n)` as float32. */
export function widen(t: Tensor, from: number, n: number, dst: Float32Array): void {
  const src = t.data;
  if (t.dtype === "f32") {
    dst.set((src as Float32Array).subarray(from, from + n));
  } else if (t.dtype === "bf16") {
    const d32 = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) d32[i] = src[from + i]! << 16;
  } else {
    const table = halfTable();
    for (let i = 0; i < n; i++) dst[i] = table[src[from + i]!]!;
  }
}

/** float32 → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function toBF16(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return (u >> 16) | 0x40;
  return ((u + 0x7fff + ((u >> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 → IEEE half bits, round to nearest even, overflow to infinity. */
export function toF16(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}

/** Converts a whole tensor to another dtype (used when --dtype differs from the stored one). */
export function convertTensor(t: Tensor, to: DType): Tensor {
  if (t.dtype === to) return t;
  const n = t.data.length;
  const wide = new Float32Array(n);
  widen(t, 0, n, wide);
  if (to === "f32") return { dtype: to, shape: t.shape, data: wide };
  const out = new Uint16Array(n);
  const round = to === "bf16" ? toBF16 : toF16;
  for (let i = 0; i < n; i++) out[i] = round(wide[i]!);
  return { dtype: to, shape: t.shape, data: out };
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
