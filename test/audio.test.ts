// Audio input against the reference (transformers' Gemma3nAudioFeatureExtractor + Gemma3nAudioEncoder
// on the tiny checkpoint): WAV reading, log-mel features, the Conformer encoder, embed_audio with its
// padding rules, a two-clip batch, full-model logits with an audio prompt, and bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ReferenceBackend } from "../src/kernels/reference.js";
import { loadModel } from "../src/node/load.js";
import { parseAudioConfig } from "../src/model/audio/config.js";
import { embedAudio } from "../src/model/audio/embedder.js";
import { AudioTower } from "../src/model/audio/encoder.js";
import { logMelFeatures } from "../src/model/audio/features.js";
import { audioToPcm16k } from "../src/model/audio/input.js";
import { AudioEncoder } from "../src/model/audio/media-encoder.js";
import { resample } from "../src/model/audio/resample.js";
import { decodeWav } from "../src/model/audio/wav.js";
import { audioTowerShapes, loadAudioTowerWeights } from "../src/model/audio/weights.js";
import { golden, maxAbsDiff } from "./golden.js";
import { wav } from "./audio-helpers.js";
import { fixture, hasShared, shared, tinyModelDir } from "./helpers.js";
import { parseNpy } from "../src/io/npy.js";
import { syntheticCheckpoint } from "../src/model/synthetic-checkpoint.js";

const b = new ReferenceBackend();
const wavBytes = new Uint8Array(readFileSync(fixture("hf-tiny", "audio", "audio.wav")));
const audio = (name: string) => golden("hf-tiny", "audio", name).data;
const model = await loadModel(tinyModelDir);
const config = parseAudioConfig(model.config);
const tower = new AudioTower(b, config, loadAudioTowerWeights(model.checkpoint, config));

test("WAV: every PCM and float encoding, multi-channel mixed to mono", () => {
  const decoded = decodeWav(wavBytes);
  assert.equal(decoded.sampleRate, 16000);
  assert.equal(decoded.pcm.length, 32300);
  if (hasShared("golden", "hf-tiny", "audio", "waveform.npy")) {
    const ref = parseNpy(readFileSync(shared("golden", "hf-tiny", "audio", "waveform.npy"))).data;
    assert.equal(maxAbsDiff(decoded.pcm, ref), 0);
  }
  const cases: [string, Parameters<typeof wav>[0], number[]][] = [
    ["8-bit", { bits: 8, frames: 3, put: (v, at, f) => v.setUint8(at, [0, 128, 255][f]!) }, [-1, 0, 127 / 128]],
    ["16-bit", { bits: 16, frames: 2, put: (v, at, f) => v.setInt16(at, [-32768, 16384][f]!, true) }, [-1, 0.5]],
    ["24-bit", { bits: 24, frames: 2, put: (v, at, f) => { const x = [-8388608, 4194304][f]! & 0xffffff; v.setUint8(at, x & 255); v.setUint8(at + 1, (x >> 8) & 255); v.setUint8(at + 2, x >> 16); } }, [-1, 0.5]],
    ["32-bit", { bits: 32, frames: 1, put: (v, at) => v.setInt32(at, -1073741824, true) }, [-0.5]],
    ["float32", { code: 3, bits: 32, frames: 1, put: (v, at) => v.setFloat32(at, 0.25, true) }, [0.25]],
    ["float64", { code: 3, bits: 64, frames: 1, put: (v, at) => v.setFloat64(at, -0.125, true) }, [-0.125]],
    ["extensible stereo", { extensible: true, bits: 16, channels: 2, frames: 1, put: (v, at, _f, c) => v.setInt16(at, c === 0 ? 16384 : 0, true) }, [0.25]],
  ];
  for (const [name, spec, expected] of cases) assert.deepEqual(Array.from(decodeWav(wav(spec)).pcm), expected, name);
});

/** A 16-bit AIFF file (big-endian PCM, 80-bit float sample rate): a container that audio-decode reads. */
function aiff(samples: Int16Array[], rate: number): Uint8Array {
  const frames = samples[0]!.length;
  const channels = samples.length;
  const bytes = new Uint8Array(12 + 26 + 16 + frames * channels * 2);
  const v = new DataView(bytes.buffer);
  const str = (at: number, s: string) => [...s].forEach((ch, i) => v.setUint8(at + i, ch.charCodeAt(0)));
  str(0, "FORM");
  v.setUint32(4, bytes.length - 8);
  str(8, "AIFF");
  str(12, "COMM");
  v.setUint32(16, 18);
  v.setUint16(20, channels);
  v.setUint32(22, frames);
  v.setUint16(26, 16);
  const exp = Math.floor(Math.log2(rate));
  v.setUint16(28, 16383 + exp);
  v.setBigUint64(30, BigInt(rate) << BigInt(63 - exp));
  str(38, "SSND");
  v.setUint32(42, 8 + frames * channels * 2);
  for (let f = 0; f < frames; f++) for (let c = 0; c < channels; c++) v.setInt16(54 + (f * channels + c) * 2, samples[c]![f]!);
  return bytes;
}

test("other containers decode through audio-decode: a 22.05 kHz stereo AIFF becomes 16 kHz mono", async () => {
  const tone = Int16Array.from({ length: 22050 }, (_, i) => Math.round(16384 * Math.sin((2 * Math.PI * 441 * i) / 22050)));
  const pcm = await audioToPcm16k(aiff([tone, new Int16Array(22050)], 22050));
  assert.equal(pcm.length, 16000);
  let err = 0;
  for (let i = 2000; i < 14000; i++) err = Math.max(err, Math.abs(pcm[i]! - 0.25 * Math.sin((2 * Math.PI * 441 * i) / 16000)));
  assert.ok(err < 1e-3, `error ${err}`);
});

test("resampler: band-limited sines survive 44.1 kHz → 16 kHz and 8 kHz → 16 kHz", () => {
  for (const from of [44100, 8000]) {
    const n = from; // one second
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * 1000 * i) / from));
    const y = resample(x, from, 16000);
    assert.equal(y.length, 16000);
    let err = 0;
    for (let i = 2000; i < 14000; i++) err = Math.max(err, Math.abs(y[i]! - Math.sin((2 * Math.PI * 1000 * i) / 16000)));
    assert.ok(err < 1e-3, `${from} Hz: error ${err}`);
  }
  // A tone above the output Nyquist (10 kHz at 44.1 kHz) is removed, not aliased to 6 kHz.
  const high = Float32Array.from({ length: 44100 }, (_, i) => Math.sin((2 * Math.PI * 10000 * i) / 44100));
  const y = resample(high, 44100, 16000);
  const rest = Math.max(...Array.from(y.subarray(2000, 14000), Math.abs));
  assert.ok(rest < 1e-3, `aliased residue ${rest}`);
});

test("log-mel features and mask match the reference feature extractor", () => {
  const mel = logMelFeatures(b, [decodeWav(wavBytes).pcm]);
  assert.equal(mel.frames, 200);
  const err = maxAbsDiff(mel.features[0]!, audio("input_features.npy"));
  assert.ok(err < 1e-4, `features differ by ${err}`);
  assert.deepEqual(mel.validFrames, [Array.from(audio("input_features_mask.npy")).filter(Boolean).length]);
});

test("audio tower output and mask, and embed_audio, match the reference", () => {
  const mel = logMelFeatures(b, [decodeWav(wavBytes).pcm]);
  const out = tower.encode(mel.features[0]!, mel.frames, mel.validFrames[0]!);
  const err = maxAbsDiff(out.hidden, audio("audio_encoder_output.npy"));
  assert.ok(err < 1e-4, `encoder output differs by ${err}`);
  assert.deepEqual(Array.from(out.padded), Array.from(audio("audio_encoder_mask.npy")));
  const embedder = {
    softNorm: model.checkpoint.loadF32("model.embed_audio.soft_embedding_norm.weight"),
    projection: model.checkpoint.load("model.embed_audio.embedding_projection.weight"),
    eps: config.rmsNormEps,
  };
  const embedded = embedAudio(b, embedder, out.hidden, out.padded.length);
  const e = maxAbsDiff(embedded, audio("embed_audio_output.npy"));
  assert.ok(e < 1e-4, `embed_audio output differs by ${e}`);
});

test("two clips are padded to the longest like the reference batch; padded tokens take the padding embedding", async () => {
  const clipB = audio("batch2_waveform_b.npy") as Float32Array;
  const mel = logMelFeatures(b, [decodeWav(wavBytes).pcm, clipB]);
  assert.deepEqual(mel.validFrames, [0, 1].map((i) => Array.from(audio("batch2_input_features_mask.npy").subarray(i * 200, (i + 1) * 200)).filter(Boolean).length));
  if (hasShared("golden", "hf-tiny", "audio", "batch2_input_features.npy")) {
    const ref = parseNpy(readFileSync(shared("golden", "hf-tiny", "audio", "batch2_input_features.npy"))).data;
    const err = maxAbsDiff([...mel.features[0]!, ...mel.features[1]!], ref);
    assert.ok(err < 1e-4, `batch features differ by ${err}`);
  }
  const outs = mel.features.map((f, i) => tower.encode(f, mel.frames, mel.validFrames[i]!));
  const err = maxAbsDiff([...outs[0]!.hidden, ...outs[1]!.hidden], audio("batch2_audio_encoder_output.npy"));
  assert.ok(err < 1e-4, `batch encoder output differs by ${err}`);
  assert.deepEqual([...outs[0]!.padded, ...outs[1]!.padded], Array.from(audio("batch2_audio_encoder_mask.npy")));

  // Through the media encoder: clip B's padded tokens and the 3 unfilled slots are embed_audio(767).
  const encoder = new AudioEncoder(model);
  const [, embB] = await encoder.encodeAll([{ pcm: decodeWav(wavBytes).pcm, sampleRate: 16000 }, { pcm: clipB, sampleRate: 16000 }]);
  const D = model.config.text.hiddenSize;
  const padding = model.decoder.embed(Int32Array.of(767));
  const row = (t: number) => embB!.subarray(t * D, (t + 1) * D);
  outs[1]!.padded.forEach((p, t) => assert.equal(maxAbsDiff(row(t), padding) === 0, p === 1, `token ${t}`));
  for (let t = 13; t < 16; t++) assert.equal(maxAbsDiff(row(t), padding), 0);
});

test("an audio prompt (ids with 16 placeholders) gives the reference logits; soft tokens are the padded features", async () => {
  const ids = Array.from(audio("input_ids.npy"));
  const prepared = await model.prepare({ ids, audio: [wavBytes] });
  assert.equal(prepared.soft!.positions.length, 16);
  const f = maxAbsDiff(prepared.soft!.values, audio("audio_features_padded.npy"));
  assert.ok(f < 1e-4, `padded audio features differ by ${f}`);
  const err = maxAbsDiff(model.logits(prepared.ids, { soft: prepared.soft }), audio("logits.npy"));
  assert.ok(err < 2e-3, `audio-prompt logits differ by ${err}`);
});

test("chat audio parts expand to begin-of-audio, the soft tokens and end-of-audio", async () => {
  const messages = [{ role: "user", content: [{ type: "audio" as const, audio: wavBytes }, { type: "text" as const, text: "Hi" }] }];
  const p = await model.prepare({ messages });
  const block = `\n\n<start_of_audio>${"<audio_soft_token>".repeat(16)}<end_of_audio>\n\n`;
  assert.equal(model.tokenizer!.decode(p.ids), `<bos><start_of_turn>user\n${block}Hi<end_of_turn>\n<start_of_turn>model\n`);
  assert.equal(maxAbsDiff(p.soft!.values, audio("audio_features_padded.npy")) < 1e-4, true);
});

test("clips over 30 s are cut, and soft tokens beyond the prompt's slots dropped, with a warning", async () => {
  const warnings: string[] = [];
  const encoder = new AudioEncoder(model, (m) => warnings.push(m));
  const long = Float32Array.from({ length: 31 * 16000 }, (_, i) => 0.1 * Math.sin(i / 7));
  const [e] = await encoder.encodeAll([{ pcm: long, sampleRate: 16000 }]);
  assert.equal(e!.length, 16 * model.config.text.hiddenSize);
  assert.match(warnings[0]!, /audio clip 1 is 31\.0 s long; only its first 30 s are used/);
  assert.match(warnings[1]!, /gives 188 soft tokens but the model takes 16 per clip/);
});

test("bad audio gets a one-line error naming the problem", async () => {
  const encoder = new AudioEncoder(model, () => {});
  const fails = (item: unknown, re: RegExp) => assert.rejects(encoder.encodeAll([item]), (e: Error) => e.name === "InputError" && re.test(e.message) && !e.message.includes("\n"));
  const pcm16 = (frames: number, rate = 16000) => wav({ bits: 16, frames, rate, put: (v, at, f) => v.setInt16(at, f % 100, true) });
  await fails(new TextEncoder().encode("this is not audio at all, just some text"), /not a recognised audio file \(supported: WAV/);
  await fails(new Uint8Array(0), /the audio file is empty/);
  await fails(pcm16(2000).subarray(0, 1000), /WAV is truncated: the data chunk declares 4000 bytes but only 956 follow/);
  await fails(pcm16(0), /the audio has no samples/);
  await fails(pcm16(300), /too short: the feature extractor needs more than 512 samples/);
  await fails(wav({ code: 2, bits: 4, frames: 10, put: () => {} }), /WAV encoding format code 2 is not supported \(supported: 8\/16\/24\/32-bit integer PCM/);
  await fails(wav({ bits: 12, frames: 10, put: () => {} }), /12-bit integer PCM is not supported/);
  await fails(pcm16(100, 5), /sample rate 5 Hz is out of range/);
  await fails({ pcm: new Float32Array(1000), sampleRate: 1e9 }, /sample rate 1000000000 Hz is out of range/);
  await fails({ pcm: Float32Array.of(0, NaN), sampleRate: 16000 }, /audio sample 1 is NaN/);
  await fails("clip.wav", /an audio item must be file bytes/);
  await assert.rejects(model.prepare({ ids: Array.from(audio("input_ids.npy")), audio: [wavBytes, wavBytes] }), /16 audio placeholder tokens .* but 2 audios need 32/);
});

test("a bad audio_config is a ConfigError naming the field", () => {
  const withAudio = (audio: unknown) => ({ ...model.config, raw: { ...model.config.raw, audio_config: audio } });
  const audioConfig = model.config.raw.audio_config as Record<string, unknown>;
  const fails = (audio: unknown, re: RegExp) => assert.throws(() => parseAudioConfig(withAudio(audio)), (e: Error) => e.name === "ConfigError" && re.test(e.message));
  fails(undefined, /config\.json has no audio_config: this model takes no audio/);
  fails({ ...audioConfig, conf_num_attention_heads: 5 }, /hidden_size \(32\) must be a multiple of conf_num_attention_heads \(5\)/);
  fails({ ...audioConfig, sscp_conv_kernel_size: [[3, 3]] }, /audio_config\.sscp_conv_kernel_size must list 2 entries/);
  fails({ ...audioConfig, conf_num_hidden_layers: 0 }, /"conf_num_hidden_layers" must be an integer ≥ 1/);
});

test("the default audio_config (E2B's) gives the released tower inventory: 269 tensors, 681,348,640 parameters", () => {
  const shapes = audioTowerShapes(parseAudioConfig({ ...model.config, raw: { audio_config: {} } }));
  assert.equal(shapes.length, 269);
  assert.equal(shapes.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0), 681348640);
  assert.deepEqual(shapes.find((s) => s.name.endsWith("input_proj_linear.weight"))!.shape, [1536, 1024]);
});

test("synthetic E2B checkpoints carry the audio tower in bf16 (as released), whatever the text dtype", () => {
  const ck = syntheticCheckpoint("e2b", "q4_0");
  const up = ck.entry("model.audio_tower.conformer.11.ffw_layer_start.ffw_layer_1.weight");
  assert.deepEqual([up.dtype, ...up.shape], ["bf16", 6144, 1536]);
  assert.equal(ck.entry("model.audio_tower.conformer.0.attention.attn.per_dim_scale").dtype, "f32");
});
