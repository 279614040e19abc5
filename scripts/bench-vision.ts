// Speed of the image path with the real `mobilenetv5_300m_enc` (vision-audio spec §1.4: 84 blocks,
// ~436 GMAC at 768²) and embed_vision at E2B widths, random BF16 weights: milliseconds per image and
// the share of each part (preprocessing of a 1280 × 960 photo, stem, stages 0–3, fusion adapter,
// embedder), and the CPU time of all threads. Prints one JSON object.
//   npm run bench:vision [-- --size 768 --runs 1 --backend wasm|reference]
import { parseArgs } from "node:util";
import { ReferenceBackend } from "../src/kernels/reference.js";
import { createWasmBackend } from "../src/node/wasm-backend.js";
import { Rng } from "../src/generate/sampler.js";
import { parseVisionTowerConfig } from "../src/model/vision/config.js";
import { embedSoftTokens } from "../src/model/vision/embedder.js";
import { pixelValues } from "../src/model/vision/preprocess.js";
import { loadVisionTower, VisionTower } from "../src/model/vision/tower.js";
import type { HardTokenWeights } from "../src/model/text/weights.js";
import { randomWeights } from "./random-weights.js";

const { values } = parseArgs({
  options: { size: { type: "string", default: "768" }, runs: { type: "string", default: "1" }, backend: { type: "string", default: "wasm" } },
});
const size = Number(values.size);
const runs = Number(values.runs);

const weights = randomWeights(7);
const config = parseVisionTowerConfig({}); // no model_args: the built-in mobilenetv5_300m_enc
const backend = values.backend === "reference" ? new ReferenceBackend() : await createWasmBackend();
const tower = new VisionTower(config, loadVisionTower(weights, config), backend);
const hidden = 2048;
const hard = { config: { vocabOffset: 262144, vocabSize: 128, rmsNormEps: 1e-6 }, width: 2048, projection: weights.load("projection", [hidden, 2048]) } as HardTokenWeights;
const embedder = { softNorm: weights.loadF32("soft_norm", [2048]), hard };

const rng = new Rng(3);
const photo = { data: Uint8Array.from({ length: 1280 * 960 * 3 }, () => Math.floor(rng.next() * 256)), width: 1280, height: 960 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const parts: Record<string, number[]> = {};
const totals: number[] = [];
const cpuTotals: number[] = [];
for (let r = 0; r < runs; r++) {
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let last = start;
  const lap = (part: string) => {
    const now = performance.now();
    (parts[part] ??= []).push(now - last);
    last = now;
  };
  const pixels = pixelValues(photo, size);
  lap("preprocess");
  const soft = tower.forward(pixels, lap).data;
  embedSoftTokens(backend, soft, embedder, hidden);
  lap("embed");
  totals.push(performance.now() - start);
  const cpu = process.cpuUsage(cpuStart);
  cpuTotals.push((cpu.user + cpu.system) / 1000);
}
const total = median(totals);
process.stdout.write(
  JSON.stringify({
    backend: backend.name,
    image_size: size,
    runs,
    vision_ms_per_image: Math.round(total),
    // CPU time of all threads: on a shared machine, wall time alone says little.
    cpu_ms_per_image: Math.round(median(cpuTotals)),
    share: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, +(median(v) / total).toFixed(4)])),
  }) + "\n",
);
backend.close();
