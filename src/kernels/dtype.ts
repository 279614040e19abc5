/** Element types a checkpoint file stores. */
export type StoredDType = "f32" | "f16" | "bf16";
/**
 * Element types a weight can have in memory. Activations are always float32. The block-quantized
 * types are GGUF's: 32 weights per block sharing one f16 scale d, stored as bytes —
 * q8_0: [d][32 × int8], weight = d·q; q4_0: [d][16 bytes], byte j holds weight j in its low nibble and
 * weight j+16 in its high nibble, weight = d·(nibble − 8).
 */
export type DType = StoredDType | "q8_0" | "q4_0";
export const DTYPES: readonly DType[] = ["f32", "f16", "bf16", "q8_0", "q4_0"];

export const QBLOCK = 32;
const BLOCK_BYTES = { q8_0: 34, q4_0: 18 } as const;

/** Bytes per element (fractional for the block formats, exact for whole blocks). */
export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32, q4_0: 18 / 32 };

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

export function isQuantized(d: DType): d is "q8_0" | "q4_0" {
  return d === "q8_0" || d === "q4_0";
}

/** Whether a tensor of this shape can be held in `d`: block formats need rows of whole blocks. */
export function canHold(d: DType, shape: readonly number[]): boolean {
  return !isQuantized(d) || (shape.length === 2 && shape[1]! % QBLOCK === 0);
}

/** Where tensor bytes go: a fresh buffer by default, or storage a backend's kernels read directly. */
export type Storage = (bytes: number) => Uint8Array;
export const heapStorage: Storage = (bytes) => new Uint8Array(bytes);

/** A dense weight tensor, row-major. 16-bit types keep their raw bits and block types their blocks; kernels widen them as they go. */
export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Uint16Array | Uint8Array;
}

/** A typed view of `bytes` for elements of `dtype`. */
export function viewAs(dtype: DType, bytes: Uint8Array): Tensor["data"] {
  if (dtype === "f32") return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  if (dtype === "f16" || dtype === "bf16") return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  return bytes;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

let f16Table: Float32Array | undefined;
/** All 65536 half-precision values, built once on first use. */
export function halfTable(): Float32Array {
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

/** Widens elements [from, from+n) of a tensor into `dst[0, n)` as float32 (dequantizing block types). */
export function widen(t: Tensor, from: number, n: number, dst: Float32Array): void {
  const src = t.data;
  if (isQuantized(t.dtype)) {
    dequantize(t.dtype, src as Uint8Array, from, n, dst);
  } else if (t.dtype === "f32") {
    dst.set((src as Float32Array).subarray(from, from + n));
  } else if (t.dtype === "bf16") {
    const d32 = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) d32[i] = src[from + i]! << 16;
  } else {
    const table = halfTable();
    for (let i = 0; i < n; i++) dst[i] = table[src[from + i]!]!;
  }
}

function dequantize(dtype: "q8_0" | "q4_0", bytes: Uint8Array, from: number, n: number, dst: Float32Array): void {
  const half = halfTable();
  const blockBytes = BLOCK_BYTES[dtype];
  for (let k = 0; k < n; ) {
    const e = from + k;
    const at = Math.floor(e / QBLOCK) * blockBytes;
    const d = half[bytes[at]! | (bytes[at + 1]! << 8)]!;
    const end = Math.min(n, k + QBLOCK - (e % QBLOCK));
    for (let j = e % QBLOCK; k < end; j++, k++) {
      if (dtype === "q8_0") dst[k] = d * ((bytes[at + 2 + j]! << 24) >> 24);
      else dst[k] = d * ((j < 16 ? bytes[at + 2 + j]! & 15 : bytes[at + 2 + j - 16]! >> 4) - 8);
    }
  }
}

/** float32 values (whole blocks) → GGUF blocks, rounding as llama.cpp's reference quantizers do. */
function quantize(dtype: "q8_0" | "q4_0", x: Float32Array, out: Uint8Array): void {
  const blockBytes = BLOCK_BYTES[dtype];
  for (let b = 0; b < x.length / QBLOCK; b++) {
    const base = b * QBLOCK;
    const at = b * blockBytes;
    let amax = 0;
    let max = 0; // q4_0 keeps the sign of the largest magnitude, so it maps to −8 exactly
    for (let j = 0; j < QBLOCK; j++) {
      const v = x[base + j]!;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(dtype === "q8_0" ? amax / 127 : max / -8);
    const id = d ? Math.fround(1 / d) : 0;
    const h = toF16(d);
    out[at] = h & 0xff;
    out[at + 1] = h >> 8;
    if (dtype === "q8_0") {
      for (let j = 0; j < QBLOCK; j++) {
        const v = Math.fround(x[base + j]! * id);
        out[at + 2 + j] = Math.sign(v) * Math.round(Math.abs(v)); // roundf: halves away from zero
      }
    } else {
      for (let j = 0; j < 16; j++) {
        const lo = Math.min(15, Math.trunc(Math.fround(x[base + j]! * id) + 8.5));
        const hi = Math.min(15, Math.trunc(Math.fround(x[base + 16 + j]! * id) + 8.5));
        out[at + 2 + j] = lo | (hi << 4);
      }
    }
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

/** Converts a whole tensor to another dtype (used when --dtype differs from the stored one), into `storage`. */
export function convertTensor(t: Tensor, to: DType, storage: Storage = heapStorage): Tensor {
  if (t.dtype === to) return t;
  if (!canHold(to, t.shape)) throw new RangeError(`a [${t.shape.join(", ")}] tensor cannot be stored as ${to}: rows must be whole blocks of ${QBLOCK}`);
  const n = numel(t.shape);
  const wide = new Float32Array(n);
  widen(t, 0, n, wide);
  const data = viewAs(to, storage(n * DTYPE_BYTES[to]));
  if (to === "f32") (data as Float32Array).set(wide);
  else if (isQuantized(to)) quantize(to, wide, data as Uint8Array);
  else {
    const round = to === "bf16" ? toBF16 : toF16;
    for (let i = 0; i < n; i++) data[i] = round(wide[i]!);
  }
  return { dtype: to, shape: t.shape, data };
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
