// Resampling of images and feature maps. `resampleBilinearU8` is PIL's antialiased bilinear filter on
// 8-bit pixels, integer for integer (the reference processor's resize, vision-audio spec §1.1); the
// float32 helpers are PyTorch's interpolate/avg_pool2d on channels-last maps, as the MSFA uses them.

const PRECISION_BITS = 22;

/** PIL's per-output-pixel window and fixed-point weights for one axis (precompute_coeffs + normalize_coeffs_8bpc). */
function bilinearCoefficients(inSize: number, outSize: number): { start: Int32Array; count: Int32Array; weights: Int32Array; stride: number } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the bilinear (triangle) filter has support 1
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * stride);
  const w = new Float64Array(stride);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    let sum = 0;
    for (let j = 0; j < hi - lo; j++) {
      w[j] = Math.max(0, 1 - Math.abs((j + lo - center + 0.5) / filterScale));
      sum += w[j]!;
    }
    for (let j = 0; j < hi - lo; j++) {
      const k = sum === 0 ? w[j]! : w[j]! / sum;
      weights[i * stride + j] = Math.trunc(k * (1 << PRECISION_BITS) + (k < 0 ? -0.5 : 0.5));
    }
    start[i] = lo;
    count[i] = hi - lo;
  }
  return { start, count, weights, stride };
}

/** One pass of the separable filter along an axis of `src` ([rows, length, channels] with the axis in the middle). */
function resamplePass(src: Uint8Array, outer: number, inLen: number, inner: number, outLen: number): Uint8Array {
  const { start, count, weights, stride } = bilinearCoefficients(inLen, outLen);
  const out = new Uint8Array(outer * outLen * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < outLen; i++) {
      const w0 = i * stride;
      for (let c = 0; c < inner; c++) {
        let acc = 1 << (PRECISION_BITS - 1);
        let at = (o * inLen + start[i]!) * inner + c;
        for (let j = 0; j < count[i]!; j++, at += inner) acc += src[at]! * weights[w0 + j]!;
        out[(o * outLen + i) * inner + c] = Math.min(255, Math.max(0, acc >> PRECISION_BITS));
      }
    }
  }
  return out;
}

/** Antialiased bilinear resize of 8-bit pixels [H, W, C] to [outH, outW, C]: horizontal pass first, as PIL does. */
export function resampleBilinearU8(src: Uint8Array, width: number, height: number, channels: number, outWidth: number, outHeight: number): Uint8Array {
  let x = src;
  if (outWidth !== width) x = resamplePass(x, height, width, channels, outWidth);
  if (outHeight !== height) x = resamplePass(x, 1, height, outWidth * channels, outHeight);
  return x;
}

/** A channels-last float map. */
export interface FeatureMap {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

/** PyTorch's legacy "nearest" interpolation: source index ⌊dst · in / out⌋. */
export function resizeNearest(x: FeatureMap, height: number, width: number): FeatureMap {
  const C = x.channels;
  const data = new Float32Array(height * width * C);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(x.height - 1, Math.floor((y * x.height) / height));
    for (let xx = 0; xx < width; xx++) {
      const sx = Math.min(x.width - 1, Math.floor((xx * x.width) / width));
      data.set(x.data.subarray((sy * x.width + sx) * C, (sy * x.width + sx + 1) * C), (y * width + xx) * C);
    }
  }
  return { data, height, width, channels: C };
}

/** avg_pool2d with kernel = stride = (kh, kw), no padding. */
export function averagePool(x: FeatureMap, kh: number, kw: number): FeatureMap {
  const C = x.channels;
  const height = Math.floor(x.height / kh);
  const width = Math.floor(x.width / kw);
  const data = new Float32Array(height * width * C);
  const acc = new Float64Array(C);
  for (let y = 0; y < height; y++) {
    for (let xx = 0; xx < width; xx++) {
      acc.fill(0);
      for (let dy = 0; dy < kh; dy++) {
        for (let dx = 0; dx < kw; dx++) {
          const base = ((y * kh + dy) * x.width + xx * kw + dx) * C;
          for (let c = 0; c < C; c++) acc[c] = acc[c]! + x.data[base + c]!;
        }
      }
      for (let c = 0; c < C; c++) data[(y * width + xx) * C + c] = acc[c]! / (kh * kw);
    }
  }
  return { data, height, width, channels: C };
}

/** Bilinear interpolation with align_corners=False and no antialiasing (PyTorch's F.interpolate "bilinear"). */
export function resizeBilinear(x: FeatureMap, height: number, width: number): FeatureMap {
  const C = x.channels;
  const data = new Float32Array(height * width * C);
  const axis = (outLen: number, inLen: number, i: number): [number, number, number] => {
    const src = Math.max(0, ((i + 0.5) * inLen) / outLen - 0.5);
    const i0 = Math.min(Math.floor(src), inLen - 1);
    const i1 = Math.min(i0 + 1, inLen - 1);
    return [i0, i1, src - i0];
  };
  for (let y = 0; y < height; y++) {
    const [y0, y1, fy] = axis(height, x.height, y);
    for (let xx = 0; xx < width; xx++) {
      const [x0, x1, fx] = axis(width, x.width, xx);
      const at = (yy: number, xi: number) => (yy * x.width + xi) * C;
      for (let c = 0; c < C; c++) {
        const top = x.data[at(y0, x0) + c]! * (1 - fx) + x.data[at(y0, x1) + c]! * fx;
        const bottom = x.data[at(y1, x0) + c]! * (1 - fx) + x.data[at(y1, x1) + c]! * fx;
        data[(y * width + xx) * C + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return { data, height, width, channels: C };
}
