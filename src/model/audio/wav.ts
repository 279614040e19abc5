// RIFF/WAVE reader: integer PCM (8-bit unsigned, 16/24/32-bit signed) and IEEE float (32/64-bit),
// plain or WAVE_FORMAT_EXTENSIBLE, any channel count (mixed down to mono by averaging, as the
// reference's audio loader does). Integers are scaled by 1/2^(bits−1), so 16-bit PCM becomes int16/32768.
import { InputError } from "../../errors.js";

/** Mono audio as float samples in [−1, 1]. */
export interface PcmAudio {
  pcm: Float32Array;
  sampleRate: number;
}

const PCM = 1;
const IEEE_FLOAT = 3;
const EXTENSIBLE = 0xfffe;

export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 4) === "WAVE";
}

function ascii(bytes: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + n));
}

interface Format {
  code: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bits: number;
}

function readFormat(view: DataView, at: number, size: number): Format {
  if (size < 16) throw new InputError(`WAV: the fmt chunk is ${size} bytes, too short to describe the audio`);
  let code = view.getUint16(at, true);
  const bits = view.getUint16(at + 14, true);
  if (code === EXTENSIBLE) {
    if (size < 40) throw new InputError("WAV: WAVE_FORMAT_EXTENSIBLE fmt chunk is truncated");
    code = view.getUint16(at + 24, true); // the sub-format GUID starts with the plain format code
  }
  return { code, channels: view.getUint16(at + 2, true), sampleRate: view.getUint32(at + 4, true), blockAlign: view.getUint16(at + 12, true), bits };
}

/** Decodes a WAV file into mono float samples at its own sample rate. */
export function decodeWav(bytes: Uint8Array): PcmAudio {
  if (!isWav(bytes)) throw new InputError("not a WAV file (no RIFF/WAVE header)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format: Format | undefined;
  let data: { at: number; size: number } | undefined;
  for (let at = 12; at + 8 <= bytes.length && !data; ) {
    const id = ascii(bytes, at, 4);
    let size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === "data") {
      // Streaming writers leave the size at 0 or 0xFFFFFFFF: the data then runs to the end of the file.
      if (size === 0 || size === 0xffffffff) size = bytes.length - body;
      else if (body + size > bytes.length) {
        throw new InputError(`WAV is truncated: the data chunk declares ${size} bytes but only ${bytes.length - body} follow`);
      }
      data = { at: body, size };
    } else if (id === "fmt ") {
      if (body + size > bytes.length) throw new InputError("WAV is truncated inside its fmt chunk");
      format = readFormat(view, body, size);
    }
    at = body + size + (size & 1);
  }
  if (!format) throw new InputError("WAV has no fmt chunk before its audio data");
  if (!data) throw new InputError("WAV has no data chunk");
  const { code, channels, sampleRate, bits } = format;
  const bytesPer = bits / 8;
  const supported = (code === PCM && [8, 16, 24, 32].includes(bits)) || (code === IEEE_FLOAT && (bits === 32 || bits === 64));
  if (!supported) {
    const kind = code === PCM ? `${bits}-bit integer PCM` : code === IEEE_FLOAT ? `${bits}-bit float` : `format code ${code}`;
    throw new InputError(`WAV encoding ${kind} is not supported (supported: 8/16/24/32-bit integer PCM, 32/64-bit float)`);
  }
  if (channels < 1) throw new InputError("WAV declares 0 channels");
  if (format.blockAlign !== channels * bytesPer) {
    throw new InputError(`WAV block align ${format.blockAlign} does not match ${channels} channel(s) of ${bits}-bit samples`);
  }
  if (sampleRate < 1) throw new InputError("WAV declares a sample rate of 0 Hz");
  const frames = Math.floor(data.size / format.blockAlign);
  const read = sampleReader(view, code, bits);
  const pcm = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += read(data.at + (i * channels + c) * bytesPer);
    pcm[i] = sum / channels;
  }
  return { pcm, sampleRate };
}

function sampleReader(view: DataView, code: number, bits: number): (at: number) => number {
  if (code === IEEE_FLOAT) return bits === 32 ? (at) => view.getFloat32(at, true) : (at) => view.getFloat64(at, true);
  switch (bits) {
    case 8: return (at) => (view.getUint8(at) - 128) / 128;
    case 16: return (at) => view.getInt16(at, true) / 32768;
    case 24: return (at) => ((view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16)) / 8388608);
    default: return (at) => view.getInt32(at, true) / 2147483648;
  }
}
