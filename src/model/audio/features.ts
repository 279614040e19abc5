// Log-mel features exactly as the reference feature extractor (Gemma3nAudioFeatureExtractor with its
// default arguments, which the released checkpoints use) computes them: 16 kHz mono float32 in, frames
// of 513 samples every 160, HTK pre-emphasis and the Hann window in float32, |1024-point FFT|, HTK mel
// filter bank 125–7600 Hz, natural log with a 1e-5 floor. Spec: vision-audio.md §2.1.
import { InputError } from "../../errors.js";
import type { Backend } from "../../kernels/backend.js";
import { numpyHannWindow512 } from "./hann-window.js";

export const SAMPLE_RATE = 16000;
const FRAME_LENGTH = 512;
const HOP = 160;
const FFT_LENGTH = 1024;
export const MEL_BINS = 128;
const MIN_FREQUENCY = 125;
const MAX_FREQUENCY = 7600;
const PREEMPHASIS = Math.fround(0.97);
const FIRST_SAMPLE_SCALE = Math.fround(1 - 0.97);
const MEL_FLOOR = 1e-5;
/** Clips are cut to 30 s, as the reference does even when padding to the longest clip. */
export const MAX_SAMPLES = 480000;
/** Batches are padded to a multiple of this many samples. */
const PAD_MULTIPLE = 128;

/** Features of a batch of clips, padded to the longest. */
export interface LogMel {
  /** Frames per clip (the same for every clip of the batch). */
  frames: number;
  /** One [frames, 128] array per clip. */
  features: Float32Array[];
  /** Frames of each clip that start on a real sample (the rest are padding). */
  validFrames: number[];
}

let window: Float32Array | undefined;
let melBank: MelBank | undefined;

/** Triangular filters: band m weighs FFT bins [first[m], first[m] + weights[m].length). */
interface MelBank {
  first: number[];
  weights: Float64Array[];
}

/** HTK mel filter bank (513 bins → 128 bands) without area normalisation, in float64. */
function melFilterBank(): MelBank {
  if (melBank) return melBank;
  const bins = FFT_LENGTH / 2 + 1;
  const mel = (f: number) => 2595 * Math.log10(1 + f / 700);
  const lo = mel(MIN_FREQUENCY);
  const hi = mel(MAX_FREQUENCY);
  const step = (hi - lo) / (MEL_BINS + 1);
  // Band edges as NumPy's linspace gives them: start + p·step, the last one exactly `hi`.
  const edges = Array.from({ length: MEL_BINS + 2 }, (_, p) => (p === MEL_BINS + 1 ? hi : p * step + lo)).map((m) => 700 * (10 ** (m / 2595) - 1));
  const bank: MelBank = { first: [], weights: [] };
  for (let m = 0; m < MEL_BINS; m++) {
    const w = Array.from({ length: bins }, (_, k) => {
      const f = (k * SAMPLE_RATE) / FFT_LENGTH;
      const rising = (f - edges[m]!) / (edges[m + 1]! - edges[m]!);
      const falling = (edges[m + 2]! - f) / (edges[m + 2]! - edges[m + 1]!);
      return Math.max(0, Math.min(rising, falling));
    });
    const first = Math.max(0, w.findIndex((x) => x > 0));
    const end = w.length - [...w].reverse().findIndex((x) => x > 0);
    bank.first.push(first);
    bank.weights.push(Float64Array.from(w.slice(first, Math.max(first, end))));
  }
  return (melBank = bank);
}

/** Frames that a clip of `samples` samples yields on its own (0 when it is too short for one). */
function frameCount(samples: number): number {
  const padded = Math.ceil(samples / PAD_MULTIPLE) * PAD_MULTIPLE;
  return padded < FRAME_LENGTH + 1 ? 0 : Math.floor((padded - FRAME_LENGTH - 1) / HOP) + 1;
}

/**
 * Log-mel features of 16 kHz clips, padded with zeros to the longest (then to a multiple of 128
 * samples) as the reference pads a batch. Clips must already be cut to MAX_SAMPLES.
 */
export function logMelFeatures(b: Backend, clips: readonly Float32Array[]): LogMel {
  const longest = Math.max(...clips.map((c) => c.length));
  if (longest > MAX_SAMPLES) throw new InputError(`a clip of ${longest} samples is longer than ${MAX_SAMPLES} (30 s): cut it first`);
  const frames = frameCount(longest);
  if (frames === 0) {
    throw new InputError(`audio of ${longest} samples is too short: the feature extractor needs more than ${FRAME_LENGTH} samples (${(FRAME_LENGTH / SAMPLE_RATE) * 1000} ms at 16 kHz)`);
  }
  window ??= numpyHannWindow512();
  const { first, weights } = melFilterBank();
  const bins = FFT_LENGTH / 2 + 1;
  const features = clips.map((clip) => {
    const windowed = new Float32Array(frames * FRAME_LENGTH);
    const sample = (i: number) => (i < clip.length ? clip[i]! : 0);
    for (let f = 0; f < frames; f++) {
      const start = f * HOP;
      const row = windowed.subarray(f * FRAME_LENGTH, (f + 1) * FRAME_LENGTH);
      // HTK pre-emphasis over a 513-sample frame: the first sample is scaled, the 513th never used.
      row[0] = Math.fround(sample(start) * FIRST_SAMPLE_SCALE);
      for (let j = 1; j < FRAME_LENGTH; j++) {
        row[j] = Math.fround(sample(start + j) - Math.fround(PREEMPHASIS * sample(start + j - 1)));
      }
      for (let j = 0; j < FRAME_LENGTH; j++) row[j] = Math.fround(row[j]! * window![j]!);
    }
    const magnitude = b.rfftMagnitude(windowed, FRAME_LENGTH, FFT_LENGTH);
    const out = new Float32Array(frames * MEL_BINS);
    for (let f = 0; f < frames; f++) {
      for (let m = 0; m < MEL_BINS; m++) {
        let sum = 0;
        const w = weights[m]!;
        const at = f * bins + first[m]!;
        for (let k = 0; k < w.length; k++) sum += magnitude[at + k]! * w[k]!;
        out[f * MEL_BINS + m] = Math.log(Math.max(sum, MEL_FLOOR));
      }
    }
    return out;
  });
  const validFrames = clips.map((c) => Math.min(Math.ceil(c.length / HOP), frames));
  return { frames, features, validFrames };
}
