// The golden text cases (Hugging Face transformers on test/fixtures/hf-tiny) on every backend: the
// reference, and the WebAssembly backend in both builds (relaxed SIMD on 2 threads, plain SIMD on 1),
// with the tolerances of text-golden.test.ts.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import type { Backend } from "../src/kernels/backend.js";
import { ReferenceBackend } from "../src/kernels/reference.js";
import { loadModel } from "../src/node/load.js";
import { createWasmBackend } from "../src/node/wasm-backend.js";
import { cachedStepError, golden, maxAbsDiff } from "./golden.js";
import { tinyModelDir } from "./helpers.js";

const ids = Array.from(golden("hf-tiny", "text", "input_ids.npy").data);
const backends: Backend[] = [new ReferenceBackend(), await createWasmBackend({ simd: "relaxed", threads: 2 }), await createWasmBackend({ simd: "plain", threads: 1 })];
after(() => backends.forEach((b) => b.close()));

for (const backend of backends) {
  test(`${backend.name}: logits of every position, cached greedy decoding, BF16 weights`, async (t) => {
    const model = await loadModel(tinyModelDir, { backend });
    const logitsErr = maxAbsDiff(model.logits(ids), golden("hf-tiny", "text", "logits.npy").data);
    assert.ok(logitsErr < 2e-3, `logits differ by ${logitsErr}`);

    const expected = Array.from(golden("hf-tiny", "text", "generated_ids.npy").data);
    const stepLogits = golden("hf-tiny", "text", "generation_step_logits.npy").data;
    const stepErr = cachedStepError(model, ids, expected, stepLogits);
    assert.ok(stepErr < 2e-3, `step logits differ by ${stepErr}`);
    const reply = await model.complete({ ids }, { greedy: true, maxTokens: 20, ignoreEos: true });
    assert.deepEqual(reply.ids, expected);
    model.close();

    const bf16 = await loadModel(tinyModelDir, { backend, weights: "model.bf16.safetensors" });
    const bf16Err = maxAbsDiff(bf16.logits(ids), golden("hf-tiny", "text", "logits_bf16_weights.npy").data);
    assert.ok(bf16Err < 2e-3, `bf16 logits differ by ${bf16Err}`);
    bf16.close();
    t.diagnostic(`${backend.name}: logits ${logitsErr.toExponential(2)}, step logits ${stepErr.toExponential(2)}, 20/20 greedy tokens, bf16 logits ${bf16Err.toExponential(2)}`);
  });
}
