// The text decoder against Hugging Face transformers on the tiny random checkpoint
// (test/fixtures/hf-tiny, copied from shared/golden/hf-tiny): every layer, every AltUp stream,
// the per-layer inputs, logits at every position, cached greedy decoding, and BF16 weights.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadModel } from "../src/node/load.js";
import { perLayerInputs } from "../src/model/text/per-layer-inputs.js";
import { cachedStepError, golden, maxAbs, maxAbsDiff } from "./golden.js";
import { tinyModelDir } from "./helpers.js";

const ids = Array.from(golden("hf-tiny", "text", "input_ids.npy").data);
const T = ids.length;

test("embeddings and per-layer inputs match the reference", async () => {
  const model = await loadModel(tinyModelDir);
  const d = model.decoder;
  const embeds = d.embed(Int32Array.from(ids));
  assert.ok(maxAbsDiff(embeds, golden("hf-tiny", "text", "inputs_embeds.npy").data) < 1e-5);
  const pli = perLayerInputs(d.backend, Int32Array.from(ids), embeds, d.weights, model.config.text);
  const ref = golden("hf-tiny", "text", "per_layer_inputs.npy").data;
  assert.ok(maxAbsDiff(pli, ref) < 1e-4 * maxAbs(ref), `per-layer inputs differ by ${maxAbsDiff(pli, ref)}`);
  model.close();
});

test("every layer's four AltUp streams match within 1e-4 of their max-abs; logits within 2e-3", async (t) => {
  const model = await loadModel(tinyModelDir);
  const c = model.config.text;
  const D = c.hiddenSize;
  const A = c.altupNumInputs;
  const ref = golden("hf-tiny", "text", "hidden_states_all_streams.npy").data; // [L, A, T, D]
  let layersSeen = 0;
  let worst = 0;
  const logits = model.logits(ids, {
    onLayer: (l, streams) => {
      layersSeen++;
      for (let s = 0; s < A; s++) {
        const r = ref.subarray((l * A + s) * T * D, (l * A + s + 1) * T * D);
        const rel = maxAbsDiff(streams[s]!, r) / maxAbs(r);
        worst = Math.max(worst, rel);
        assert.ok(rel < 1e-4, `layer ${l} stream ${s}: relative error ${rel}`);
      }
    },
  });
  assert.equal(layersSeen, c.numLayers);
  const refLogits = golden("hf-tiny", "text", "logits.npy").data;
  const err = maxAbsDiff(logits, refLogits);
  assert.ok(err < 2e-3, `logits differ by ${err}`);
  t.diagnostic(`hidden states: worst relative error ${worst.toExponential(2)}; logits max abs error ${err.toExponential(2)}`);
  model.close();
});

test("cached greedy decoding reproduces the 20 reference tokens and their logits", async (t) => {
  const model = await loadModel(tinyModelDir);
  const expected = Array.from(golden("hf-tiny", "text", "generated_ids.npy").data);
  const stepLogits = golden("hf-tiny", "text", "generation_step_logits.npy").data;
  // Drive the cache step by step to compare each step's logits too.
  const worst = cachedStepError(model, ids, expected, stepLogits);
  assert.ok(worst < 2e-3, `step logits differ by ${worst}`);
  // And through the public generation API.
  const stream = model.generate({ ids }, { greedy: true, maxTokens: 20, ignoreEos: true });
  let r = await stream.next();
  while (!r.done) r = await stream.next();
  assert.deepEqual(r.value.ids, expected);
  assert.equal(r.value.finishReason, "length");
  t.diagnostic(`greedy: 20/20 tokens exact; step logits max abs error ${worst.toExponential(2)}`);
  model.close();
});

test("BF16 weights (model.bf16.safetensors) give the reference's BF16 logits", async (t) => {
  const model = await loadModel(tinyModelDir, { weights: "model.bf16.safetensors" });
  assert.equal(model.decoder.weights.layers[0]!.q.dtype, "bf16", "BF16 weights stay 16-bit in memory");
  const err = maxAbsDiff(model.logits(ids), golden("hf-tiny", "text", "logits_bf16_weights.npy").data);
  assert.ok(err < 2e-3, `bf16 logits differ by ${err}`);
  t.diagnostic(`bf16 weights: logits max abs error ${err.toExponential(2)}`);
  model.close();
});

test("--dtype converts weights exactly: f32→bf16 rounds as torch did, bf16→f32 widens", async () => {
  const fromF32 = await loadModel(tinyModelDir, { dtype: "bf16" });
  const bf16 = await loadModel(tinyModelDir, { weights: "model.bf16.safetensors" });
  for (const l of [0, 9]) {
    for (const m of ["q", "o", "gate", "down"] as const) {
      assert.deepEqual(fromF32.decoder.weights.layers[l]![m].data, bf16.decoder.weights.layers[l]![m].data, `layer ${l} ${m}`);
    }
  }
  const widened = await loadModel(tinyModelDir, { weights: "model.bf16.safetensors", dtype: "f32" });
  assert.equal(widened.decoder.weights.embedTokens.dtype, "f32");
  assert.equal(maxAbsDiff(widened.logits(ids), bf16.logits(ids)), 0);
  for (const m of [fromF32, bf16, widened]) m.close();
});

test("the last-token prefill shortcut gives the same last logits as the full pass", async () => {
  const model = await loadModel(tinyModelDir);
  const V = model.config.text.vocabSize;
  const full = model.logits(ids).subarray((T - 1) * V);
  const last = model.step(Int32Array.from(ids), model.newCache());
  assert.ok(maxAbsDiff(full, last) < 1e-5);
  model.close();
});
