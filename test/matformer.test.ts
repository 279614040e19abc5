// MatFormer slices as a view over the full checkpoint (issue #4): the official table, slice files,
// validation, the golden slice of the tiny model (shared/golden/hf-tiny/matformer, copied to
// test/fixtures/hf-tiny/matformer), switching slices on one loaded model, and automatic choice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadModel } from "../src/node/load.js";
import { parseModelConfig } from "../src/model/config.js";
import { OFFICIAL_SLICES, officialSlice } from "../src/model/matformer/official.js";
import { planSlice } from "../src/model/matformer/plan.js";
import { interpolateSlice, parseSliceConfig, type SliceConfig } from "../src/model/matformer/slice-config.js";
import { sliceCost } from "../src/model/matformer/cost.js";
import { syntheticConfig, textTensorShapes } from "../src/model/synthetic.js";
import { ConfigError, InputError } from "../src/errors.js";
import { golden, maxAbs, maxAbsDiff } from "./golden.js";
import { fixture, tinyModelDir } from "./helpers.js";

const ids = Array.from(golden("hf-tiny", "matformer", "input_ids.npy").data);
const goldenSlice = parseSliceConfig(JSON.parse(readFileSync(fixture("hf-tiny", "matformer", "slice.json"), "utf8")), "slice.json");
const tinyConfig = parseModelConfig(JSON.parse(readFileSync(fixture("hf-tiny", "model", "config.json"), "utf8"))).text;

test("the built-in table is Google's CSV: 16 configurations, unique short names", () => {
  const csv = readFileSync(fixture("matformer", "gemma3n-slicing-configs.csv"), "utf8").trim().split("\n").slice(1);
  assert.equal(csv.length, 16);
  assert.equal(OFFICIAL_SLICES.length, 16);
  assert.equal(new Set(OFFICIAL_SLICES.map((s) => s.name.toLowerCase())).size, 16);
  csv.forEach((line, k) => {
    const cells = line.match(/("[^"]*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, "").replace(/^"|"$/g, ""));
    const [name, layers, eff, mmlu, dims, skipped] = cells;
    const s = OFFICIAL_SLICES[k]!;
    assert.equal(s.published, name);
    assert.equal(s.layers, Number(layers));
    assert.equal(s.publishedEffectiveB, Number(eff));
    assert.equal(s.mmlu, Number(mmlu!.replace("%", "")));
    const widths = [...dims!.matchAll(/2_048 \* (\d)/g)].map((m) => 2048 * Number(m[1]));
    assert.deepEqual(s.config.ffnHiddenDims, widths, s.name);
    assert.deepEqual(s.config.layersToSkip, skipped ? JSON.parse(skipped) : [], s.name);
  });
  assert.equal(officialSlice("e2b")?.name, "E2B");
  assert.equal(officialSlice("E2.98B-block")?.published, "Config for E2.98B (block-level)");
});

test("effective parameters of the official slices at the real E4B dimensions", (t) => {
  const raw = syntheticConfig("e4b");
  const c = parseModelConfig(raw).text;
  const shapes = textTensorShapes(raw).map((s) => ({ ...s, dtype: "bf16" as const }));
  for (const s of OFFICIAL_SLICES) {
    const cost = sliceCost(shapes, c, planSlice(c, s.name));
    t.diagnostic(`${s.name}: ${cost.effectiveParams} (Google ${s.publishedEffectiveB} B)`);
    assert.ok(Math.abs(cost.effectiveParams / 1e9 - s.publishedEffectiveB) < 0.025, `${s.name}: ${cost.effectiveParams}`);
  }
  // The MatFormer Lab notebook prints 1,905,495,648 effective parameters for its E2B slice.
  assert.equal(sliceCost(shapes, c, planSlice(c, "E2B")).effectiveParams, 1_905_495_648);
  assert.equal(Math.round(sliceCost(shapes, c, planSlice(c, "E4B")).effectiveParams / 1e7), 398);
});

test("slice files: the two fields and a name; anything else is an error", () => {
  assert.deepEqual(parseSliceConfig({ ffn_hidden_dims: [1, 2] }, "f"), { name: undefined, ffnHiddenDims: [1, 2], layersToSkip: [] });
  assert.throws(() => parseSliceConfig({ ffn_hidden_dims: [1], layers: [] }, "f.json"), (e: Error) => e instanceof ConfigError && /unknown key "layers"/.test(e.message));
  assert.throws(() => parseSliceConfig({ layers_to_skip: [1] }, "f.json"), /"ffn_hidden_dims" is missing/);
  assert.throws(() => parseSliceConfig({ ffn_hidden_dims: [128, "x"] }, "f.json"), /list of integers ≥ 1/);
  assert.throws(() => parseSliceConfig({ ffn_hidden_dims: [128], layers_to_skip: [-1] }, "f.json"), /list of integers ≥ 0/);
  assert.throws(() => parseSliceConfig([1, 2], "f.json"), /must be a JSON object/);
  assert.throws(() => parseSliceConfig({ ffn_hidden_dims: [1], name: 3 }, "f.json"), /"name" must be a non-empty string/);
});

test("a slice plan re-indexes layer types, sparsity and KV sharing like the exported config", () => {
  const plan = planSlice(tinyConfig, goldenSlice);
  const ref = JSON.parse(readFileSync(fixture("hf-tiny", "matformer", "config.json"), "utf8"));
  const expected = parseModelConfig(ref).text;
  assert.deepEqual(plan.layers, [0, 1, 2, 3, 4, 5, 6, 8, 9]);
  assert.deepEqual(plan.text, expected);
});

test("slices are checked against the model they are applied to", () => {
  const c = tinyConfig;
  const plan = (s: SliceConfig, block?: number) => () => planSlice(c, { name: "s", ...s }, block);
  const full = Array(10).fill(256);
  assert.throws(plan({ ffnHiddenDims: Array(9).fill(128) }), /ffn_hidden_dims has 9 widths, but the model keeps 10 layers/);
  assert.throws(plan({ ffnHiddenDims: [...full.slice(1), 257] }), /ffn_hidden_dims\[9\] = 257 exceeds the stored FFN width 256 of layer 9/);
  assert.throws(plan({ ffnHiddenDims: full.slice(1), layersToSkip: [10] }), /layers_to_skip has 10, but the model's layers are 0–9/);
  assert.throws(plan({ ffnHiddenDims: full.slice(2), layersToSkip: [5, 5] }), /lists layer 5 twice/);
  // Layer 3 is the last sliding layer before the KV-shared ones (5–8 read its cache); layer 4 feeds 9.
  assert.throws(plan({ ffnHiddenDims: full.slice(1), layersToSkip: [3] }), (e: Error) => e instanceof ConfigError && /layer 3 cannot be skipped: layer 5 reuses its KV cache/.test(e.message));
  assert.throws(plan({ ffnHiddenDims: full.slice(1), layersToSkip: [4] }), /layer 4 cannot be skipped: layer 9 reuses its KV cache/);
  // ...unless every layer that reads it goes too.
  assert.equal(planSlice(c, { ffnHiddenDims: full.slice(2), layersToSkip: [4, 9] }).text.numKvSharedLayers, 4);
  assert.throws(plan({ ffnHiddenDims: [...full.slice(1), 100] }, 32), /= 100 is not a multiple of 32, the block size of the quantized FFN weights/);
  assert.equal(planSlice(c, { ffnHiddenDims: [...full.slice(1), 100] }).text.intermediateSize[9], 100); // float: any width
  assert.throws(() => planSlice(c, "E2B"), /E2B is defined on Gemma 3n E4B \(35 layers, FFN 16384\); this model has 10 layers/);
  assert.throws(() => planSlice(c, "E7B"), /unknown MatFormer slice "E7B" \(known: full, E4B, E2B/);
  assert.throws(() => planSlice(c, { ffnHiddenDims: [], layersToSkip: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }), /skips every layer/);
});

test("the interpolation helper: 0 = E2B widths, 1 = the stored widths, steps of 32", () => {
  assert.deepEqual(interpolateSlice(tinyConfig, 0).ffnHiddenDims, Array(10).fill(128));
  assert.deepEqual(interpolateSlice(tinyConfig, 1).ffnHiddenDims, Array(10).fill(256));
  assert.deepEqual(interpolateSlice(tinyConfig, 0.6).ffnHiddenDims, Array(10).fill(192)); // 204.8 → 192
  const e4b = parseModelConfig(syntheticConfig("e4b")).text;
  assert.deepEqual(interpolateSlice(e4b, 0.75).ffnHiddenDims, Array(35).fill(14336));
  assert.throws(() => interpolateSlice(tinyConfig, 1.5), (e: Error) => e instanceof InputError && /between 0 \(E2B widths\) and 1/.test(e.message));
});

test("the golden slice, run as a view over the full checkpoint: hidden states, logits, 20 greedy tokens", async (t) => {
  const model = await loadModel(tinyModelDir, { matformer: goldenSlice });
  assert.equal(model.slice.name, "golden-tiny");
  assert.equal(model.config.text.numLayers, 9);
  const ref = golden("hf-tiny", "matformer", "hidden_states_stream0.npy").data; // [9, T, D]
  const T = ids.length;
  const D = 64;
  let worst = 0;
  const logits = model.logits(ids, {
    onLayer: (l, streams) => {
      const r = ref.subarray(l * T * D, (l + 1) * T * D);
      worst = Math.max(worst, maxAbsDiff(streams[0]!, r) / maxAbs(r));
    },
  });
  assert.ok(worst < 1e-4, `hidden states: relative error ${worst}`);
  const err = maxAbsDiff(logits, golden("hf-tiny", "matformer", "logits.npy").data);
  assert.ok(err < 2e-3, `slice logits differ by ${err}`);
  const reply = await model.complete({ ids }, { greedy: true, maxTokens: 20, ignoreEos: true });
  assert.deepEqual(reply.ids, Array.from(golden("hf-tiny", "matformer", "generated_ids.npy").data));
  t.diagnostic(`view: hidden states ${worst.toExponential(2)} relative, logits ${err.toExponential(2)}`);
  // The parent runs unchanged on the same loaded weights.
  model.setSlice("full");
  const parentErr = maxAbsDiff(model.logits(ids), golden("hf-tiny", "matformer", "parent_logits.npy").data);
  assert.ok(parentErr < 2e-3, `parent logits differ by ${parentErr}`);
  t.diagnostic(`parent after slicing: logits ${parentErr.toExponential(2)}`);
  model.close();
});

test("switching slices back and forth on one model gives the outputs of fresh loads", async () => {
  const narrow: SliceConfig = { name: "narrow", ffnHiddenDims: Array(8).fill(96), layersToSkip: [6, 7] };
  const requests = ["full", goldenSlice, narrow, { ratio: 0.5 }] as const;
  const fresh = [];
  for (const r of requests) {
    const m = await loadModel(tinyModelDir, { matformer: r });
    fresh.push({ logits: m.logits(ids), reply: (await m.complete({ ids }, { greedy: true, maxTokens: 8, ignoreEos: true })).ids });
    m.close();
  }
  const model = await loadModel(tinyModelDir, { matformer: narrow }); // starts small: the rest loads on demand
  for (const k of [1, 0, 2, 3, 1, 2, 0, 3]) {
    model.setSlice(requests[k]!, { releaseUnused: k === 2 });
    assert.deepEqual(model.logits(ids), fresh[k]!.logits, `slice ${k}`);
    assert.deepEqual((await model.complete({ ids }, { greedy: true, maxTokens: 8, ignoreEos: true })).ids, fresh[k]!.reply);
  }
  model.close();
});

test("a KV cache stays with the slice it was made under; sessions start over after a switch", async () => {
  const model = await loadModel(tinyModelDir);
  const ref = await loadModel(tinyModelDir);
  const cache = model.newCache();
  model.step(Int32Array.from(ids), cache);
  model.setSlice(goldenSlice);
  // A step with the old cache still runs the full model (as a generation in flight would).
  const refCache = ref.newCache();
  ref.step(Int32Array.from(ids), refCache);
  assert.deepEqual(model.step(Int32Array.of(5), cache), ref.step(Int32Array.of(5), refCache));
  // The decoder itself refuses a cache of another slice rather than mixing them.
  assert.throws(() => model.decoder.forward(Int32Array.of(5), cache), (e: Error) => e instanceof InputError && /another MatFormer slice/.test(e.message));
  // A session that ran under the full model gives the slice's own reply after the switch.
  model.setSlice("full");
  const session = model.session();
  await session.complete({ ids }, { greedy: true, maxTokens: 4, ignoreEos: true });
  model.setSlice(goldenSlice);
  const after = await session.complete({ ids }, { greedy: true, maxTokens: 20, ignoreEos: true });
  assert.deepEqual(after.ids, Array.from(golden("hf-tiny", "matformer", "generated_ids.npy").data));
  model.close();
  ref.close();
});

test("auto mode picks the largest slice within a memory or latency budget", async () => {
  const narrow: SliceConfig = { name: "narrow", ffnHiddenDims: Array(8).fill(96), layersToSkip: [6, 7] };
  const candidates = [narrow, goldenSlice, "full"];
  const model = await loadModel(tinyModelDir, { matformer: { auto: { candidates } }, contextLength: 64 });
  assert.equal(model.slice.name, "full");
  const costs = candidates.map((c) => model.sliceCost(c));
  const need = (k: number) => costs[k]!.weightsBytes + costs[k]!.kvCacheBytes;
  assert.ok(need(0) < need(1) && need(1) < need(2));
  assert.equal(model.setSlice({ auto: { candidates, memoryBytes: need(2) - 1 } }).name, "golden-tiny");
  assert.equal(model.setSlice({ auto: { candidates, memoryBytes: need(1) - 1 } }).name, "narrow");
  assert.throws(() => model.setSlice({ auto: { candidates, memoryBytes: need(0) - 1 } }), (e: Error) => e instanceof InputError && /no MatFormer slice fits in \d+ bytes: the smallest, narrow, needs \d+/.test(e.message));
  assert.equal(model.slice.name, "narrow", "a failed choice leaves the slice as it was");
  assert.equal(model.setSlice({ auto: { candidates, msPerToken: 1e9 } }).name, "full");
  assert.throws(() => model.setSlice({ auto: { candidates, msPerToken: 1e-9 } }), /no MatFormer slice decodes within 1e-9 ms per token here: the fastest, narrow, took/);
  assert.equal(model.slice.name, "full");
  // Without candidates: the whole model (no official slice applies to a 10-layer model).
  assert.equal(model.setSlice({ auto: { memoryBytes: 1e12 } }).name, "full");
  model.close();
});
