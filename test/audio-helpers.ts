// Writing small audio files for the audio tests.

/** A WAV file of `frames` frames; `put` writes the sample of (frame, channel) at byte `at`. */
export function wav(opts: { code?: number; bits: number; channels?: number; rate?: number; frames: number; extensible?: boolean; put: (v: DataView, at: number, frame: number, ch: number) => void }): Uint8Array {
  const { bits, channels = 1, rate = 16000, frames } = opts;
  const block = (channels * bits) / 8;
  const fmtSize = opts.extensible ? 40 : 16;
  const bytes = new Uint8Array(12 + 8 + fmtSize + 8 + frames * block);
  const v = new DataView(bytes.buffer);
  const str = (at: number, s: string) => [...s].forEach((ch, i) => v.setUint8(at + i, ch.charCodeAt(0)));
  str(0, "RIFF");
  v.setUint32(4, bytes.length - 8, true);
  str(8, "WAVE");
  str(12, "fmt ");
  v.setUint32(16, fmtSize, true);
  v.setUint16(20, opts.extensible ? 0xfffe : (opts.code ?? 1), true);
  v.setUint16(22, channels, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * block, true);
  v.setUint16(32, block, true);
  v.setUint16(34, bits, true);
  if (opts.extensible) {
    v.setUint16(36, 22, true);
    v.setUint16(44, opts.code ?? 1, true);
  }
  const data = 20 + fmtSize;
  str(data, "data");
  v.setUint32(data + 4, frames * block, true);
  for (let f = 0; f < frames; f++) for (let c = 0; c < channels; c++) opts.put(v, data + 8 + (f * channels + c) * (bits / 8), f, c);
  return bytes;
}
