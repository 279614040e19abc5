// Speed of the audio path at the real E2B dimensions (USM Conformer: 12 layers, hidden 1536) with random
// BF16 weights: log-mel features + audio tower for one clip, as a real-time factor (seconds of compute
// per second of audio; below 1 is faster than real time). Prints one JSON object.
//   npm run bench:audio [-- --seconds 30 --runs 1 --backend wasm|reference]
import { parseArgs } from "node:util";
import { Rng } from "../src/generate/sampler.js";
import { ReferenceBackend } from "../src/kernels/reference.js";
import { createWasmBackend } from "../src/node/wasm-backend.js";
import { parseAudioConfig } from "../src/model/audio/config.js";
import { AudioTower } from "../src/model/audio/encoder.js";
import { logMelFeatures, SAMPLE_RATE } from "../src/model/audio/features.js";
import { loadAudioTowerWeights } from "../src/model/audio/weights.js";
import type { ModelConfig } from "../src/model/config.js";
import { randomWeights as randomWeightSource } from "./random-weights.js";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "30" }, runs: { type: "string", default: "1" }, backend: { type: "string", default: "wasm" } },
});
const seconds = Number(values.seconds);
const runs = Number(values.runs);

const rng = new Rng(7);
const randomWeights = randomWeightSource(7);

const config = parseAudioConfig({ raw: { audio_config: {} } } as unknown as ModelConfig); // the class defaults are E2B's
const backend = values.backend === "reference" ? new ReferenceBackend() : await createWasmBackend();
const tower = new AudioTower(backend, config, loadAudioTowerWeights(randomWeights, config));
const clip = Float32Array.from({ length: seconds * SAMPLE_RATE }, (_, i) => 0.3 * Math.sin(i * 0.05) + 0.1 * (rng.next() - 0.5));

// Warm-up on 1 s: a backend copies weights it did not load itself into its kernel memory on first use.
const warm = logMelFeatures(backend, [clip.subarray(0, SAMPLE_RATE)]);
tower.encode(warm.features[0]!, warm.frames, warm.validFrames[0]!);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const featureTimes: number[] = [];
const encoderTimes: number[] = [];
let tokens = 0;
for (let r = 0; r < runs; r++) {
  let t = performance.now();
  const mel = logMelFeatures(backend, [clip]);
  featureTimes.push((performance.now() - t) / 1000);
  t = performance.now();
  tokens = tower.encode(mel.features[0]!, mel.frames, mel.validFrames[0]!).padded.length;
  encoderTimes.push((performance.now() - t) / 1000);
}
const features = median(featureTimes);
const encoder = median(encoderTimes);
process.stdout.write(
  JSON.stringify({
    backend: backend.name,
    audio_seconds: seconds,
    runs,
    soft_tokens: tokens,
    features_s: +features.toFixed(3),
    encoder_s: +encoder.toFixed(3),
    audio_rtf: +((features + encoder) / seconds).toFixed(4),
  }) + "\n",
);
backend.close();
