// Audio items as a prompt carries them (file bytes, or raw PCM) → mono float32 at 16 kHz. WAV is read
// here; other containers (MP3, FLAC, Ogg Vorbis/Opus, AAC/M4A, …) go through the `audio-decode`
// package, whose decoders are WebAssembly and JavaScript (no native builds, no file system).
import decodeAudio from "audio-decode";
import { InputError } from "../../errors.js";
import { SAMPLE_RATE } from "./features.js";
import { resample } from "./resample.js";
import { decodeWav, isWav, type PcmAudio } from "./wav.js";

/** An audio item: encoded file bytes, or mono PCM samples in [−1, 1]. */
export type AudioItem = Uint8Array | PcmAudio;

const MIN_RATE = 1000;
const MAX_RATE = 768000;
const FORMATS = "WAV (8/16/24/32-bit PCM or float), MP3, FLAC, Ogg Vorbis/Opus, AAC/M4A, AIFF, WebM";

async function decodeOther(bytes: Uint8Array): Promise<PcmAudio> {
  let decoded: { channelData: Float32Array[]; sampleRate: number };
  try {
    decoded = await decodeAudio(bytes);
  } catch (e) {
    const why = (e as Error).message;
    if (/unknown audio format/i.test(why)) throw new InputError(`not a recognised audio file (supported: ${FORMATS})`);
    throw new InputError(`could not decode the audio file: ${why}`);
  }
  const channels = decoded.channelData;
  const n = channels[0]?.length ?? 0;
  const pcm = new Float32Array(n);
  for (const ch of channels) for (let i = 0; i < n; i++) pcm[i] = pcm[i]! + ch[i]! / channels.length;
  return { pcm, sampleRate: decoded.sampleRate };
}

/** Decodes (if needed), checks and resamples an audio item to 16 kHz mono. */
export async function audioToPcm16k(item: unknown): Promise<Float32Array> {
  let audio: PcmAudio;
  if (item instanceof Uint8Array) {
    if (item.length === 0) throw new InputError("the audio file is empty");
    audio = isWav(item) ? decodeWav(item) : await decodeOther(item);
  } else if (typeof item === "object" && item !== null && (item as PcmAudio).pcm instanceof Float32Array) {
    audio = item as PcmAudio;
  } else {
    throw new InputError("an audio item must be file bytes (Uint8Array) or { pcm: Float32Array, sampleRate: number }");
  }
  const { pcm, sampleRate } = audio;
  if (typeof sampleRate !== "number" || !Number.isFinite(sampleRate) || sampleRate < MIN_RATE || sampleRate > MAX_RATE) {
    throw new InputError(`audio sample rate ${String(sampleRate)} Hz is out of range (${MIN_RATE}–${MAX_RATE} Hz)`);
  }
  if (pcm.length === 0) throw new InputError("the audio has no samples");
  for (let i = 0; i < pcm.length; i++) {
    if (!Number.isFinite(pcm[i]!)) throw new InputError(`audio sample ${i} is ${pcm[i]}: samples must be finite numbers`);
  }
  return resample(pcm, sampleRate, SAMPLE_RATE);
}
