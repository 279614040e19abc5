// Against llama.cpp itself (the prebuilt binaries of the dev dependency node-llama-cpp): a random checkpoint
// built with the constants llama.cpp hard-codes for Gemma 3n (25 layers, KV sharing from layer 20, sparsity on
// layers 0–9, per-layer-input width 256, LAuReL rank 64) goes through `gemma3n convert`; llama.cpp loads the
// GGUF and its next-token probabilities must match ours.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rng } from "../src/generate/sampler.js";
import { syntheticConfig, textTensorShapes } from "../src/model/synthetic.js";
import { convertToGGUF } from "../src/node/convert.js";
import { loadModel } from "../src/node/load.js";
import { writeSafetensors } from "../src/node/write-safetensors.js";
import { tinyModelDir } from "./helpers.js";
import type { ControlledEvaluateInputItem, Token } from "node-llama-cpp";

process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = "true";

/** A checkpoint with llama.cpp's Gemma 3n constants, small widths, random float32 weights (seeded). */
function writeRandomCheckpoint(dir: string): void {
  const config = syntheticConfig("e2b");
  const L = 25;
  Object.assign(config.text_config as Record<string, unknown>, {
    hidden_size: 128,
    num_hidden_layers: L,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 64,
    intermediate_size: new Array(L).fill(1024),
    vocab_size: 768,
    vocab_size_per_layer_input: 512,
    num_kv_shared_layers: 5,
    activation_sparsity_pattern: Array.from({ length: L }, (_, i) => (i < 10 ? 0.95 : 0)),
    layer_types: Array.from({ length: L }, (_, i) => ((i + 1) % 5 === 0 ? "full_attention" : "sliding_attention")),
    sliding_window: 16,
    max_position_embeddings: 256,
  });
  // Text only: the hard-token embedders are not written (their ids would lie outside this vocabulary).
  const shapes = textTensorShapes(config).filter((t) => !t.name.startsWith("model.embed_"));
  delete config.vision_config;
  delete config.audio_config;
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(tinyModelDir, f), join(dir, f));
  const rng = new Rng(12345);
  const uniform = () => rng.next() - 0.5;
  writeSafetensors(
    join(dir, "model.safetensors"),
    shapes.map(({ name, shape }) => ({
      name,
      dtype: "f32" as const,
      shape,
      *bytes() {
        const n = shape.reduce((a, b) => a * b, 1);
        const isNorm = shape.length === 1 && !name.endsWith("correct_output_scale");
        // A large token embedding makes the tied output peaked, so argmax comparisons mean something.
        const scale = shape.length === 1 ? 0.2 : name.includes("coefs") ? 0.4 : name.endsWith("embed_tokens.weight") ? 0.4 : 0.5 / Math.sqrt(shape[1]!);
        const v = Float32Array.from({ length: n }, () => (isNorm || name.endsWith("correct_output_scale") ? 1 : 0) + scale * uniform());
        yield new Uint8Array(v.buffer);
      },
    })),
  );
}

test("llama.cpp (node-llama-cpp) runs a GGUF written by convert and agrees with our logits", async (t) => {
  let nlc: typeof import("node-llama-cpp");
  try {
    nlc = await import("node-llama-cpp");
  } catch (e) {
    t.skip(`node-llama-cpp is not installed (${(e as Error).message})`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "gemma3n-llamacpp-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeRandomCheckpoint(dir);
  const ids = [2, 105, 9, 77, 300, 500, 12, 45, 46, 47, 48, 49, 50, 51, 400, 401, 402, 403, 404, 405];
  const V = 768;
  let llama;
  try {
    llama = await nlc.getLlama({ gpu: false, build: "never", logLevel: nlc.LlamaLogLevel.error });
  } catch (e) {
    t.skip(`no prebuilt llama.cpp binary for this machine (${(e as Error).message})`);
    return;
  }
  /** Our next-token distributions [n × V] from a GGUF. */
  const ourProbs = async (gguf: string) => {
    const model = await loadModel(gguf);
    const logits = model.logits(ids);
    model.close();
    const p = new Float64Array(logits.length);
    for (let r = 0; r < ids.length; r++) {
      let mx = -Infinity;
      for (let i = 0; i < V; i++) mx = Math.max(mx, logits[r * V + i]!);
      let sum = 0;
      for (let i = 0; i < V; i++) sum += p[r * V + i] = Math.exp(logits[r * V + i]! - mx);
      for (let i = 0; i < V; i++) p[r * V + i]! /= sum;
    }
    return p;
  };
  const llamaProbs = async (gguf: string) => {
    const model = await llama.loadModel({ modelPath: gguf });
    // As the llamacpp-tiny golden was made: a float32 KV cache (its default is f16), no flash attention.
    const context = await model.createContext({
      contextSize: 256,
      batchSize: 256,
      sequences: 1,
      threads: 2,
      flashAttention: false,
      experimentalKvCacheKeyType: "F32",
      experimentalKvCacheValueType: "F32",
      swaFullCache: true,
    });
    try {
      const out = await context.getSequence().controlledEvaluate(ids.map((id): ControlledEvaluateInputItem => [id as Token, { generateNext: { probabilities: true } }]));
      const p = new Float64Array(ids.length * V);
      out.forEach((o, r) => (o!.next.probabilities as Map<number, number>).forEach((v, i) => (p[r * V + i] = v)));
      return p;
    } finally {
      await context.dispose();
      await model.dispose();
    }
  };
  const argmaxes = (p: Float64Array) => ids.map((_, r) => p.subarray(r * V, (r + 1) * V).reduce((b, v, i, a) => (v > a[b]! ? i : b), 0));
  const meanKL = (p: Float64Array, q: Float64Array) => {
    let kl = 0;
    for (let i = 0; i < p.length; i++) if (p[i]! > 0) kl += p[i]! * Math.log(p[i]! / Math.max(q[i]!, 1e-30));
    return kl / ids.length;
  };
  try {
    const files = Object.fromEntries((["f32", "q8_0", "q4_0"] as const).map((dtype) => {
      const gguf = join(dir, `model-${dtype}.gguf`);
      assert.deepEqual(convertToGGUF(dir, gguf, { dtype }).warnings, [], "a model with llama.cpp's constants gets no warning");
      return [dtype, gguf];
    }));
    const oursF32 = await ourProbs(files.f32!);
    const theirsF32 = await llamaProbs(files.f32!);
    const maxDp = oursF32.reduce((m, v, i) => Math.max(m, Math.abs(v - theirsF32[i]!)), 0);
    const agree = argmaxes(oursF32).filter((a, r) => a === argmaxes(theirsF32)[r]).length;
    console.log(`llama.cpp vs ours, f32 GGUF: max |Δp| ${maxDp.toExponential(2)}, mean KL ${meanKL(theirsF32, oursF32).toExponential(2)}, argmax agrees on ${agree}/${ids.length}`);
    assert.ok(maxDp < 1e-2, `f32: max probability difference ${maxDp}`);
    assert.ok(agree >= ids.length - 1, `f32: argmax agrees on ${agree}/${ids.length}`);
    // Quantized files: llama.cpp also quantizes the activations to 8 bits, and this random model is chaotic (a
    // weight change of 0.4% moves argmaxes), so agreement is measured against what quantizing the file does to
    // our own output: llama.cpp reading our blocks differently would land far outside it.
    for (const dtype of ["q8_0", "q4_0"] as const) {
      const ours = await ourProbs(files[dtype]!);
      const theirs = await llamaProbs(files[dtype]!);
      const klLlama = meanKL(theirs, ours);
      const klQuant = meanKL(oursF32, ours);
      console.log(`llama.cpp vs ours, ${dtype} GGUF: mean KL ${klLlama.toExponential(2)} (quantizing moves ours by ${klQuant.toExponential(2)} from f32)`);
      assert.ok(klLlama < 2 * klQuant, `${dtype}: llama.cpp is ${klLlama} from us, quantization alone ${klQuant}`);
    }
  } finally {
    await llama.dispose();
  }
});
