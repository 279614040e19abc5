// gemma3n bench: the JSON contract on the tiny checkpoint, its errors, and the synthetic real-size
// checkpoint's bytes (valid blocks at any read offset, the right dtypes) without building the model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { widen } from "../src/kernels/dtype.js";
import { syntheticCheckpoint } from "../src/model/synthetic-checkpoint.js";
import { cli } from "./cli-helpers.js";
import { tinyModelDir } from "./helpers.js";

test("bench prints one JSON object with the medians and the run's shape", () => {
  const r = cli(["bench", "--model", tinyModelDir, "--dtype", "q8_0", "--threads", "2", "--prompt", "6", "--gen", "3", "--runs", "2", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  for (const k of ["model", "dtype", "threads", "prompt_tokens", "gen_tokens", "runs", "prefill_tok_s", "decode_tok_s", "ttft_ms", "peak_rss_bytes"]) assert.ok(k in out, `field ${k}`);
  assert.equal(out.dtype, "q8_0");
  assert.equal(out.threads, 2);
  assert.deepEqual([out.prompt_tokens, out.gen_tokens, out.runs], [6, 3, 2]);
  for (const k of ["prefill_tok_s", "decode_tok_s", "ttft_ms", "peak_rss_bytes", "sample_ms"]) assert.ok(out[k] > 0, `${k} = ${out[k]}`);
  // The cost of one barrier between ops on the WebAssembly backend's threads (a figure, not a speed test:
  // it reaches milliseconds when another process holds a core).
  assert.ok(typeof out.dispatch_us === "number" && out.dispatch_us > 0, `dispatch_us = ${out.dispatch_us}`);
});

test("bench refuses bad arguments with one line", () => {
  for (const [args, message] of [
    [["bench", "--prompt", "4"], /exactly one of --model and --synthetic/],
    [["bench", "--model", tinyModelDir, "--synthetic", "e2b"], /exactly one of --model and --synthetic/],
    [["bench", "--model", tinyModelDir, "--threads", "0"], /--threads must be an integer ≥ 1/],
    [["bench", "--model", tinyModelDir, "--prompt", "32760", "--gen", "9"], /exceeds the context length 32768/],
  ] as const) {
    const r = cli([...args]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

test("synthetic E2B weights: the requested dtype, valid blocks at any offset, the PLE table left on disk-like rows", () => {
  const ck = syntheticCheckpoint("e2b", "q4_0");
  const gate = ck.entry("model.language_model.layers.3.mlp.gate_proj.weight");
  assert.deepEqual([gate.dtype, ...gate.shape], ["q4_0", 8192, 2048]);
  assert.equal(ck.entry("model.language_model.embed_tokens_per_layer.weight").dtype, "bf16");
  assert.equal(ck.entry("model.language_model.norm.weight").dtype, "f32");
  // Read 5 blocks starting one byte into a block: the bytes must line up with whole blocks.
  const bytes = new Uint8Array(18 * 6);
  gate.file.read(gate.offset + 18 * 1000 - 1, bytes);
  const blocks = bytes.subarray(1, 1 + 18 * 5);
  const w = new Float32Array(32 * 5);
  widen({ dtype: "q4_0", shape: [1, 160], data: blocks }, 0, 160, w);
  const rms = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert.ok(rms > 0.01 && rms < 0.1, `weights have a std near 0.03, got ${rms}`);
  assert.ok(ck.load("model.language_model.norm.weight").data.every((v) => v === 1), "norm weights are ones");
});
