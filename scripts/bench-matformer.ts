// Elastic MatFormer on one loaded model: for each slice in turn, the time setSlice takes (loading what
// the slice lacks, or nothing) and the median decode step, with the slice's weight memory and effective
// parameters. Needs an E4B-shaped checkpoint, e.g. `node dist/scripts/synthetic-checkpoint.js e4b DIR`
// (random BF16 weights). Prints one JSON object.
//   npm run bench:matformer -- --model DIR [--slices E2B,E2.98B-block,E4B,E2B] [--tokens 4]
import { parseArgs } from "node:util";
import { loadModel } from "../src/node/load.js";

const { values } = parseArgs({
  options: { model: { type: "string" }, slices: { type: "string", default: "E2B,E2.98B-block,E4B,E2B" }, tokens: { type: "string", default: "4" } },
});
if (!values.model) throw new Error("--model DIR is required (an E4B-shaped checkpoint)");
const slices = values.slices!.split(",");
const tokens = Number(values.tokens);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

let t = performance.now();
const model = await loadModel(values.model, { matformer: slices[0] });
const loadS = (performance.now() - t) / 1000;
const rows = [];
for (const [k, name] of slices.entries()) {
  t = performance.now();
  if (k > 0) model.setSlice(name);
  const switchS = (performance.now() - t) / 1000;
  const cache = model.newCache();
  model.step(Int32Array.of(2), cache);
  const steps: number[] = [];
  for (let i = 0; i < tokens; i++) {
    t = performance.now();
    model.step(Int32Array.of(105 + i), cache);
    steps.push(performance.now() - t);
  }
  const cost = model.sliceCost(name);
  rows.push({
    slice: name,
    layers: cost.layers,
    effective_params: cost.effectiveParams,
    weights_bytes: cost.weightsBytes,
    switch_s: +switchS.toFixed(3),
    decode_ms_per_token: +median(steps).toFixed(1),
  });
}
process.stdout.write(JSON.stringify({ backend: model.decoder.backend.name, load_s: +loadS.toFixed(2), tokens, slices: rows }) + "\n");
model.close();
