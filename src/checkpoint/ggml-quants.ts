// ggml block formats that no kernel of ours reads (Q4_1, Q5_0, Q5_1 and the K-quants Q2_K … Q6_K):
// decoders to float32, following the block layouts of ggml-common.h, so a GGUF holding them is repacked
// at load into a layout the kernels have (q8_0). Also a Q4_K encoder for `gemma3n convert`.
import { halfTable, toF16 } from "../kernels/dtype.js";

/** Decodes whole blocks of `raw` into `dst` (dst.length elements). */
export type BlockDecoder = (raw: Uint8Array, dst: Float32Array) => void;

const QK_K = 256;

function f16(raw: Uint8Array, at: number): number {
  return halfTable()[raw[at]! | (raw[at + 1]! << 8)]!;
}

/** Q4_1: [d, m: f16][16 bytes of nibbles]; x = d·q + m, low nibbles first. */
function decodeQ4_1(raw: Uint8Array, dst: Float32Array): void {
  for (let b = 0, at = 0; b < dst.length; b += 32, at += 20) {
    const d = f16(raw, at);
    const m = f16(raw, at + 2);
    for (let j = 0; j < 16; j++) {
      const q = raw[at + 4 + j]!;
      dst[b + j] = (q & 15) * d + m;
      dst[b + j + 16] = (q >> 4) * d + m;
    }
  }
}

/** Q5_0 / Q5_1: [d (, m)][32 high bits][16 bytes of nibbles]; Q5_0 centres on 16, Q5_1 adds m. */
function decodeQ5(withMin: boolean): BlockDecoder {
  const blockBytes = withMin ? 24 : 22;
  const head = withMin ? 4 : 2;
  return (raw, dst) => {
    for (let b = 0, at = 0; b < dst.length; b += 32, at += blockBytes) {
      const d = f16(raw, at);
      const m = withMin ? f16(raw, at + 2) : 0;
      const qh = (raw[at + head]! | (raw[at + head + 1]! << 8) | (raw[at + head + 2]! << 16) | (raw[at + head + 3]! << 24)) >>> 0;
      const qs = at + head + 4;
      for (let j = 0; j < 16; j++) {
        const lo = (raw[qs + j]! & 15) | (((qh >>> j) & 1) << 4);
        const hi = (raw[qs + j]! >> 4) | (((qh >>> (j + 16)) & 1) << 4);
        dst[b + j] = withMin ? lo * d + m : (lo - 16) * d;
        dst[b + j + 16] = withMin ? hi * d + m : (hi - 16) * d;
      }
    }
  };
}

/** Q2_K: [16 scale/min nibble pairs][64 bytes of 2-bit quants][d, dmin]; x = d·sc·q − dmin·m. */
function decodeQ2_K(raw: Uint8Array, dst: Float32Array): void {
  for (let b = 0, at = 0; b < dst.length; b += QK_K, at += 84) {
    const d = f16(raw, at + 80);
    const dmin = f16(raw, at + 82);
    let y = b;
    let is = 0;
    for (let n = 0; n < 2; n++) {
      const q = at + 16 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half = 0; half < 2; half++) {
          const sc = raw[at + is++]!;
          const dl = d * (sc & 15);
          const ml = dmin * (sc >> 4);
          for (let l = 0; l < 16; l++) dst[y++] = dl * ((raw[q + half * 16 + l]! >> shift) & 3) - ml;
        }
      }
    }
  }
}

/** Q3_K: [32 bytes high-bit mask][64 bytes 2-bit quants][12 bytes of 6-bit scales][d]; x = d·(sc−32)·(q − 4·!hbit). */
function decodeQ3_K(raw: Uint8Array, dst: Float32Array): void {
  const scales = new Int8Array(16);
  for (let b = 0, at = 0; b < dst.length; b += QK_K, at += 110) {
    const d = f16(raw, at + 108);
    const s = at + 96;
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? raw[s + j]! & 15 : raw[s + j - 8]! >> 4;
      const high = (raw[s + 8 + (j % 4)]! >> (2 * Math.floor(j / 4))) & 3;
      scales[j] = (low | (high << 4)) - 32;
    }
    let y = b;
    let is = 0;
    let mask = 1;
    for (let n = 0; n < 2; n++) {
      const q = at + 32 + n * 32;
      for (let shift = 0; shift < 8; shift += 2, mask <<= 1) {
        for (let half = 0; half < 2; half++) {
          const dl = d * scales[is++]!;
          for (let l = 0; l < 16; l++) {
            const k = half * 16 + l;
            dst[y++] = dl * (((raw[q + k]! >> shift) & 3) - (raw[at + k]! & mask ? 0 : 4));
          }
        }
      }
    }
  }
}

/** The 6-bit scale and min of sub-block j of a Q4_K/Q5_K block (12 packed bytes at `s`). */
function scaleMinK4(raw: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [raw[s + j]! & 63, raw[s + j + 4]! & 63];
  return [(raw[s + j + 4]! & 15) | ((raw[s + j - 4]! >> 6) << 4), (raw[s + j + 4]! >> 4) | ((raw[s + j]! >> 6) << 4)];
}

/** Q4_K / Q5_K: [d, dmin][12 bytes scales/mins] ([32 bytes high bits]) [128 bytes nibbles]; x = d·sc·q − dmin·m. */
function decodeQK(fiveBit: boolean): BlockDecoder {
  const blockBytes = fiveBit ? 176 : 144;
  return (raw, dst) => {
    for (let b = 0, at = 0; b < dst.length; b += QK_K, at += blockBytes) {
      const d = f16(raw, at);
      const dmin = f16(raw, at + 2);
      const qh = at + 16;
      const ql = fiveBit ? at + 48 : at + 16;
      let y = b;
      for (let g = 0; g < 4; g++) {
        for (let half = 0; half < 2; half++) {
          const [sc, m] = scaleMinK4(raw, at + 4, 2 * g + half);
          const dl = d * sc;
          const ml = dmin * m;
          const bit = 1 << (2 * g + half);
          for (let l = 0; l < 32; l++) {
            const byte = raw[ql + 32 * g + l]!;
            let q = half === 0 ? byte & 15 : byte >> 4;
            if (fiveBit && raw[qh + l]! & bit) q += 16;
            dst[y++] = dl * q - ml;
          }
        }
      }
    }
  };
}

/** Q6_K: [128 bytes low nibbles][64 bytes high 2 bits][16 int8 scales][d]; x = d·sc·(q − 32). */
function decodeQ6_K(raw: Uint8Array, dst: Float32Array): void {
  for (let b = 0, at = 0; b < dst.length; b += QK_K, at += 210) {
    const d = f16(raw, at + 208);
    for (let n = 0; n < 2; n++) {
      const ql = at + n * 64;
      const qh = at + 128 + n * 32;
      const sc = at + 192 + n * 8;
      const y = b + n * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = raw[qh + l]!;
        const s = (k: number) => d * ((raw[sc + is + k]! << 24) >> 24);
        dst[y + l] = s(0) * (((raw[ql + l]! & 15) | ((h & 3) << 4)) - 32);
        dst[y + l + 32] = s(2) * (((raw[ql + l + 32]! & 15) | (((h >> 2) & 3) << 4)) - 32);
        dst[y + l + 64] = s(4) * (((raw[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32);
        dst[y + l + 96] = s(6) * (((raw[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32);
      }
    }
  }
}

/** Decoders by ggml type name. */
export const BLOCK_DECODERS: Readonly<Record<string, BlockDecoder>> = {
  Q4_1: decodeQ4_1,
  Q5_0: decodeQ5(false),
  Q5_1: decodeQ5(true),
  Q2_K: decodeQ2_K,
  Q3_K: decodeQ3_K,
  Q4_K: decodeQK(false),
  Q5_K: decodeQK(true),
  Q6_K: decodeQ6_K,
};

/**
 * float32 → Q4_K blocks (x.length a multiple of 256). Each 32-value sub-block gets the plain min/max
 * affine fit (llama.cpp's reference quantizer refines it with a weighted search; this one does not);
 * sub-block scales and mins are then quantized to 6 bits against the block's largest.
 */
export function encodeQ4_K(x: Float32Array, out: Uint8Array): void {
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let b = 0, at = 0; b < x.length; b += QK_K, at += 144) {
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let lo = 0;
      let hi = -Infinity;
      for (let l = 0; l < 32; l++) {
        const v = x[b + 32 * j + l]!;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      scales[j] = hi > lo ? (hi - lo) / 15 : 0;
      mins[j] = -lo;
      maxScale = Math.max(maxScale, scales[j]!);
      maxMin = Math.max(maxMin, mins[j]!);
    }
    const dh = toF16(maxScale / 63);
    const mh = toF16(maxMin / 63);
    out.fill(0, at, at + 144);
    out[at] = dh & 255;
    out[at + 1] = dh >> 8;
    out[at + 2] = mh & 255;
    out[at + 3] = mh >> 8;
    const s = at + 4;
    for (let j = 0; j < 8; j++) {
      const ls = maxScale > 0 ? Math.min(63, Math.round((63 / maxScale) * scales[j]!)) : 0;
      const lm = maxMin > 0 ? Math.min(63, Math.round((63 / maxMin) * mins[j]!)) : 0;
      if (j < 4) {
        out[s + j] = ls;
        out[s + j + 4] = lm;
      } else {
        out[s + j + 4] = (ls & 15) | ((lm & 15) << 4);
        out[s + j - 4]! |= (ls >> 4) << 6;
        out[s + j]! |= (lm >> 4) << 6;
      }
    }
    const d = f16(out, at);
    const dmin = f16(out, at + 2);
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(out, s, j);
      const dl = d * sc;
      const ml = dmin * m;
      const q = at + 16 + 32 * (j >> 1);
      for (let l = 0; l < 32; l++) {
        const v = dl ? Math.max(0, Math.min(15, Math.round((x[b + 32 * j + l]! + ml) / dl))) : 0;
        out[q + l]! |= j & 1 ? v << 4 : v;
      }
    }
  }
}
