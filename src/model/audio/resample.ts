// Band-limited resampling by windowed-sinc interpolation (the method of resampy / libresample): each
// output sample is the input convolved with a Kaiser-windowed sinc, low-passed at the lower of the two
// Nyquist rates. Parameters are resampy's "kaiser_best" (64 zero crossings, β = 14.77, roll-off
// 0.9476), whose stop band is attenuated by about 100 dB; the kernel is tabulated at 512 points per
// zero crossing and linearly interpolated.

const ZERO_CROSSINGS = 64;
const PRECISION = 512;
const BETA = 14.769656459379492;
const ROLLOFF = 0.9475937167399596;

let table: Float64Array | undefined;

/** Modified Bessel function of the first kind, order 0 (power series). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** The right half of the filter, h(u) for u = j / PRECISION zero crossings, j = 0 … ZERO_CROSSINGS·PRECISION. */
function kernel(): Float64Array {
  if (table) return table;
  const n = ZERO_CROSSINGS * PRECISION + 1;
  const h = new Float64Array(n + 1); // one extra zero so interpolation may read index n
  const norm = besselI0(BETA);
  for (let j = 0; j < n; j++) {
    const u = j / PRECISION;
    const x = ROLLOFF * u;
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const r = u / ZERO_CROSSINGS;
    h[j] = ROLLOFF * sinc * (besselI0(BETA * Math.sqrt(Math.max(0, 1 - r * r))) / norm);
  }
  return (table = h);
}

/** Resamples `x` from `from` Hz to `to` Hz; the output has ⌈len·to/from⌉ samples. */
export function resample(x: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return x;
  const h = kernel();
  const ratio = to / from;
  const scale = Math.min(1, ratio); // filter stretch: low-pass at the output Nyquist when downsampling
  const step = scale * PRECISION; // table index per input sample
  const reach = ZERO_CROSSINGS / scale; // input samples on each side that the kernel covers
  const out = new Float32Array(Math.ceil(x.length * ratio));
  const last = ZERO_CROSSINGS * PRECISION;
  for (let n = 0; n < out.length; n++) {
    const t = n / ratio;
    const first = Math.max(0, Math.ceil(t - reach));
    const end = Math.min(x.length - 1, Math.floor(t + reach));
    let sum = 0;
    for (let i = first; i <= end; i++) {
      const pos = Math.abs(t - i) * step;
      const j = Math.floor(pos);
      if (j >= last) continue;
      const frac = pos - j;
      sum += x[i]! * (h[j]! + frac * (h[j + 1]! - h[j]!));
    }
    out[n] = sum * scale;
  }
  return out;
}
