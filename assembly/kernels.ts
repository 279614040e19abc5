// WebAssembly SIMD kernels of the fast CPU backend (AssemblyScript, built by `npm run build:wasm`).
// Every function works on byte offsets into one shared memory and on a slice [r0, r1) of its output,
// so that any number of threads can run it at once on their own slices. Nothing here allocates or
// keeps state: the module has no data segment and no stack, so many instances can share a memory.
// Built twice: with relaxed SIMD (integer dot products, fused multiply-add) and with plain SIMD.

// ---------------------------------------------------------------------------------------------------
// Helpers

/** 2^112: multiplying by it re-biases a half's exponent, once moved where float32 has it. */
const HALF_REBIAS: f32 = 5.192296858534828e33;
/** What halfToFloat4 keeps of a half shifted arithmetically into float32's place (sign, exponent, mantissa). */
const HALF_MASK: i32 = 0x8fffe000;

/** IEEE half bits → float32 (finite values; weights and scales are never inf/NaN). */
@inline function halfToFloat(h: u32): f32 {
  const mag = reinterpret<f32>((h & 0x7fff) << 13) * HALF_REBIAS;
  return reinterpret<f32>(reinterpret<u32>(mag) | ((h & 0x8000) << 16));
}

/**
 * Four halves in the high 16 bits of i32 lanes (the low 16 bits are ignored) → float32x4. Hot loops
 * pass the two constants in (see storeConstants).
 */
@inline function halfToFloat4(h: v128, mask: v128 = i32x4.splat(HALF_MASK), rebias: v128 = f32x4.splat(HALF_REBIAS)): v128 {
  // The arithmetic shift puts sign, exponent and mantissa where float32 has them (the mask clears the
  // sign's copies in the 3 exponent bits a half lacks, and the low bits); × 2^112 re-biases the exponent.
  return f32x4.mul(v128.and(i32x4.shr_s(h, 3), mask), rebias);
}

@inline function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

@inline function hsumInt(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/** [Σa, Σb, Σc, Σd] of four i32x4 vectors. */
@inline function reduce4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

// ---------------------------------------------------------------------------------------------------
// Activation quantization: each token's `cols` floats (a multiple of 32) become Q8 blocks — 32 values
// in [−127, 127], a float32 scale dx and a float32 8·dx·Σq that folds Q4_0's −8 offset. The values are
// int8 for Q4_0 products and int16 ("wide") for Q8_0 products, whose int8 weights then widen as they
// load and meet the activations in i16 dot products with nothing else to extend. Fewer than PANEL
// tokens (decode) are laid out a row per token: [cols values][nb × dx][nb × 8·dx·Σq]. PANEL tokens or
// more are laid out in panels of PANEL tokens, block after block: [PANEL × 32 values][PANEL × dx]
// [PANEL × 8·dx·Σq], so that a product reads every token of a panel at fixed offsets. The last panel's
// missing tokens are left unwritten: products compute their lanes and drop them.

/** Tokens per panel: the token tile of many-token products. */
const PANEL = 4;
/** Bytes of one block of a token's row, and of a panel: int8 values. */
const ROW_BLOCK = 40;
const PANEL_BLOCK = PANEL * ROW_BLOCK;
/** The same with int16 values. */
const WIDE_ROW_BLOCK = 72;
const WIDE_PANEL_BLOCK = PANEL * WIDE_ROW_BLOCK;

/** Bytes of `tokens` quantized activation rows of `cols` inputs (int16 values if `wide`). */
export function quantizedBytes(cols: i32, tokens: i32, wide: bool): i32 {
  const nb = cols >> 5;
  const block = wide ? WIDE_ROW_BLOCK : ROW_BLOCK;
  if (tokens < PANEL) return tokens * nb * block;
  return ((tokens + PANEL - 1) / PANEL) * nb * PANEL * block;
}

/**
 * Rounding to the nearest integer (ties to even) of floats below 2²² in magnitude, by adding 1.5·2²³:
 * the addition rounds, and leaves the integer in the low mantissa bits. The same results as nearest
 * and then trunc_sat, whose saturation V8 spends several instructions on.
 */
const ROUNDER: f32 = 12582912;
const ROUNDER_BITS = 0x4b400000;

/** v + 1.5·2²³ (see ROUNDER): its float value minus ROUNDER is the rounded float, its bits minus ROUNDER_BITS the integer. */
@inline function rounded(v: v128): v128 {
  return f32x4.add(v, f32x4.splat(ROUNDER));
}

@inline function roundedInt(r: v128): v128 {
  return i32x4.sub(r, i32x4.splat(ROUNDER_BITS));
}

/** One block of 32 floats at `src` → 32 values at `q` (int16 if `wide`), dx at `scale`, 8·dx·Σq at `offset`. */
@inline function quantizeBlock(src: usize, q: usize, scale: usize, offset: usize, wide: bool): void {
  // The largest |x| through pmax (one instruction; max, which propagates NaN, costs V8 eight in a chain),
  // with a NaN looked for apart.
  let m = f32x4.splat(0);
  let nan = i32x4.splat(0);
  for (let k = 0; k < 8; k++) {
    const v = v128.load(src + k * 16);
    m = f32x4.pmax(m, f32x4.abs(v));
    nan = v128.or(nan, f32x4.ne(v, v));
  }
  m = f32x4.pmax(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
  m = f32x4.pmax(m, i32x4.shuffle(m, m, 1, 0, 3, 2));
  const amax: f32 = v128.any_true(nan) ? NaN : f32x4.extract_lane(m, 0);
  const d: f32 = amax / 127;
  if (!(amax < Infinity)) {
    // A NaN or an infinity: values 0 and a scale and offset that make the block's products NaN.
    const bytes: usize = wide ? 64 : 32;
    for (let k: usize = 0; k < bytes; k += 16) v128.store(q + k, i32x4.splat(0));
    store<f32>(scale, d);
    store<f32>(offset, NaN);
    return;
  }
  // 1/d overflows for d = 0 and for blocks below ~4e-37; those quantize to 0 (x·∞ would be saturated junk).
  const inv: f32 = 1 / d;
  const id = f32x4.splat(inv < Infinity ? inv : 0);
  let sum = i32x4.splat(0);
  for (let k = 0; k < 2; k++) {
    const base = src + k * 64;
    const a = roundedInt(rounded(f32x4.mul(v128.load(base), id)));
    const bb = roundedInt(rounded(f32x4.mul(v128.load(base + 16), id)));
    const c = roundedInt(rounded(f32x4.mul(v128.load(base + 32), id)));
    const dd = roundedInt(rounded(f32x4.mul(v128.load(base + 48), id)));
    sum = i32x4.add(sum, i32x4.add(i32x4.add(a, bb), i32x4.add(c, dd)));
    if (wide) {
      v128.store(q + k * 32, i16x8.narrow_i32x4_s(a, bb));
      v128.store(q + k * 32 + 16, i16x8.narrow_i32x4_s(c, dd));
    } else v128.store(q + k * 16, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, bb), i16x8.narrow_i32x4_s(c, dd)));
  }
  store<f32>(scale, d);
  store<f32>(offset, <f32>8 * d * <f32>hsumInt(sum));
}

/** Quantizes tokens [t0, t1) of x [tokens, cols] (int16 values if `wide`). */
export function quantize(x: usize, cols: i32, tokens: i32, qx: usize, wide: bool, t0: i32, t1: i32): void {
  const nb = cols >> 5;
  const values: usize = wide ? 64 : 32; // bytes of a block's values
  const rowBlock: usize = values + 8;
  for (let t = t0; t < t1; t++) {
    // Where block 0's values, scale and offset go, and the bytes from one block to the next.
    let q: usize, scale: usize, offset: usize, qStep: usize, scaleStep: usize;
    if (tokens >= PANEL) {
      const panel = qx + <usize>(t / PANEL) * <usize>nb * <usize>PANEL * rowBlock;
      const k = <usize>(t % PANEL);
      q = panel + k * values;
      scale = panel + <usize>PANEL * values + k * 4;
      offset = scale + PANEL * 4;
      qStep = <usize>PANEL * rowBlock;
      scaleStep = <usize>PANEL * rowBlock;
    } else {
      q = qx + <usize>t * <usize>nb * rowBlock;
      scale = q + <usize>nb * values;
      offset = scale + <usize>nb * 4;
      qStep = values;
      scaleStep = 4;
    }
    const src = x + <usize>t * <usize>cols * 4;
    for (let b = 0; b < nb; b++) quantizeBlock(src + <usize>b * 128, q + <usize>b * qStep, scale + <usize>b * scaleStep, offset + <usize>b * scaleStep, wide);
  }
}

// ---------------------------------------------------------------------------------------------------
// Matrix products y[t, r] = Σ_i x[t, i]·W[r, i] for rows r in [r0, r1) and tokens t in [0, tokens):
// W has `rowBytes` bytes per row (the full tensor's stride) and the first `cols` inputs are used.

/**
 * Rows per tile of a product: a tile of weights stays in L2 while every token (or panel of activations:
 * PANEL tokens, 5 or 9 bytes per input, in L1) passes over it, so weights stream from memory once per product.
 */
const ROW_TILE = 32;

/**
 * Decode instead reads a thread's rows as several streams far apart in memory (its groups of rows split
 * in that many parts), one block of each per step: the hardware prefetcher follows each stream, where
 * one stream left the kernels waiting on memory. As many as the registers hold: streamRows,
 * streamRowsQ8; the float products pair two. The backend cuts products at multiples of these many
 * groups (its GROUPED grain), so that only a product's last chunk has groups left over.
 */
const Q4_STREAMS = 6;
const Q8_STREAMS = 4;

/**
 * Each thread of a product has 192 bytes of scratch of its own (the backend's PRODUCT_SCRATCH): partial
 * sums in the first 128, then the loops' vector constants (nibble mask, half-to-float mask and rebias,
 * BF16's high-half mask). V8 rebuilds a v128.const at every use inside a loop (three instructions),
 * where a load is one and an argument none. They go through memory because Binaryen would see every
 * call pass the same literals and fold them back in.
 */
const CONSTANTS: usize = 128;

@inline function storeConstants(scratch: usize): void {
  v128.store(scratch, i8x16.splat(15), CONSTANTS);
  v128.store(scratch, i32x4.splat(HALF_MASK), CONSTANTS + 16);
  v128.store(scratch, f32x4.splat(HALF_REBIAS), CONSTANTS + 32);
  v128.store(scratch, i32x4.splat(0xffff0000), CONSTANTS + 48);
}

// Q8_0 against int16 activations: each 8 weights widen as they load (one instruction) and meet 8
// activations in an i16 dot. First the rows past a tensor's last whole group of 8 (see interleaveQ8),
// which keep GGUF's row layout, [2-byte scale][32 int8] per block, and go one row at a time. In a panel,
// partial sums pass through the thread's scratch (`tmp`): a store between one token's loads and the
// next keeps V8 from issuing all of a loop's loads first and spilling them.

@inline function dotWide(w: usize, x: usize): v128 {
  return i32x4.dot_i16x8_s(v128.load8x8_s(w), v128.load(x));
}

/** A block's partial sums (four i32 lanes) against the 32 int16 activations at x. */
@inline function blockQ8(wb: usize, x: usize): v128 {
  return i32x4.add(i32x4.add(dotWide(wb + 2, x), dotWide(wb + 10, x + 16)), i32x4.add(dotWide(wb + 18, x + 32), dotWide(wb + 26, x + 48)));
}

/**
 * Row · one token's quantized activation (row layout): each block's sum scaled and added in turn, with
 * the vector operations dotPanelQ8 uses (in lane 0), so a row's result is the same in both.
 */
@inline function dotQ8(w: usize, qx: usize, nb: i32): f32 {
  const scales = qx + <usize>nb * 64;
  let acc = f32x4.splat(0);
  for (let b = 0; b < nb; b++) {
    const wb = w + <usize>b * 34;
    const s = f32x4.splat(<f32>hsumInt(blockQ8(wb, qx + <usize>b * 64)));
    acc = fma(f32x4.splat(halfToFloat(load<u16>(wb))), f32x4.mul(s, f32x4.splat(load<f32>(scales + <usize>b * 4))), acc);
  }
  return f32x4.extract_lane(acc, 0);
}

/**
 * Row · one panel of quantized activations: out[t·outStride] for the panel's tokens t < `tokens`.
 * The tokens sit in the vector lanes, so each block's weights are loaded (and widened) once for all of
 * them and the sum needs no reduction at the end.
 */
@inline function dotPanelQ8(w: usize, panel: usize, nb: i32, out: usize, outStride: usize, tokens: i32, tmp: usize): void {
  let acc = f32x4.splat(0);
  let wb = w;
  let xb = panel;
  const end = panel + <usize>nb * WIDE_PANEL_BLOCK;
  for (; xb < end; xb += WIDE_PANEL_BLOCK, wb += 34) {
    const w0 = v128.load8x8_s(wb + 2);
    const w1 = v128.load8x8_s(wb + 10);
    const w2 = v128.load8x8_s(wb + 18);
    const w3 = v128.load8x8_s(wb + 26);
    v128.store(tmp, tokenQ8(w0, w1, w2, w3, xb));
    v128.store(tmp, tokenQ8(w0, w1, w2, w3, xb + 64), 16);
    v128.store(tmp, tokenQ8(w0, w1, w2, w3, xb + 128), 32);
    const s = reduce4(v128.load(tmp), v128.load(tmp, 16), v128.load(tmp, 32), tokenQ8(w0, w1, w2, w3, xb + 192));
    const scale = halfToFloat4(v128.load16_splat(wb), v128.load(tmp, CONSTANTS + 16), v128.load(tmp, CONSTANTS + 32)); // the scale in both halves of every lane
    acc = fma(scale, f32x4.mul(f32x4.convert_i32x4_s(s), v128.load(xb, PANEL * 64)), acc);
  }
  store<f32>(out, f32x4.extract_lane(acc, 0));
  if (tokens > 1) store<f32>(out + outStride, f32x4.extract_lane(acc, 1));
  if (tokens > 2) store<f32>(out + 2 * outStride, f32x4.extract_lane(acc, 2));
  if (tokens > 3) store<f32>(out + 3 * outStride, f32x4.extract_lane(acc, 3));
}

/** A block's widened weights against one token's 32 int16 activations at x: partial sums in four lanes. */
@inline function tokenQ8(w0: v128, w1: v128, w2: v128, w3: v128, x: usize): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(w0, v128.load(x)), i32x4.dot_i16x8_s(w1, v128.load(x, 16)));
  return i32x4.add(a, i32x4.add(i32x4.dot_i16x8_s(w2, v128.load(x, 32)), i32x4.dot_i16x8_s(w3, v128.load(x, 48))));
}

// Q8_0, grouped: rows in groups of 8, interleaved block by block (interleaveQ8 rearranges a GGUF tensor
// in place). A group's block is [8 × f16 scale][16 pairs × 16 bytes]: pair k holds weights 2k, 2k + 1
// of each row, row after row. A pair's two halves widen as they load (rows 0–3, rows 4–7) and each meets
// a broadcast of the matching 2 int16 activations in one i16 dot, so the lanes are rows and a block
// ends without a horizontal sum. Rows past the last whole group stay in GGUF's layout (dotQ8, dotPanelQ8).

const Q8_GROUP = 8;
const Q8_GROUP_BLOCK = Q8_GROUP * 34;

/** Interleaves groups [g0, g1) of a GGUF Q8_0 tensor in place, through 8 rows of per-thread scratch. */
export function interleaveQ8(w: usize, rowBytes: usize, scratch: usize, g0: i32, g1: i32): void {
  const nb = <i32>(rowBytes / 34);
  const groupBytes = <usize>Q8_GROUP * rowBytes;
  for (let g = g0; g < g1; g++) {
    const group = w + <usize>g * groupBytes;
    memory.copy(scratch, group, groupBytes);
    for (let b = 0; b < nb; b++) {
      const src = scratch + <usize>b * 34;
      const dst = group + <usize>b * Q8_GROUP_BLOCK;
      for (let r: usize = 0; r < <usize>Q8_GROUP; r++) store<u16>(dst + 2 * r, load<u16>(src + r * rowBytes));
      // Pairs are 16-bit elements: two 8 × 8 transposes (pairs 0–7, 8–15) of the 8 rows.
      for (let half: usize = 0; half < 2; half++) {
        const at = src + 2 + half * 16;
        transpose8x16(dst + 16 + half * 128, v128.load(at), v128.load(at + rowBytes), v128.load(at + 2 * rowBytes), v128.load(at + 3 * rowBytes), v128.load(at + 4 * rowBytes), v128.load(at + 5 * rowBytes), v128.load(at + 6 * rowBytes), v128.load(at + 7 * rowBytes));
      }
    }
  }
}

/** The 8 rows' f16 scales of a Q8_0 group block as float32: rows 0–3 (or 4–7 if `high`). */
@inline function groupScalesQ8(wb: usize, high: bool, halfMask: v128, halfRebias: v128): v128 {
  const h = v128.load(wb);
  // Each half into both 16-bit halves of an i32 lane (halfToFloat4 reads the high one).
  return halfToFloat4(high ? i16x8.shuffle(h, h, 4, 4, 5, 5, 6, 6, 7, 7) : i16x8.shuffle(h, h, 0, 0, 1, 1, 2, 2, 3, 3), halfMask, halfRebias);
}

/** Group · each of `tokens` (fewer than PANEL) int16 activation rows → out rows [r0, r1). Two pairs a step. */
function groupRowsQ8(g: i32, wg: usize, qx: usize, tokens: i32, nb: i32, y: usize, outStride: usize, r0: i32, r1: i32, constants: usize): void {
  for (let t = 0; t < tokens; t++) {
    const x = qx + <usize>t * <usize>nb * WIDE_ROW_BLOCK;
    let scale = x + <usize>nb * 64;
    const end = scale;
    let fa = f32x4.splat(0), fb = f32x4.splat(0);
    let wb = wg;
    for (let xb = x; xb < end; xb += 64, scale += 4, wb += Q8_GROUP_BLOCK) {
      let sa = i32x4.splat(0), sb = i32x4.splat(0); // rows 0–3, 4–7
      const pairsEnd = xb + 64;
      let wp = wb + 16;
      for (let xp = xb; xp < pairsEnd; xp += 8, wp += 32) {
        const p = v128.load32_splat(xp);
        const q = v128.load32_splat(xp, 4);
        sa = i32x4.add(sa, i32x4.dot_i16x8_s(v128.load8x8_s(wp), p));
        sb = i32x4.add(sb, i32x4.dot_i16x8_s(v128.load8x8_s(wp, 8), p));
        sa = i32x4.add(sa, i32x4.dot_i16x8_s(v128.load8x8_s(wp, 16), q));
        sb = i32x4.add(sb, i32x4.dot_i16x8_s(v128.load8x8_s(wp, 24), q));
      }
      const halfMask = v128.load(constants, 16);
      const halfRebias = v128.load(constants, 32);
      const dx = v128.load32_splat(scale);
      fa = fma(groupScalesQ8(wb, false, halfMask, halfRebias), f32x4.mul(f32x4.convert_i32x4_s(sa), dx), fa);
      fb = fma(groupScalesQ8(wb, true, halfMask, halfRebias), f32x4.mul(f32x4.convert_i32x4_s(sb), dx), fb);
    }
    storeGroup(fa, fb, y + <usize>t * outStride, g, r0, r1);
  }
}

/**
 * Group · one panel of int16 activations (its first `tokens` real) → out rows [r0, r1) of the panel's
 * tokens. A pair's widened weights meet the 4 tokens' activations in 8 integer accumulators (what the
 * registers hold); the float sums live in `acc` (128 bytes of the thread's scratch).
 */
function groupPanelQ8(g: i32, wg: usize, panel: usize, tokens: i32, nb: i32, out: usize, outStride: usize, r0: i32, r1: i32, acc: usize, constants: usize): void {
  for (let k: usize = 0; k < 8; k++) v128.store(acc + k * 16, f32x4.splat(0));
  let wb = wg;
  const end = panel + <usize>nb * WIDE_PANEL_BLOCK;
  for (let xb = panel; xb < end; xb += WIDE_PANEL_BLOCK, wb += Q8_GROUP_BLOCK) {
    let a0 = i32x4.splat(0), b0 = i32x4.splat(0), a1 = i32x4.splat(0), b1 = i32x4.splat(0);
    let a2 = i32x4.splat(0), b2 = i32x4.splat(0), a3 = i32x4.splat(0), b3 = i32x4.splat(0);
    const pairsEnd = xb + 64;
    let wp = wb + 16;
    for (let xp = xb; xp < pairsEnd; xp += 4, wp += 16) {
      const lo = v128.load8x8_s(wp);
      const hi = v128.load8x8_s(wp, 8);
      let p = v128.load32_splat(xp);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(lo, p));
      b0 = i32x4.add(b0, i32x4.dot_i16x8_s(hi, p));
      p = v128.load32_splat(xp, 64);
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(lo, p));
      b1 = i32x4.add(b1, i32x4.dot_i16x8_s(hi, p));
      p = v128.load32_splat(xp, 128);
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(lo, p));
      b2 = i32x4.add(b2, i32x4.dot_i16x8_s(hi, p));
      p = v128.load32_splat(xp, 192);
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(lo, p));
      b3 = i32x4.add(b3, i32x4.dot_i16x8_s(hi, p));
    }
    const halfMask = v128.load(constants, 16);
    const halfRebias = v128.load(constants, 32);
    const sa = groupScalesQ8(wb, false, halfMask, halfRebias);
    const sb = groupScalesQ8(wb, true, halfMask, halfRebias);
    const dx = xb + PANEL * 64;
    panelStepQ8(acc, sa, sb, a0, b0, v128.load32_splat(dx));
    panelStepQ8(acc + 32, sa, sb, a1, b1, v128.load32_splat(dx, 4));
    panelStepQ8(acc + 64, sa, sb, a2, b2, v128.load32_splat(dx, 8));
    panelStepQ8(acc + 96, sa, sb, a3, b3, v128.load32_splat(dx, 12));
  }
  for (let t = 0; t < min(tokens, PANEL); t++) storeGroup(v128.load(acc + <usize>t * 32), v128.load(acc + <usize>t * 32 + 16), out + <usize>t * outStride, g, r0, r1);
}

/** One token's block of integer sums (rows 0–3 in a, 4–7 in b) into its float sums at `acc`: scales·(dx·sums). */
@inline function panelStepQ8(acc: usize, sa: v128, sb: v128, a: v128, b: v128, dx: v128): void {
  v128.store(acc, fma(sa, f32x4.mul(f32x4.convert_i32x4_s(a), dx), v128.load(acc)));
  v128.store(acc, fma(sb, f32x4.mul(f32x4.convert_i32x4_s(b), dx), v128.load(acc, 16)), 16);
}

/**
 * Decode over Q8_STREAMS (4) whole groups at once, g + k·d (`gap` = d groups' bytes), each token:
 * groupRowsQ8's sums, one block of every group per step (2 threads streaming their halves of
 * 8192 × 2048: ~13 → ~17.5 GB/s).
 */
function streamRowsQ8(g: i32, d: i32, wg: usize, gap: usize, qx: usize, tokens: i32, nb: i32, y: usize, outStride: usize, r0: i32, r1: i32, constants: usize): void {
  for (let t = 0; t < tokens; t++) {
    const x = qx + <usize>t * <usize>nb * WIDE_ROW_BLOCK;
    let scale = x + <usize>nb * 64;
    const end = scale;
    let fa0 = f32x4.splat(0), fb0 = f32x4.splat(0), fa1 = f32x4.splat(0), fb1 = f32x4.splat(0);
    let fa2 = f32x4.splat(0), fb2 = f32x4.splat(0), fa3 = f32x4.splat(0), fb3 = f32x4.splat(0);
    let wb = wg;
    for (let xb = x; xb < end; xb += 64, scale += 4, wb += Q8_GROUP_BLOCK) {
      let sa0 = i32x4.splat(0), sb0 = i32x4.splat(0), sa1 = i32x4.splat(0), sb1 = i32x4.splat(0); // rows 0–3, 4–7
      let sa2 = i32x4.splat(0), sb2 = i32x4.splat(0), sa3 = i32x4.splat(0), sb3 = i32x4.splat(0);
      const pairsEnd = xb + 64;
      let wp = wb + 16;
      for (let xp = xb; xp < pairsEnd; xp += 4, wp += 16) {
        const p = v128.load32_splat(xp);
        sa0 = i32x4.add(sa0, i32x4.dot_i16x8_s(v128.load8x8_s(wp), p));
        sb0 = i32x4.add(sb0, i32x4.dot_i16x8_s(v128.load8x8_s(wp, 8), p));
        sa1 = i32x4.add(sa1, i32x4.dot_i16x8_s(v128.load8x8_s(wp + gap), p));
        sb1 = i32x4.add(sb1, i32x4.dot_i16x8_s(v128.load8x8_s(wp + gap, 8), p));
        sa2 = i32x4.add(sa2, i32x4.dot_i16x8_s(v128.load8x8_s(wp + 2 * gap), p));
        sb2 = i32x4.add(sb2, i32x4.dot_i16x8_s(v128.load8x8_s(wp + 2 * gap, 8), p));
        sa3 = i32x4.add(sa3, i32x4.dot_i16x8_s(v128.load8x8_s(wp + 3 * gap), p));
        sb3 = i32x4.add(sb3, i32x4.dot_i16x8_s(v128.load8x8_s(wp + 3 * gap, 8), p));
      }
      const halfMask = v128.load(constants, 16);
      const halfRebias = v128.load(constants, 32);
      const dx = v128.load32_splat(scale);
      fa0 = fma(groupScalesQ8(wb, false, halfMask, halfRebias), f32x4.mul(f32x4.convert_i32x4_s(sa0), dx), fa0);
      fb0 = fma(groupScalesQ8(wb, true, halfMask, halfRebias), f32x4.mul(f32x4.convert_i32x4_s(sb0), dx), fb0);
      fa1 = fma(groupScalesQ8(wb + gap, false, halfMask, halfRebias), f32x4.mul(f32x4.convert_i32x4_s(sa1), dx), fa1);
      fb1 = fma(groupScalesQ8(wb + gap, true, halfMask, halfRebias), f32x4.mul(f32x4.convert_i32x4_s(sb1), dx), fb1);
      fa2 = fma(groupScalesQ8(wb + 2 * gap, false, halfMask, halfRebias), f32x4.mul(f32x4.convert_i32x4_s(sa2), dx), fa2);
      fb2 = fma(groupScalesQ8(wb + 2 * gap, true, halfMask, halfRebias), f32x4.mul(f32x4.convert_i32x4_s(sb2), dx), fb2);
      fa3 = fma(groupScalesQ8(wb + 3 * gap, false, halfMask, halfRebias), f32x4.mul(f32x4.convert_i32x4_s(sa3), dx), fa3);
      fb3 = fma(groupScalesQ8(wb + 3 * gap, true, halfMask, halfRebias), f32x4.mul(f32x4.convert_i32x4_s(sb3), dx), fb3);
    }
    const out = y + <usize>t * outStride;
    storeGroup(fa0, fb0, out, g, r0, r1);
    storeGroup(fa1, fb1, out, g + d, r0, r1);
    storeGroup(fa2, fb2, out, g + 2 * d, r0, r1);
    storeGroup(fa3, fb3, out, g + 3 * d, r0, r1);
  }
}

/**
 * Q8_0 product over a tensor of `rows` rows whose whole groups of 8 are interleaved, tiled as matmulQ4 is.
 * `scratch`: the thread's own (a panel's sums, then the constants: see CONSTANTS).
 */
export function matmulQ8(w: usize, rowBytes: usize, rows: i32, qx: usize, tokens: i32, cols: i32, y: usize, yStride: i32, scratch: usize, r0: i32, r1: i32): void {
  const nb = cols >> 5;
  const outStride = <usize>yStride * 4;
  const groups = rows >> 3;
  const gEnd = (r1 + Q8_GROUP - 1) >> 3;
  const constants = scratch + CONSTANTS;
  storeConstants(scratch);
  if (tokens < PANEL) {
    // Decode: the range's whole groups as Q8_STREAMS streams, the groups left over one at a time, then
    // the rows past the last whole group (GGUF's layout).
    const g0 = r0 >> 3;
    const whole = min(gEnd, groups);
    const d = max(0, whole - g0) / Q8_STREAMS;
    for (let g = g0; g < g0 + d; g++) streamRowsQ8(g, d, w + <usize>g * Q8_GROUP * rowBytes, <usize>d * Q8_GROUP * rowBytes, qx, tokens, nb, y, outStride, r0, r1, constants);
    for (let g = g0 + Q8_STREAMS * d; g < whole; g++) groupRowsQ8(g, w + <usize>g * Q8_GROUP * rowBytes, qx, tokens, nb, y, outStride, r0, r1, constants);
    for (let t = 0; t < tokens; t++) {
      const x = qx + <usize>t * <usize>nb * WIDE_ROW_BLOCK;
      for (let r = max(r0, groups * Q8_GROUP); r < r1; r++) store<f32>(y + <usize>t * outStride + <usize>r * 4, dotQ8(w + <usize>r * rowBytes, x, nb));
    }
    return;
  }
  for (let tile = r0 >> 3; tile < gEnd; tile += ROW_TILE / Q8_GROUP) {
    const tileEnd = min(tile + ROW_TILE / Q8_GROUP, gEnd);
    const whole = min(tileEnd, groups);
    // Rows past the last whole group, in GGUF's layout.
    const tail0 = max(r0, max(tile, groups) * Q8_GROUP);
    const tail1 = min(r1, tileEnd * Q8_GROUP);
    for (let t = 0; t < tokens; t += PANEL) {
      const panel = qx + <usize>(t / PANEL) * <usize>nb * WIDE_PANEL_BLOCK;
      const out = y + <usize>t * outStride;
      for (let g = tile; g < whole; g++) groupPanelQ8(g, w + <usize>g * Q8_GROUP * rowBytes, panel, tokens - t, nb, out, outStride, r0, r1, scratch, constants);
      for (let r = tail0; r < tail1; r++) dotPanelQ8(w + <usize>r * rowBytes, panel, nb, out + <usize>r * 4, outStride, tokens - t, scratch);
    }
  }
}

// Q4_0: rows in groups of 4, interleaved block by block (interleaveQ4 rearranges a GGUF tensor in place),
// so that the vector lanes are the 4 rows and every product ends without a horizontal sum. A group's
// block is [4 × f16 scale][4 chunks × 16 bytes]: chunk a holds bytes 4a…4a+3 of each row's 16 GGUF
// nibble bytes, row after row — low nibbles are elements 4a…4a+3, high nibbles 16+4a…16+4a+3. Rows past
// the last whole group stay in GGUF's layout and are read into the same lanes as they go (the same
// arithmetic, so a row's result does not depend on where it sits).

const GROUP_BLOCK = 72;

/** Interleaves groups [g0, g1) of a GGUF Q4_0 tensor in place, through 4 rows of per-thread scratch. */
export function interleaveQ4(w: usize, rowBytes: usize, scratch: usize, g0: i32, g1: i32): void {
  const nb = <i32>(rowBytes / 18);
  for (let g = g0; g < g1; g++) {
    const group = w + <usize>g * 4 * rowBytes;
    memory.copy(scratch, group, 4 * rowBytes);
    for (let b = 0; b < nb; b++) {
      const src = scratch + <usize>b * 18;
      const dst = group + <usize>b * GROUP_BLOCK;
      v128.store(dst, gatherScales(src, rowBytes, 2 * rowBytes, 3 * rowBytes));
      for (let a = 0; a < 4; a++) v128.store(dst + 8 + <usize>a * 16, gatherChunk(src + 2 + <usize>a * 4, rowBytes, 2 * rowBytes, 3 * rowBytes));
    }
  }
}

/** Word `src` of 4 GGUF rows (the next ones `o1`, `o2`, `o3` bytes on): a group's chunk. */
@inline function gatherChunk(src: usize, o1: usize, o2: usize, o3: usize): v128 {
  let c = i32x4.splat(load<u32>(src));
  c = i32x4.replace_lane(c, 1, load<u32>(src + o1));
  c = i32x4.replace_lane(c, 2, load<u32>(src + o2));
  return i32x4.replace_lane(c, 3, load<u32>(src + o3));
}

/** The 4 rows' f16 scales in the low 8 bytes (the high 8 bytes are the group's chunk 0, rewritten next). */
@inline function gatherScales(src: usize, o1: usize, o2: usize, o3: usize): v128 {
  let h = i16x8.splat(load<u16>(src));
  h = i16x8.replace_lane(h, 1, load<u16>(src + o1));
  h = i16x8.replace_lane(h, 2, load<u16>(src + o2));
  return i16x8.replace_lane(h, 3, load<u16>(src + o3));
}

/**
 * The 4 rows' integer sums of one block: Σ_k x[k]·nibble[row, k] for the 32 int8 activations at `xb`
 * and a group's nibbles (`lo0`…`lo3`: chunk a's low nibbles, `hi0`…`hi3`: its high ones). Each chunk
 * meets a broadcast of the 4 activations it covers.
 */
@inline function groupDot(xb: usize, lo0: v128, lo1: v128, lo2: v128, lo3: v128, hi0: v128, hi1: v128, hi2: v128, hi3: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    // i16 pair sums (nibbles are the 7-bit operand: the same result everywhere); 8 of them reach 30480 at most.
    let p = i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xb), lo0);
    p = i16x8.add(p, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xb, 4), lo1));
    p = i16x8.add(p, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xb, 8), lo2));
    p = i16x8.add(p, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xb, 12), lo3));
    p = i16x8.add(p, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xb, 16), hi0));
    p = i16x8.add(p, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xb, 20), hi1));
    p = i16x8.add(p, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xb, 24), hi2));
    p = i16x8.add(p, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xb, 28), hi3));
    return i32x4.extadd_pairwise_i16x8_s(p);
  }
  // i32 lanes [row 0|1 (or 2|3), first|second pair of the chunk's 4 bytes], added up at the end.
  let lo = chunkDot(v128.load32_splat(xb), lo0, true);
  let hi = chunkDot(v128.load32_splat(xb), lo0, false);
  lo = i32x4.add(lo, chunkDot(v128.load32_splat(xb, 4), lo1, true));
  hi = i32x4.add(hi, chunkDot(v128.load32_splat(xb, 4), lo1, false));
  lo = i32x4.add(lo, chunkDot(v128.load32_splat(xb, 8), lo2, true));
  hi = i32x4.add(hi, chunkDot(v128.load32_splat(xb, 8), lo2, false));
  lo = i32x4.add(lo, chunkDot(v128.load32_splat(xb, 12), lo3, true));
  hi = i32x4.add(hi, chunkDot(v128.load32_splat(xb, 12), lo3, false));
  lo = i32x4.add(lo, chunkDot(v128.load32_splat(xb, 16), hi0, true));
  hi = i32x4.add(hi, chunkDot(v128.load32_splat(xb, 16), hi0, false));
  lo = i32x4.add(lo, chunkDot(v128.load32_splat(xb, 20), hi1, true));
  hi = i32x4.add(hi, chunkDot(v128.load32_splat(xb, 20), hi1, false));
  lo = i32x4.add(lo, chunkDot(v128.load32_splat(xb, 24), hi2, true));
  hi = i32x4.add(hi, chunkDot(v128.load32_splat(xb, 24), hi2, false));
  lo = i32x4.add(lo, chunkDot(v128.load32_splat(xb, 28), hi3, true));
  hi = i32x4.add(hi, chunkDot(v128.load32_splat(xb, 28), hi3, false));
  return i32x4.add(i32x4.shuffle(lo, hi, 0, 2, 4, 6), i32x4.shuffle(lo, hi, 1, 3, 5, 7));
}

@inline function lowNibbles(c: v128, m: v128): v128 {
  return v128.and(c, m);
}

@inline function highNibbles(c: v128, m: v128): v128 {
  return v128.and(i16x8.shr_u(c, 4), m);
}

/** Plain SIMD: products of a broadcast of 4 activations with rows 0–1 (`low`) or 2–3 of a chunk, pair sums in i32. */
@inline function chunkDot(x4: v128, n: v128, low: bool): v128 {
  if (low) return i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(x4), i16x8.extend_low_i8x16_u(n));
  return i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(x4), i16x8.extend_high_i8x16_u(n));
}

/** acc + scales·(dx·sums − 8·dx·Σx): one block's contribution to 4 rows, Q4_0's −8 folded into `offset`. */
@inline function groupStep(acc: v128, scales: v128, sums: v128, dx: v128, offset: v128): v128 {
  return fma(scales, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(sums), dx), offset), acc);
}

/** Lanes of `v` that belong to rows in [r0, r1) → out[row] (row = 4g + lane). */
@inline function storeRows(v: v128, out: usize, g: i32, r0: i32, r1: i32): void {
  const r = g << 2;
  const o = out + <usize>r * 4;
  if (r >= r0 && r + 4 <= r1) {
    v128.store(o, v);
    return;
  }
  if (r >= r0 && r < r1) store<f32>(o, f32x4.extract_lane(v, 0));
  if (r + 1 >= r0 && r + 1 < r1) store<f32>(o + 4, f32x4.extract_lane(v, 1));
  if (r + 2 >= r0 && r + 2 < r1) store<f32>(o + 8, f32x4.extract_lane(v, 2));
  if (r + 3 >= r0 && r + 3 < r1) store<f32>(o + 12, f32x4.extract_lane(v, 3));
}

/** Chunk `a` of the group block at `wb` (a tail's rows 1–3 are o1, o2, o3 bytes after row 0). */
@inline function chunk(wb: usize, o1: usize, o2: usize, o3: usize, a: i32, tail: bool): v128 {
  return tail ? gatherChunk(wb + 2 + <usize>a * 4, o1, o2, o3) : v128.load(wb + 8 + <usize>a * 16);
}

@inline function groupScales(wb: usize, o1: usize, o2: usize, o3: usize, tail: bool, halfMask: v128, halfRebias: v128): v128 {
  const h = tail ? gatherScales(wb, o1, o2, o3) : v128.load64_zero(wb);
  // Each half into both 16-bit halves of an i32 lane: one unpack, no zero register.
  return halfToFloat4(i16x8.shuffle(h, h, 0, 0, 1, 1, 2, 2, 3, 3), halfMask, halfRebias);
}

/** Relaxed SIMD: p + chunk c's low nibbles · the broadcast `lo` + its high nibbles · `hi`, i16 pair sums as in groupDot. */
@inline function chunkSums(p: v128, c: v128, lo: v128, hi: v128, m: v128): v128 {
  return i16x8.add(p, i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(lo, lowNibbles(c, m)), i16x8.relaxed_dot_i8x16_i7x16_s(hi, highNibbles(c, m))));
}

/** The integer sums of one block of the interleaved group at `wb` against the activations at `xb`. */
@inline function blockSums(xb: usize, wb: usize, m: v128): v128 {
  const c0 = v128.load(wb, 8);
  const c1 = v128.load(wb, 24);
  const c2 = v128.load(wb, 40);
  const c3 = v128.load(wb, 56);
  return groupDot(xb, lowNibbles(c0, m), lowNibbles(c1, m), lowNibbles(c2, m), lowNibbles(c3, m), highNibbles(c0, m), highNibbles(c1, m), highNibbles(c2, m), highNibbles(c3, m));
}

/** Group · each of `tokens` (fewer than PANEL) activation rows → out rows [r0, r1). */
@inline function groupRows(g: i32, qx: usize, tokens: i32, nb: i32, y: usize, outStride: usize, r0: i32, r1: i32, wg: usize, step: usize, o1: usize, o2: usize, o3: usize, tail: bool, m: v128, halfMask: v128, halfRebias: v128): void {
  for (let t = 0; t < tokens; t++) {
    const x = qx + <usize>t * <usize>nb * ROW_BLOCK;
    // Pointers stepped block by block: V8 recomputes products of loop counters on every pass.
    let scale = x + <usize>nb * 32;
    const end = scale;
    let offset = scale + <usize>nb * 4;
    let acc = f32x4.splat(0);
    let wb = wg;
    for (let xb = x; xb < end; xb += 32, scale += 4, offset += 4, wb += step) {
      const c0 = chunk(wb, o1, o2, o3, 0, tail);
      const c1 = chunk(wb, o1, o2, o3, 1, tail);
      const c2 = chunk(wb, o1, o2, o3, 2, tail);
      const c3 = chunk(wb, o1, o2, o3, 3, tail);
      const s = groupDot(xb, lowNibbles(c0, m), lowNibbles(c1, m), lowNibbles(c2, m), lowNibbles(c3, m), highNibbles(c0, m), highNibbles(c1, m), highNibbles(c2, m), highNibbles(c3, m));
      acc = groupStep(acc, groupScales(wb, o1, o2, o3, tail, halfMask, halfRebias), s, v128.load32_splat(scale), v128.load32_splat(offset));
    }
    storeRows(acc, y + <usize>t * outStride, g, r0, r1);
  }
}

/**
 * Group · one panel of activations (its first `tokens` real) → out rows [r0, r1) of the panel's tokens.
 * The block's nibbles stay in registers while the panel's tokens pass over them; the tokens'
 * accumulators live in `acc` (PANEL × 16 bytes of the thread's scratch). Held in registers as well,
 * they left V8 too few: it loaded all 32 activation broadcasts first and spilled them (the loop ran
 * 25–30 % slower). A store to `acc` after each token keeps the next token's loads after it.
 */
@inline function groupPanel(g: i32, panel: usize, tokens: i32, nb: i32, out: usize, outStride: usize, r0: i32, r1: i32, wg: usize, step: usize, o1: usize, o2: usize, o3: usize, tail: bool, acc: usize, m: v128, halfMask: v128, halfRebias: v128): void {
  for (let t = 0; t < PANEL; t++) v128.store(acc + <usize>t * 16, f32x4.splat(0));
  let wb = wg;
  const end = panel + <usize>nb * PANEL_BLOCK;
  for (let xb = panel; xb < end; xb += PANEL_BLOCK, wb += step) {
    const c0 = chunk(wb, o1, o2, o3, 0, tail);
    const c1 = chunk(wb, o1, o2, o3, 1, tail);
    const c2 = chunk(wb, o1, o2, o3, 2, tail);
    const c3 = chunk(wb, o1, o2, o3, 3, tail);
    const lo0 = lowNibbles(c0, m), lo1 = lowNibbles(c1, m), lo2 = lowNibbles(c2, m), lo3 = lowNibbles(c3, m);
    const hi0 = highNibbles(c0, m), hi1 = highNibbles(c1, m), hi2 = highNibbles(c2, m), hi3 = highNibbles(c3, m);
    const sc = groupScales(wb, o1, o2, o3, tail, halfMask, halfRebias);
    const dx = xb + PANEL * 32;
    v128.store(acc, groupStep(v128.load(acc), sc, groupDot(xb, lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3), v128.load32_splat(dx), v128.load32_splat(dx, PANEL * 4)));
    v128.store(acc, groupStep(v128.load(acc, 16), sc, groupDot(xb + 32, lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3), v128.load32_splat(dx, 4), v128.load32_splat(dx, PANEL * 4 + 4)), 16);
    v128.store(acc, groupStep(v128.load(acc, 32), sc, groupDot(xb + 64, lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3), v128.load32_splat(dx, 8), v128.load32_splat(dx, PANEL * 4 + 8)), 32);
    v128.store(acc, groupStep(v128.load(acc, 48), sc, groupDot(xb + 96, lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3), v128.load32_splat(dx, 12), v128.load32_splat(dx, PANEL * 4 + 12)), 48);
  }
  for (let t = 0; t < min(tokens, PANEL); t++) storeRows(v128.load(acc + <usize>t * 16), out + <usize>t * outStride, g, r0, r1);
}

// One function per case, not inlined: TurboFan allocates registers per function, and a loop that
// shares its function with the others spills its accumulators and constants. The vector constants come
// in as arguments (read from the scratch where storeConstants put them), which V8 keeps in registers.
function interleavedRows(g: i32, qx: usize, tokens: i32, nb: i32, y: usize, outStride: usize, r0: i32, r1: i32, wg: usize, m: v128, halfMask: v128, halfRebias: v128): void {
  groupRows(g, qx, tokens, nb, y, outStride, r0, r1, wg, GROUP_BLOCK, 0, 0, 0, false, m, halfMask, halfRebias);
}
function tailRows(g: i32, qx: usize, tokens: i32, nb: i32, y: usize, outStride: usize, r0: i32, r1: i32, wg: usize, o1: usize, o2: usize, o3: usize, m: v128, halfMask: v128, halfRebias: v128): void {
  groupRows(g, qx, tokens, nb, y, outStride, r0, r1, wg, 18, o1, o2, o3, true, m, halfMask, halfRebias);
}
function interleavedPanel(g: i32, panel: usize, tokens: i32, nb: i32, out: usize, outStride: usize, r0: i32, r1: i32, wg: usize, acc: usize, m: v128, halfMask: v128, halfRebias: v128): void {
  groupPanel(g, panel, tokens, nb, out, outStride, r0, r1, wg, GROUP_BLOCK, 0, 0, 0, false, acc, m, halfMask, halfRebias);
}
function tailPanel(g: i32, panel: usize, tokens: i32, nb: i32, out: usize, outStride: usize, r0: i32, r1: i32, wg: usize, o1: usize, o2: usize, o3: usize, acc: usize, m: v128, halfMask: v128, halfRebias: v128): void {
  groupPanel(g, panel, tokens, nb, out, outStride, r0, r1, wg, 18, o1, o2, o3, true, acc, m, halfMask, halfRebias);
}

/**
 * Decode over Q4_STREAMS (6) whole groups at once, g + k·d (`gap` = d groups' bytes), each token: the
 * same arithmetic as groupRows, one block of every group per step (2 threads streaming their halves of
 * 8192 × 2048: ~11.5 GB/s with one stream, ~15 with 4, ~17 with 6; 8 spill registers).
 */
function streamRows(g: i32, d: i32, qx: usize, tokens: i32, nb: i32, y: usize, outStride: usize, r0: i32, r1: i32, wg: usize, gap: usize, m: v128, halfMask: v128, halfRebias: v128): void {
  for (let t = 0; t < tokens; t++) {
    const x = qx + <usize>t * <usize>nb * ROW_BLOCK;
    let scale = x + <usize>nb * 32;
    const end = scale;
    let offset = scale + <usize>nb * 4;
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0), acc4 = f32x4.splat(0), acc5 = f32x4.splat(0);
    let wb = wg;
    for (let xb = x; xb < end; xb += 32, scale += 4, offset += 4, wb += GROUP_BLOCK) {
      let s0: v128, s1: v128, s2: v128, s3: v128, s4: v128, s5: v128;
      if (ASC_FEATURE_RELAXED_SIMD) {
        // Each broadcast of 4 activations meets the matching chunk of every group (10 % faster than
        // loading them again per group).
        let p0 = i16x8.splat(0), p1 = i16x8.splat(0), p2 = i16x8.splat(0), p3 = i16x8.splat(0), p4 = i16x8.splat(0), p5 = i16x8.splat(0);
        for (let a: usize = 0; a < 4; a++) {
          const lo = v128.load32_splat(xb + a * 4);
          const hi = v128.load32_splat(xb + 16 + a * 4);
          const c = wb + 8 + a * 16;
          p0 = chunkSums(p0, v128.load(c), lo, hi, m);
          p1 = chunkSums(p1, v128.load(c + gap), lo, hi, m);
          p2 = chunkSums(p2, v128.load(c + 2 * gap), lo, hi, m);
          p3 = chunkSums(p3, v128.load(c + 3 * gap), lo, hi, m);
          p4 = chunkSums(p4, v128.load(c + 4 * gap), lo, hi, m);
          p5 = chunkSums(p5, v128.load(c + 5 * gap), lo, hi, m);
        }
        s0 = i32x4.extadd_pairwise_i16x8_s(p0);
        s1 = i32x4.extadd_pairwise_i16x8_s(p1);
        s2 = i32x4.extadd_pairwise_i16x8_s(p2);
        s3 = i32x4.extadd_pairwise_i16x8_s(p3);
        s4 = i32x4.extadd_pairwise_i16x8_s(p4);
        s5 = i32x4.extadd_pairwise_i16x8_s(p5);
      } else {
        s0 = blockSums(xb, wb, m);
        s1 = blockSums(xb, wb + gap, m);
        s2 = blockSums(xb, wb + 2 * gap, m);
        s3 = blockSums(xb, wb + 3 * gap, m);
        s4 = blockSums(xb, wb + 4 * gap, m);
        s5 = blockSums(xb, wb + 5 * gap, m);
      }
      const dx = v128.load32_splat(scale);
      const off = v128.load32_splat(offset);
      acc0 = groupStep(acc0, streamScales(wb, halfMask, halfRebias), s0, dx, off);
      acc1 = groupStep(acc1, streamScales(wb + gap, halfMask, halfRebias), s1, dx, off);
      acc2 = groupStep(acc2, streamScales(wb + 2 * gap, halfMask, halfRebias), s2, dx, off);
      acc3 = groupStep(acc3, streamScales(wb + 3 * gap, halfMask, halfRebias), s3, dx, off);
      acc4 = groupStep(acc4, streamScales(wb + 4 * gap, halfMask, halfRebias), s4, dx, off);
      acc5 = groupStep(acc5, streamScales(wb + 5 * gap, halfMask, halfRebias), s5, dx, off);
    }
    const out = y + <usize>t * outStride;
    storeRows(acc0, out, g, r0, r1);
    storeRows(acc1, out, g + d, r0, r1);
    storeRows(acc2, out, g + 2 * d, r0, r1);
    storeRows(acc3, out, g + 3 * d, r0, r1);
    storeRows(acc4, out, g + 4 * d, r0, r1);
    storeRows(acc5, out, g + 5 * d, r0, r1);
  }
}

/** The scales of the interleaved group block at `wb` as float32. */
@inline function streamScales(wb: usize, halfMask: v128, halfRebias: v128): v128 {
  return groupScales(wb, 0, 0, 0, false, halfMask, halfRebias);
}

/** Bytes from a tail group's row 0 to its row k: its last row fills the lanes of the rows it lacks. */
@inline function tailOffset(rows: i32, g: i32, k: i32, rowBytes: usize): usize {
  return <usize>min(k, rows - 1 - (g << 2)) * rowBytes;
}

/**
 * Q4_0 product over a tensor of `rows` rows whose whole groups are interleaved. A tile of groups stays
 * in L2 while every token (or panel) passes over it; a group split between two threads' ranges is
 * computed by both, each storing its own rows. `scratch`: the thread's own (a panel's accumulators,
 * then the constants: see CONSTANTS).
 */
export function matmulQ4(w: usize, rowBytes: usize, rows: i32, qx: usize, tokens: i32, cols: i32, y: usize, yStride: i32, scratch: usize, r0: i32, r1: i32): void {
  const nb = cols >> 5;
  const outStride = <usize>yStride * 4;
  const groups = rows >> 2;
  const gEnd = (r1 + 3) >> 2;
  storeConstants(scratch);
  const m = v128.load(scratch, CONSTANTS);
  const halfMask = v128.load(scratch, CONSTANTS + 16);
  const halfRebias = v128.load(scratch, CONSTANTS + 32);
  if (tokens < PANEL) {
    // Decode: the range's whole groups as Q4_STREAMS streams, then what is left over one group at a time.
    const g0 = r0 >> 2;
    const d = max(0, min(gEnd, groups) - g0) / Q4_STREAMS;
    for (let g = g0; g < g0 + d; g++) streamRows(g, d, qx, tokens, nb, y, outStride, r0, r1, w + <usize>g * 4 * rowBytes, <usize>d * 4 * rowBytes, m, halfMask, halfRebias);
    for (let g = g0 + Q4_STREAMS * d; g < gEnd; g++) {
      const wg = w + <usize>g * 4 * rowBytes;
      if (g < groups) interleavedRows(g, qx, tokens, nb, y, outStride, r0, r1, wg, m, halfMask, halfRebias);
      else tailRows(g, qx, tokens, nb, y, outStride, r0, r1, wg, tailOffset(rows, g, 1, rowBytes), tailOffset(rows, g, 2, rowBytes), tailOffset(rows, g, 3, rowBytes), m, halfMask, halfRebias);
    }
    return;
  }
  for (let tile = r0 >> 2; tile < gEnd; tile += ROW_TILE / 4) {
    const tileEnd = min(tile + ROW_TILE / 4, gEnd);
    for (let t = 0; t < tokens; t += PANEL) {
      for (let g = tile; g < tileEnd; g++) {
        const wg = w + <usize>g * 4 * rowBytes;
        const panel = qx + <usize>(t / PANEL) * <usize>nb * PANEL_BLOCK;
        const out = y + <usize>t * outStride;
        if (g < groups) interleavedPanel(g, panel, tokens - t, nb, out, outStride, r0, r1, wg, scratch, m, halfMask, halfRebias);
        else tailPanel(g, panel, tokens - t, nb, out, outStride, r0, r1, wg, tailOffset(rows, g, 1, rowBytes), tailOffset(rows, g, 2, rowBytes), tailOffset(rows, g, 3, rowBytes), scratch, m, halfMask, halfRebias);
      }
    }
  }
}

const F32: i32 = 0;
const BF16: i32 = 1;
const F16: i32 = 2;

/** 4 weights of the given float type at element i of `row`, as float32x4. */
@inline function load4(row: usize, i: i32, kind: i32): v128 {
  if (kind == F32) return v128.load(row + <usize>i * 4);
  const h = i32x4.shl(v128.load16x4_u(row + <usize>i * 2), 16);
  if (kind == BF16) return h;
  return halfToFloat4(h);
}

@inline function load1(row: usize, i: i32, kind: i32): f32 {
  if (kind == F32) return load<f32>(row + <usize>i * 4);
  const h = <u32>load<u16>(row + <usize>i * 2);
  if (kind == BF16) return reinterpret<f32>(h << 16);
  return halfToFloat(h);
}

/** BF16 weights as float32: the 8 at `v` (a v128 load) unpacked against zero, first or last 4. */
@inline function bf16Low(v: v128): v128 {
  return i16x8.shuffle(i16x8.splat(0), v, 0, 8, 1, 9, 2, 10, 3, 11);
}

@inline function bf16High(v: v128): v128 {
  return i16x8.shuffle(i16x8.splat(0), v, 4, 12, 5, 13, 6, 14, 7, 15);
}

@inline function dotFloat(row: usize, x: usize, cols: i32, kind: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let i = 0;
  if (kind == BF16) {
    // 8 weights per load, unpacked against zero into the high halves of float32 lanes: one shuffle
    // per 4 weights, off the ports the multiply-adds use. Pointers step: V8 recomputes i-based addresses.
    const end = row + <usize>(cols & ~15) * 2;
    let xi = x;
    for (let w = row; w < end; w += 32, xi += 64) {
      const lo = v128.load(w);
      const hi = v128.load(w, 16);
      a0 = fma(bf16Low(lo), v128.load(xi), a0);
      a1 = fma(bf16High(lo), v128.load(xi, 16), a1);
      a2 = fma(bf16Low(hi), v128.load(xi, 32), a2);
      a3 = fma(bf16High(hi), v128.load(xi, 48), a3);
    }
    i = cols & ~15;
  } else {
    for (; i + 16 <= cols; i += 16) {
      const xi = x + <usize>i * 4;
      a0 = fma(load4(row, i, kind), v128.load(xi), a0);
      a1 = fma(load4(row, i + 4, kind), v128.load(xi + 16), a1);
      a2 = fma(load4(row, i + 8, kind), v128.load(xi + 32), a2);
      a3 = fma(load4(row, i + 12, kind), v128.load(xi + 48), a3);
    }
  }
  for (; i + 4 <= cols; i += 4) a0 = fma(load4(row, i, kind), v128.load(x + <usize>i * 4), a0);
  let sum = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; i < cols; i++) sum += load1(row, i, kind) * load<f32>(x + <usize>i * 4);
  return sum;
}

// Float weights (F32, BF16, F16), interleaved: rows in groups of 8, input by input (interleaveFloats and
// interleaveHalves rearrange a tensor in place), so that the vector lanes are rows: each token's
// activation is one broadcast and a product needs no horizontal sum. Input i of a group holds the 8
// rows' weights: F32 in row order (32 bytes), BF16 and F16 in the order r0 r4 r1 r5 r2 r6 r3 r7
// (16 bytes), so that a left shift by 16 bits puts rows 0–3 in the high halves of 32-bit lanes and a
// mask leaves rows 4–7 there, without shuffles. Rows past the last whole group stay in their own layout
// (dotFloat). All three types sum in the same order, so a product's result depends only on the values.

const FLOAT_GROUP = 8;

export function interleaveFloats(w: usize, rowBytes: usize, scratch: usize, g0: i32, g1: i32): void {
  interleaveGroups(w, rowBytes, scratch, g0, g1, false);
}

export function interleaveHalves(w: usize, rowBytes: usize, scratch: usize, g0: i32, g1: i32): void {
  interleaveGroups(w, rowBytes, scratch, g0, g1, true);
}

/** Interleaves groups [g0, g1) of a float tensor (16-bit values if `halves`) in place, through 8 rows of per-thread scratch. */
@inline function interleaveGroups(w: usize, rowBytes: usize, scratch: usize, g0: i32, g1: i32, halves: bool): void {
  const size: usize = halves ? 2 : 4;
  const cols = <i32>(rowBytes / size);
  const groupBytes = <usize>FLOAT_GROUP * rowBytes;
  for (let g = g0; g < g1; g++) {
    const group = w + <usize>g * groupBytes;
    memory.copy(scratch, group, groupBytes);
    const step: i32 = halves ? 8 : 4; // inputs per pass: 8 × 8 or 8 × 4 values at once
    let i = 0;
    for (; i + step <= cols; i += step) {
      const src = scratch + <usize>i * size;
      const dst = group + <usize>i * FLOAT_GROUP * size;
      const r0 = v128.load(src), r1 = v128.load(src + rowBytes), r2 = v128.load(src + 2 * rowBytes), r3 = v128.load(src + 3 * rowBytes);
      const r4 = v128.load(src + 4 * rowBytes), r5 = v128.load(src + 5 * rowBytes), r6 = v128.load(src + 6 * rowBytes), r7 = v128.load(src + 7 * rowBytes);
      if (halves) {
        transpose8x16(dst, r0, r4, r1, r5, r2, r6, r3, r7); // each input: rows 0 4 1 5 2 6 3 7
      } else {
        transpose4(dst, 32, r0, r1, r2, r3);
        transpose4(dst + 16, 32, r4, r5, r6, r7);
      }
    }
    for (; i < cols; i++) {
      for (let k = 0; k < FLOAT_GROUP; k++) {
        const from = scratch + <usize>k * rowBytes + <usize>i * size;
        const to = group + <usize>i * FLOAT_GROUP * size;
        if (halves) store<u16>(to + <usize>(((k & 3) << 1) | (k >> 2)) * 2, load<u16>(from));
        else store<u32>(to + <usize>k * 4, load<u32>(from));
      }
    }
  }
}

/** An 8 × 8 transpose of 16-bit values: element j of a, b, …, h → the 16 bytes at dst + 16j, in that order. */
@inline function transpose8x16(dst: usize, a: v128, b: v128, c: v128, d: v128, e: v128, f: v128, g: v128, h: v128): void {
  // Pairs (a, b), (c, d), … of 16 bits, then a 4 × 4 transpose of the pairs.
  transpose4(dst, 16, i16x8.shuffle(a, b, 0, 8, 1, 9, 2, 10, 3, 11), i16x8.shuffle(c, d, 0, 8, 1, 9, 2, 10, 3, 11), i16x8.shuffle(e, f, 0, 8, 1, 9, 2, 10, 3, 11), i16x8.shuffle(g, h, 0, 8, 1, 9, 2, 10, 3, 11));
  transpose4(dst + 64, 16, i16x8.shuffle(a, b, 4, 12, 5, 13, 6, 14, 7, 15), i16x8.shuffle(c, d, 4, 12, 5, 13, 6, 14, 7, 15), i16x8.shuffle(e, f, 4, 12, 5, 13, 6, 14, 7, 15), i16x8.shuffle(g, h, 4, 12, 5, 13, 6, 14, 7, 15));
}

/** 32-bit lanes of a, b, c, d transposed: lane j of each → dst + j·stride, in that order. */
@inline function transpose4(dst: usize, stride: usize, a: v128, b: v128, c: v128, d: v128): void {
  const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5), ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5), cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(dst, i64x2.shuffle(ab0, cd0, 0, 2));
  v128.store(dst + stride, i64x2.shuffle(ab0, cd0, 1, 3));
  v128.store(dst + 2 * stride, i64x2.shuffle(ab1, cd1, 0, 2));
  v128.store(dst + 3 * stride, i64x2.shuffle(ab1, cd1, 1, 3));
}

/** Rows 0–3 (or 4–7 if `high`) of input `w` of a group as float32; `v` is the input's 16 bytes for 16-bit types. */
@inline function groupRowsOf(w: usize, v: v128, high: bool, kind: i32, mask: v128, halfMask: v128, halfRebias: v128): v128 {
  if (kind == F32) return high ? v128.load(w, 16) : v128.load(w);
  if (kind == BF16) return high ? v128.and(v, mask) : i32x4.shl(v, 16);
  return halfToFloat4(high ? v : i32x4.shl(v, 16), halfMask, halfRebias); // halfToFloat4 ignores the low halves
}

/** 8 outputs (rows 8g … 8g + 7 in the lanes of a and b) → out, those in [r0, r1). */
@inline function storeGroup(a: v128, b: v128, out: usize, g: i32, r0: i32, r1: i32): void {
  storeRows(a, out, 2 * g, r0, r1);
  storeRows(b, out, 2 * g + 1, r0, r1);
}

/**
 * Inputs per partial sum of the float products: each row sums blocks of SUM_BLOCK inputs in a chain of
 * multiply-adds, then adds the blocks' sums up, so float32 rounding grows with SUM_BLOCK + cols/SUM_BLOCK
 * rather than with cols. Every token of every product sums in this order, so a token's results do not
 * depend on how many tokens the product has (prefill and decode agree).
 */
const SUM_BLOCK = 32;

/**
 * One token's activations at x · group g, or two (`both`: also group g + dg, `gap` bytes further) → out.
 * Two groups give the multiply-adds four independent chains; far apart, they are two streams from
 * memory (see Q4_STREAMS).
 */
@inline function groupToken(kind: i32, wg: usize, gap: usize, dg: i32, both: bool, cols: i32, x: usize, out: usize, g: i32, r0: i32, r1: i32, mask: v128, halfMask: v128, halfRebias: v128): void {
  const size: usize = kind == F32 ? 32 : 16; // bytes of one input of a group
  let ta = f32x4.splat(0), tb = f32x4.splat(0), tc = f32x4.splat(0), td = f32x4.splat(0); // rows 0–3, 4–7 of each group
  const end = wg + <usize>cols * size;
  let xi = x;
  for (let w = wg; w < end; ) {
    const blockEnd = min(w + <usize>SUM_BLOCK * size, end);
    let a = f32x4.splat(0), b = f32x4.splat(0), c = f32x4.splat(0), d = f32x4.splat(0);
    for (; w < blockEnd; w += size, xi += 4) {
      const v = kind == F32 ? v128.splat<i32>(0) : v128.load(w);
      const p = v128.load32_splat(xi);
      a = fma(groupRowsOf(w, v, false, kind, mask, halfMask, halfRebias), p, a);
      b = fma(groupRowsOf(w, v, true, kind, mask, halfMask, halfRebias), p, b);
      if (both) {
        const w2 = w + gap;
        const v2 = kind == F32 ? v128.splat<i32>(0) : v128.load(w2);
        c = fma(groupRowsOf(w2, v2, false, kind, mask, halfMask, halfRebias), p, c);
        d = fma(groupRowsOf(w2, v2, true, kind, mask, halfMask, halfRebias), p, d);
      }
    }
    ta = f32x4.add(ta, a);
    tb = f32x4.add(tb, b);
    tc = f32x4.add(tc, c);
    td = f32x4.add(td, d);
  }
  storeGroup(ta, tb, out, g, r0, r1);
  if (both) storeGroup(tc, td, out, g + dg, r0, r1);
}

/**
 * A group · PANEL tokens' activations (rows x, x + xStride, …) → out rows of those tokens. The eight
 * chains fill the registers: the blocks' sums add up in `sums` (128 bytes of the thread's scratch).
 */
@inline function groupPanelFloat(kind: i32, wg: usize, cols: i32, x: usize, xStride: usize, out: usize, outStride: usize, g: i32, r0: i32, r1: i32, sums: usize, mask: v128, halfMask: v128, halfRebias: v128): void {
  const size: usize = kind == F32 ? 32 : 16;
  for (let k: usize = 0; k < 8; k++) v128.store(sums + k * 16, f32x4.splat(0));
  const end = wg + <usize>cols * size;
  let x0 = x, x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride;
  for (let w = wg; w < end; ) {
    const blockEnd = min(w + <usize>SUM_BLOCK * size, end);
    let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
    let a2 = f32x4.splat(0), b2 = f32x4.splat(0), a3 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (; w < blockEnd; w += size, x0 += 4, x1 += 4, x2 += 4, x3 += 4) {
      const v = kind == F32 ? v128.splat<i32>(0) : v128.load(w);
      const lo = groupRowsOf(w, v, false, kind, mask, halfMask, halfRebias);
      const hi = groupRowsOf(w, v, true, kind, mask, halfMask, halfRebias);
      let p = v128.load32_splat(x0);
      a0 = fma(lo, p, a0);
      b0 = fma(hi, p, b0);
      p = v128.load32_splat(x1);
      a1 = fma(lo, p, a1);
      b1 = fma(hi, p, b1);
      p = v128.load32_splat(x2);
      a2 = fma(lo, p, a2);
      b2 = fma(hi, p, b2);
      p = v128.load32_splat(x3);
      a3 = fma(lo, p, a3);
      b3 = fma(hi, p, b3);
    }
    v128.store(sums, f32x4.add(v128.load(sums), a0));
    v128.store(sums, f32x4.add(v128.load(sums, 16), b0), 16);
    v128.store(sums, f32x4.add(v128.load(sums, 32), a1), 32);
    v128.store(sums, f32x4.add(v128.load(sums, 48), b1), 48);
    v128.store(sums, f32x4.add(v128.load(sums, 64), a2), 64);
    v128.store(sums, f32x4.add(v128.load(sums, 80), b2), 80);
    v128.store(sums, f32x4.add(v128.load(sums, 96), a3), 96);
    v128.store(sums, f32x4.add(v128.load(sums, 112), b3), 112);
  }
  for (let t: usize = 0; t < <usize>PANEL; t++) storeGroup(v128.load(sums + t * 32), v128.load(sums + t * 32 + 16), out + t * outStride, g, r0, r1);
}

// One function per case, not inlined (see interleavedRows).
function tokenF32(wg: usize, gap: usize, dg: i32, both: bool, cols: i32, x: usize, out: usize, g: i32, r0: i32, r1: i32, mask: v128, halfMask: v128, halfRebias: v128): void {
  groupToken(F32, wg, gap, dg, both, cols, x, out, g, r0, r1, mask, halfMask, halfRebias);
}
function tokenBF16(wg: usize, gap: usize, dg: i32, both: bool, cols: i32, x: usize, out: usize, g: i32, r0: i32, r1: i32, mask: v128, halfMask: v128, halfRebias: v128): void {
  groupToken(BF16, wg, gap, dg, both, cols, x, out, g, r0, r1, mask, halfMask, halfRebias);
}
function tokenF16(wg: usize, gap: usize, dg: i32, both: bool, cols: i32, x: usize, out: usize, g: i32, r0: i32, r1: i32, mask: v128, halfMask: v128, halfRebias: v128): void {
  groupToken(F16, wg, gap, dg, both, cols, x, out, g, r0, r1, mask, halfMask, halfRebias);
}
function panelF32(wg: usize, cols: i32, x: usize, xStride: usize, out: usize, outStride: usize, g: i32, r0: i32, r1: i32, sums: usize, mask: v128, halfMask: v128, halfRebias: v128): void {
  groupPanelFloat(F32, wg, cols, x, xStride, out, outStride, g, r0, r1, sums, mask, halfMask, halfRebias);
}
function panelBF16(wg: usize, cols: i32, x: usize, xStride: usize, out: usize, outStride: usize, g: i32, r0: i32, r1: i32, sums: usize, mask: v128, halfMask: v128, halfRebias: v128): void {
  groupPanelFloat(BF16, wg, cols, x, xStride, out, outStride, g, r0, r1, sums, mask, halfMask, halfRebias);
}
function panelF16(wg: usize, cols: i32, x: usize, xStride: usize, out: usize, outStride: usize, g: i32, r0: i32, r1: i32, sums: usize, mask: v128, halfMask: v128, halfRebias: v128): void {
  groupPanelFloat(F16, wg, cols, x, xStride, out, outStride, g, r0, r1, sums, mask, halfMask, halfRebias);
}

/**
 * Float product over a tensor of `rows` rows whose whole groups of 8 are interleaved, tiled as matmulQ4
 * is: tokens PANEL at a time, then one by one. `scratch`: the thread's own (a panel's sums, then the
 * constants: see CONSTANTS).
 */
@inline function floatProduct(kind: i32, w: usize, rowBytes: usize, rows: i32, x: usize, tokens: i32, cols: i32, y: usize, yStride: i32, scratch: usize, r0: i32, r1: i32): void {
  const outStride = <usize>yStride * 4;
  const xStride = <usize>cols * 4;
  const groups = rows >> 3;
  const gEnd = (r1 + FLOAT_GROUP - 1) >> 3;
  const groupBytes = <usize>FLOAT_GROUP * rowBytes;
  storeConstants(scratch);
  const halfMask = v128.load(scratch, CONSTANTS + 16);
  const halfRebias = v128.load(scratch, CONSTANTS + 32);
  const mask = v128.load(scratch, CONSTANTS + 48);
  if (tokens < PANEL) {
    // Decode: the range's whole groups as two streams (its first and second half), then the group left
    // over and the rows past the last whole group.
    const g0 = r0 >> 3;
    const whole = min(gEnd, groups);
    const d = max(0, whole - g0) >> 1;
    for (let g = g0; g < g0 + d; g++) {
      for (let t = 0; t < tokens; t++) floatToken(kind, w + <usize>g * groupBytes, <usize>d * groupBytes, d, true, cols, x + <usize>t * xStride, y + <usize>t * outStride, g, r0, r1, mask, halfMask, halfRebias);
    }
    for (let g = g0 + 2 * d; g < whole; g++) {
      for (let t = 0; t < tokens; t++) floatToken(kind, w + <usize>g * groupBytes, 0, 0, false, cols, x + <usize>t * xStride, y + <usize>t * outStride, g, r0, r1, mask, halfMask, halfRebias);
    }
    floatTail(kind, w, rowBytes, max(r0, groups * FLOAT_GROUP), r1, x, tokens, cols, y, outStride);
    return;
  }
  for (let tile = r0 >> 3; tile < gEnd; tile += ROW_TILE / FLOAT_GROUP) {
    const tileEnd = min(tile + ROW_TILE / FLOAT_GROUP, gEnd);
    const whole = min(tileEnd, groups); // groups of the tile that are interleaved
    let t = 0;
    for (; t + PANEL <= tokens; t += PANEL) {
      const xt = x + <usize>t * xStride;
      const out = y + <usize>t * outStride;
      for (let g = tile; g < whole; g++) {
        const wg = w + <usize>g * groupBytes;
        if (kind == F32) panelF32(wg, cols, xt, xStride, out, outStride, g, r0, r1, scratch, mask, halfMask, halfRebias);
        else if (kind == BF16) panelBF16(wg, cols, xt, xStride, out, outStride, g, r0, r1, scratch, mask, halfMask, halfRebias);
        else panelF16(wg, cols, xt, xStride, out, outStride, g, r0, r1, scratch, mask, halfMask, halfRebias);
      }
    }
    for (; t < tokens; t++) {
      for (let g = tile; g < whole; g += 2) floatToken(kind, w + <usize>g * groupBytes, groupBytes, 1, g + 1 < whole, cols, x + <usize>t * xStride, y + <usize>t * outStride, g, r0, r1, mask, halfMask, halfRebias);
    }
    floatTail(kind, w, rowBytes, max(r0, max(tile, groups) * FLOAT_GROUP), min(r1, tileEnd * FLOAT_GROUP), x, tokens, cols, y, outStride);
  }
}

/** Rows [r0, r1) past the last whole group, in their own layout · every token. */
@inline function floatTail(kind: i32, w: usize, rowBytes: usize, r0: i32, r1: i32, x: usize, tokens: i32, cols: i32, y: usize, outStride: usize): void {
  for (let r = r0; r < r1; r++) {
    for (let t = 0; t < tokens; t++) store<f32>(y + <usize>t * outStride + <usize>r * 4, dotFloat(w + <usize>r * rowBytes, x + <usize>t * <usize>cols * 4, cols, kind));
  }
}

/** Group g (and g + dg, `gap` bytes on, if `both`) · one token, through the dtype's own function. */
@inline function floatToken(kind: i32, wg: usize, gap: usize, dg: i32, both: bool, cols: i32, x: usize, out: usize, g: i32, r0: i32, r1: i32, mask: v128, halfMask: v128, halfRebias: v128): void {
  if (kind == F32) tokenF32(wg, gap, dg, both, cols, x, out, g, r0, r1, mask, halfMask, halfRebias);
  else if (kind == BF16) tokenBF16(wg, gap, dg, both, cols, x, out, g, r0, r1, mask, halfMask, halfRebias);
  else tokenF16(wg, gap, dg, both, cols, x, out, g, r0, r1, mask, halfMask, halfRebias);
}

export function matmulF32(w: usize, rowBytes: usize, rows: i32, x: usize, tokens: i32, cols: i32, y: usize, yStride: i32, scratch: usize, r0: i32, r1: i32): void {
  floatProduct(F32, w, rowBytes, rows, x, tokens, cols, y, yStride, scratch, r0, r1);
}
export function matmulBF16(w: usize, rowBytes: usize, rows: i32, x: usize, tokens: i32, cols: i32, y: usize, yStride: i32, scratch: usize, r0: i32, r1: i32): void {
  floatProduct(BF16, w, rowBytes, rows, x, tokens, cols, y, yStride, scratch, r0, r1);
}
export function matmulF16(w: usize, rowBytes: usize, rows: i32, x: usize, tokens: i32, cols: i32, y: usize, yStride: i32, scratch: usize, r0: i32, r1: i32): void {
  floatProduct(F16, w, rowBytes, rows, x, tokens, cols, y, yStride, scratch, r0, r1);
}

// ---------------------------------------------------------------------------------------------------
// Attention: causal (optionally windowed) softmax attention of query rows [tokens, heads·headDim] over
// n cached keys/values [n, kvHeads·headDim] with int32 positions. Work items are (token, head) pairs
// [i0, i1); `scores` holds n floats of scratch for the calling thread.

/**
 * Scores this far below the largest count as zero: their weights (< e⁻⁶⁴ ≈ 2e-28 of the largest one)
 * cannot change a float32 sum, but as subnormal floats they cost x86 a microcode assist per product —
 * a peaked softmax (as in the synthetic benchmark model) ran 9× slower.
 */
const MIN_SCORE: f32 = -64;

export function attention(
  q: usize, qPos: usize, k: usize, v: usize, kPos: usize, n: i32,
  numHeads: i32, numKvHeads: i32, headDim: i32, scale: f32, window: i32,
  out: usize, scores: usize, i0: i32, i1: i32,
): void {
  const group = numHeads / numKvHeads;
  const kvStride = <usize>(numKvHeads * headDim) * 4;
  for (let item = i0; item < i1; item++) {
    const t = item / numHeads;
    const h = item % numHeads;
    const p = load<i32>(qPos + <usize>t * 4);
    const qRow = q + <usize>item * <usize>headDim * 4;
    const kvOffset = <usize>((h / group) * headDim) * 4;
    let m: f32 = -Infinity;
    for (let j = 0; j < n; j++) {
      const kp = load<i32>(kPos + <usize>j * 4);
      let s: f32 = -Infinity;
      if (kp <= p && (window == 0 || kp > p - window)) {
        s = dotFloat(k + <usize>j * kvStride + kvOffset, qRow, headDim, F32) * scale;
        if (s > m) m = s;
      }
      store<f32>(scores + <usize>j * 4, s);
    }
    let total: f32 = 0;
    for (let j = 0; j < n; j++) {
      const s = load<f32>(scores + <usize>j * 4);
      const d = s - m; // NaN when no key is visible (−∞ − −∞): weight 0 too
      const e: f32 = d >= MIN_SCORE ? Mathf.exp(d) : 0;
      store<f32>(scores + <usize>j * 4, e);
      total += e;
    }
    const o = out + <usize>item * <usize>headDim * 4;
    for (let i = 0; i < headDim; i += 4) v128.store(o + <usize>i * 4, f32x4.splat(0));
    const inv = f32x4.splat(1 / total);
    for (let j = 0; j < n; j++) {
      const e = load<f32>(scores + <usize>j * 4);
      if (e == 0) continue;
      const pj = f32x4.mul(f32x4.splat(e), inv);
      const vRow = v + <usize>j * kvStride + kvOffset;
      for (let i = 0; i < headDim; i += 4) {
        const at = o + <usize>i * 4;
        v128.store(at, fma(pj, v128.load(vRow + <usize>i * 4), v128.load(at)));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// RoPE (rotate-half), in place on rows [tokens, heads·headDim]: work items are (token, head) pairs
// [i0, i1), and token t's cos and sin are rows t of [tokens, headDim/2] float32 tables. The rotation
// runs in float64 and rounds once to float32, as the reference backend's does: the same bits.

export function rope(x: usize, heads: i32, headDim: i32, cos: usize, sin: usize, i0: i32, i1: i32): void {
  const half = headDim >> 1;
  for (let item = i0; item < i1; item++) {
    const a0 = x + <usize>item * <usize>headDim * 4;
    const b0 = a0 + <usize>half * 4;
    const c0 = cos + <usize>(item / heads) * <usize>half * 4;
    const s0 = sin + (c0 - cos);
    let i = 0;
    for (; i + 2 <= half; i += 2) {
      const at = <usize>i * 4;
      const a = f64x2.promote_low_f32x4(v128.load64_zero(a0 + at));
      const b = f64x2.promote_low_f32x4(v128.load64_zero(b0 + at));
      const c = f64x2.promote_low_f32x4(v128.load64_zero(c0 + at));
      const s = f64x2.promote_low_f32x4(v128.load64_zero(s0 + at));
      v128.store64_lane(a0 + at, f32x4.demote_f64x2_zero(f64x2.sub(f64x2.mul(a, c), f64x2.mul(b, s))), 0);
      v128.store64_lane(b0 + at, f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(b, c), f64x2.mul(a, s))), 0);
    }
    for (; i < half; i++) {
      const at = <usize>i * 4;
      const a = <f64>load<f32>(a0 + at);
      const b = <f64>load<f32>(b0 + at);
      const c = <f64>load<f32>(c0 + at);
      const s = <f64>load<f32>(s0 + at);
      store<f32>(a0 + at, <f32>(a * c - b * s));
      store<f32>(b0 + at, <f32>(b * c + a * s));
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Elementwise ops and RMSNorm. The transcendental ones use a vector exp (error ≲ 2e-7 relative), so
// they agree with float64 references to float32 rounding, not bit for bit.

/**
 * e^x for float32x4: 2^k · e^r with k = round(x·log₂e), r = x − k·ln2 (ln2 in two parts), e^r by Taylor
 * to r⁷. The clamps are pmin/pmax, one instruction each (a NaN passes through them).
 */
@inline function exp4(v: v128): v128 {
  const x = f32x4.pmax(f32x4.pmin(v, f32x4.splat(88)), f32x4.splat(-87));
  const kr = rounded(f32x4.mul(x, f32x4.splat(1.4426950408889634)));
  const k = f32x4.sub(kr, f32x4.splat(ROUNDER));
  let r = f32x4.sub(x, f32x4.mul(k, f32x4.splat(0.693145751953125)));
  r = f32x4.sub(r, f32x4.mul(k, f32x4.splat(1.428606765330187e-6)));
  let p = f32x4.splat(1.0 / 5040);
  p = fma(p, r, f32x4.splat(1.0 / 720));
  p = fma(p, r, f32x4.splat(1.0 / 120));
  p = fma(p, r, f32x4.splat(1.0 / 24));
  p = fma(p, r, f32x4.splat(1.0 / 6));
  p = fma(p, r, f32x4.splat(0.5));
  p = fma(p, r, f32x4.splat(1));
  p = fma(p, r, f32x4.splat(1));
  return f32x4.mul(p, i32x4.shl(i32x4.add(roundedInt(kr), i32x4.splat(127)), 23));
}

/** tanh for float32x4: sign(x)·(1 − e)/(1 + e) with e = e^(−2|x|). */
@inline function tanh4(x: v128): v128 {
  const e = exp4(f32x4.mul(f32x4.abs(x), f32x4.splat(-2)));
  const t = f32x4.div(f32x4.sub(f32x4.splat(1), e), f32x4.add(f32x4.splat(1), e));
  return v128.or(t, v128.and(x, i32x4.splat(0x80000000)));
}

/** The same for one value (tails of arrays whose length is not a multiple of 4). */
@inline function tanh1(x: f32): f32 {
  return f32x4.extract_lane(tanh4(f32x4.splat(x)), 0);
}

/** x ← cap·tanh(x/cap) on elements [i0, i1). */
export function softcap(x: usize, cap: f32, i0: i32, i1: i32): void {
  const c = f32x4.splat(cap);
  const inv = f32x4.splat(1 / cap);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const p = x + <usize>i * 4;
    v128.store(p, f32x4.mul(c, tanh4(f32x4.mul(v128.load(p), inv))));
  }
  for (; i < i1; i++) store<f32>(x + <usize>i * 4, cap * tanh1(load<f32>(x + <usize>i * 4) / cap));
}

@inline function geluTanh4(x: v128): v128 {
  const inner = f32x4.mul(f32x4.splat(0.7978845608028654), fma(f32x4.mul(f32x4.splat(0.044715), x), f32x4.mul(x, x), x));
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), f32x4.add(f32x4.splat(1), tanh4(inner)));
}

/** gate ← gelu_tanh(gate)·up on elements [i0, i1). */
export function geluMul(gate: usize, up: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const p = gate + <usize>i * 4;
    v128.store(p, f32x4.mul(geluTanh4(v128.load(p)), v128.load(up + <usize>i * 4)));
  }
  for (; i < i1; i++) {
    const p = gate + <usize>i * 4;
    store<f32>(p, f32x4.extract_lane(geluTanh4(f32x4.splat(load<f32>(p))), 0) * load<f32>(up + <usize>i * 4));
  }
}

/** IEEE half bits of x, rounded to nearest even (|x| below the half range's maximum). */
@inline function halfBits(x: f32): u32 {
  const bits = reinterpret<u32>(x);
  const sign = (bits >>> 16) & 0x8000;
  const a = bits & 0x7fffffff;
  // Normal halves (|x| ≥ 2⁻¹⁴): drop 13 mantissa bits with rounding, rebias the exponent 127 → 15.
  if (a >= 0x38800000) return sign | ((a + 0xfff + ((a >>> 13) & 1) - 0x38000000) >>> 13);
  // Subnormal halves count multiples of 2⁻²⁴ (scaling by a power of two is exact; nearest ties to even).
  return sign | <u32>nearest(reinterpret<f32>(a) * 16777216.0);
}

/**
 * gate ← gelu(gate)·up on elements [i0, i1) as llama.cpp's CPU backend computes it: `table` holds
 * gelu of every half-precision input (src/kernels/gelu-f16-table.ts); inputs ≤ −10 give 0, ≥ 10 pass.
 */
export function geluMulF16Table(gate: usize, up: usize, table: usize, i0: i32, i1: i32): void {
  for (let i = i0; i < i1; i++) {
    const p = gate + <usize>i * 4;
    const x = load<f32>(p);
    const g: f32 = x <= -10 ? 0 : x >= 10 ? x : load<f32>(table + (<usize>halfBits(x) << 2));
    store<f32>(p, g * load<f32>(up + <usize>i * 4));
  }
}

/** Rows [r0, r1) of x [rows, width]: out = x / sqrt(mean(x²) + eps) ⊙ weight (weight 0 = none). */
export function rmsNorm(x: usize, width: i32, weight: usize, eps: f32, out: usize, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const row = x + <usize>r * <usize>width * 4;
    const dst = out + <usize>r * <usize>width * 4;
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= width; i += 4) {
      const v = v128.load(row + <usize>i * 4);
      acc = fma(v, v, acc);
    }
    let ss = hsum(acc);
    for (; i < width; i++) ss += load<f32>(row + <usize>i * 4) * load<f32>(row + <usize>i * 4);
    const inv: f32 = 1 / Mathf.sqrt(ss / <f32>width + eps);
    const s = f32x4.splat(inv);
    i = 0;
    for (; i + 4 <= width; i += 4) {
      let v = f32x4.mul(v128.load(row + <usize>i * 4), s);
      if (weight) v = f32x4.mul(v, v128.load(weight + <usize>i * 4));
      v128.store(dst + <usize>i * 4, v);
    }
    for (; i < width; i++) {
      let v = load<f32>(row + <usize>i * 4) * inv;
      if (weight) v *= load<f32>(weight + <usize>i * 4);
      store<f32>(dst + <usize>i * 4, v);
    }
  }
}

/**
 * Rows [r0, r1) of x [rows, width]: x ← max(x − (mean + z·std), 0) with the population std. In float64
 * with the reference's sums in the reference's order, so the result is the same bit for bit.
 */
export function gaussianTopK(x: usize, width: i32, z: f32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const row = x + <usize>r * <usize>width * 4;
    const end = row + <usize>width * 4;
    let mean: f64 = 0;
    for (let p = row; p < end; p += 4) mean += <f64>load<f32>(p);
    mean /= width;
    let v: f64 = 0;
    for (let p = row; p < end; p += 4) {
      const d = <f64>load<f32>(p) - mean;
      v += d * d;
    }
    const cutoff = mean + Math.sqrt(v / width) * <f64>z;
    for (let p = row; p < end; p += 4) store<f32>(p, <f32>max(<f64>load<f32>(p) - cutoff, 0));
  }
}

// ---------------------------------------------------------------------------------------------------
// AltUp: `streams` streams of [tokens, width] floats, `stride` bytes from one stream to the next (the
// outputs likewise). Each token's mixing coefficients are given.

/** Tokens [t0, t1) of the prediction: out_i = x_i + Σ_j coefs[t, i, j]·x_j. */
export function altupPredict(x: usize, out: usize, stride: usize, streams: i32, width: i32, coefs: usize, t0: i32, t1: i32): void {
  for (let t = t0; t < t1; t++) {
    const row = <usize>t * <usize>width * 4;
    const c = coefs + <usize>(t * streams * streams) * 4;
    for (let i = 0; i < streams; i++) {
      const ci = c + <usize>(i * streams) * 4;
      const src = x + <usize>i * stride + row;
      const dst = out + <usize>i * stride + row;
      let d = 0;
      for (; d + 4 <= width; d += 4) {
        let s = f32x4.splat(0);
        for (let j = 0; j < streams; j++) s = fma(v128.load32_splat(ci + <usize>j * 4), v128.load(x + <usize>j * stride + row + <usize>d * 4), s);
        v128.store(dst + <usize>d * 4, f32x4.add(v128.load(src + <usize>d * 4), s));
      }
      for (; d < width; d++) {
        let s: f32 = 0;
        for (let j = 0; j < streams; j++) s += load<f32>(ci + <usize>j * 4) * load<f32>(x + <usize>j * stride + row + <usize>d * 4);
        store<f32>(dst + <usize>d * 4, load<f32>(src + <usize>d * 4) + s);
      }
    }
  }
}

/** Tokens [t0, t1) of the correction: out_i = p_i + gains[t, i]·(y − p_active). */
export function altupCorrect(p: usize, out: usize, stride: usize, streams: i32, width: i32, y: usize, active: i32, gains: usize, t0: i32, t1: i32): void {
  for (let t = t0; t < t1; t++) {
    const row = <usize>t * <usize>width * 4;
    const pa = p + <usize>active * stride + row;
    const yt = y + row;
    for (let i = 0; i < streams; i++) {
      const gain = load<f32>(gains + <usize>(t * streams + i) * 4);
      const g = f32x4.splat(gain);
      const src = p + <usize>i * stride + row;
      const dst = out + <usize>i * stride + row;
      let d = 0;
      for (; d + 4 <= width; d += 4) {
        const o = <usize>d * 4;
        v128.store(dst + o, fma(g, f32x4.sub(v128.load(yt + o), v128.load(pa + o)), v128.load(src + o)));
      }
      for (; d < width; d++) {
        const o = <usize>d * 4;
        store<f32>(dst + o, load<f32>(src + o) + gain * (load<f32>(yt + o) - load<f32>(pa + o)));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Vision: GELU on its own, and depthwise convolution over channels-last maps (MobileNet-v5).

/** x ← gelu_tanh(x) on elements [i0, i1). */
export function gelu(x: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const p = x + <usize>i * 4;
    v128.store(p, geluTanh4(v128.load(p)));
  }
  for (; i < i1; i++) {
    const p = x + <usize>i * 4;
    store<f32>(p, f32x4.extract_lane(geluTanh4(f32x4.splat(load<f32>(p))), 0));
  }
}

/**
 * Output rows [r0, r1) of a depthwise convolution of x [H, W, C] with taps w [kh·kw, C] (tap-major,
 * so four channels load at once), strides sh/sw, zero padding `top`/`left` (and whatever the bottom
 * and right need): out [Ho, Wo, C]. Each output pixel accumulates tap by tap over its channel row.
 */
export function depthwiseConv2d(
  x: usize, H: i32, W: i32, C: i32, w: usize, kh: i32, kw: i32, sh: i32, sw: i32, top: i32, left: i32,
  out: usize, Wo: i32, r0: i32, r1: i32,
): void {
  const rowBytes = <usize>C * 4;
  for (let oy = r0; oy < r1; oy++) {
    for (let ox = 0; ox < Wo; ox++) {
      const dst = out + <usize>(oy * Wo + ox) * rowBytes;
      memory.fill(dst, 0, rowBytes);
      for (let ky = 0; ky < kh; ky++) {
        const y = oy * sh + ky - top;
        if (y < 0 || y >= H) continue;
        for (let kx = 0; kx < kw; kx++) {
          const xx = ox * sw + kx - left;
          if (xx < 0 || xx >= W) continue;
          const src = x + <usize>(y * W + xx) * rowBytes;
          const tap = w + <usize>(ky * kw + kx) * rowBytes;
          let c = 0;
          for (; c + 4 <= C; c += 4) {
            const at = <usize>c * 4;
            v128.store(dst + at, fma(v128.load(src + at), v128.load(tap + at), v128.load(dst + at)));
          }
          for (; c < C; c++) {
            const at = <usize>c * 4;
            store<f32>(dst + at, load<f32>(dst + at) + load<f32>(src + at) * load<f32>(tap + at));
          }
        }
      }
    }
  }
}
