// Block-quantized weights (GGUF Q8_0 / Q4_0): the byte layout, the quantizers' rounding, and the
// quality cost on the golden prompt — KL divergence of the next-token distribution against float32.
import { test } from "node:test";
import assert from "node:assert/strict";
import { convertTensor, toF16, widen, type Tensor } from "../src/kernels/dtype.js";
import { ReferenceBackend } from "../src/kernels/reference.js";
import { loadModel } from "../src/node/load.js";
import { golden } from "./golden.js";
import { tinyModelDir } from "./helpers.js";

function block(d: number, payload: number[]): Uint8Array {
  const h = toF16(d);
  return Uint8Array.from([h & 0xff, h >> 8, ...payload]);
}

test("widen reads GGUF block layouts: q8_0 = d·int8, q4_0 = d·(nibble − 8) with weight j+16 in byte j's high nibble", () => {
  const q8 = block(0.5, Array.from({ length: 32 }, (_, j) => (j - 16) & 0xff));
  const q4 = block(0.25, Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4)));
  const out = new Float32Array(32);
  widen({ dtype: "q8_0", shape: [1, 32], data: q8 }, 0, 32, out);
  assert.deepEqual(Array.from(out), Array.from({ length: 32 }, (_, j) => 0.5 * (j - 16)));
  widen({ dtype: "q4_0", shape: [1, 32], data: q4 }, 0, 32, out);
  assert.deepEqual(Array.from(out), Array.from({ length: 32 }, (_, j) => 0.25 * ((j < 16 ? j : 31 - j) - 8)));
  // A window that starts and ends inside blocks.
  const two = new Uint8Array([...q4, ...q4]);
  const part = new Float32Array(20);
  widen({ dtype: "q4_0", shape: [1, 64], data: two }, 27, 20, part);
  assert.deepEqual(Array.from(part), Array.from({ length: 20 }, (_, k) => 0.25 * (((27 + k) % 32 < 16 ? (27 + k) % 32 : 31 - ((27 + k) % 32)) - 8)));
});

test("the quantizers round as llama.cpp's: q8_0 d = amax/127, q4_0 d = −max/8 with the largest magnitude exact", () => {
  const x = Float32Array.from({ length: 96 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 7)));
  const t: Tensor = { dtype: "f32", shape: [1, 96], data: x };
  for (const dtype of ["q8_0", "q4_0"] as const) {
    const q = convertTensor(t, dtype);
    assert.equal(q.data.length, dtype === "q8_0" ? 3 * 34 : 3 * 18);
    const back = new Float32Array(96);
    widen(q, 0, 96, back);
    for (let b = 0; b < 3; b++) {
      const xs = Array.from(x.subarray(b * 32, b * 32 + 32));
      const amax = Math.max(...xs.map(Math.abs));
      const d = dtype === "q8_0" ? amax / 127 : amax / 8;
      const iMax = xs.findIndex((v) => Math.abs(v) === amax);
      assert.ok(Math.abs(back[b * 32 + iMax]! - xs[iMax]!) < 1e-3 * amax, `${dtype}: the largest magnitude survives`);
      for (let j = 0; j < 32; j++) {
        // Half a step of rounding (plus f16 scale rounding); q4_0 clips +8 to +7 (one step).
        const limit = (dtype === "q4_0" && Math.sign(xs[j]!) !== Math.sign(xs[iMax]!) ? d : d / 2) + 2e-3 * amax;
        assert.ok(Math.abs(back[b * 32 + j]! - xs[j]!) <= limit, `${dtype} block ${b} element ${j}: ${back[b * 32 + j]} vs ${xs[j]}`);
      }
    }
  }
  assert.throws(() => convertTensor({ dtype: "f32", shape: [2, 16], data: new Float32Array(32) }, "q4_0"), /whole blocks of 32/);
});

/** Mean and max over positions of KL(p ‖ q) between the softmaxes of two [T, V] logit arrays. */
function klDivergence(p: Float32Array, q: Float32Array, V: number): { mean: number; max: number } {
  const logSoftmax = (x: Float32Array) => {
    let m = -Infinity;
    for (const v of x) m = Math.max(m, v);
    let s = 0;
    for (const v of x) s += Math.exp(v - m);
    const lse = m + Math.log(s);
    return Array.from(x, (v) => v - lse);
  };
  const kls: number[] = [];
  for (let t = 0; t < p.length / V; t++) {
    const lp = logSoftmax(p.subarray(t * V, (t + 1) * V));
    const lq = logSoftmax(q.subarray(t * V, (t + 1) * V));
    kls.push(lp.reduce((s, a, i) => s + Math.exp(a) * (a - lq[i]!), 0));
  }
  return { mean: kls.reduce((a, b) => a + b, 0) / kls.length, max: Math.max(...kls) };
}

for (const backend of ["reference", "wasm"] as const) {
  test(`quantized weights on the ${backend} backend: KL divergence of the next-token distribution against float32 on the golden prompt`, async (t) => {
    const ids = Array.from(golden("hf-tiny", "text", "input_ids.npy").data);
    const f32 = await loadModel(tinyModelDir, { backend: new ReferenceBackend() });
    const V = f32.config.text.vocabSize;
    const exact = f32.logits(ids);
    f32.close();
    const kl: Record<string, { mean: number; max: number }> = {};
    for (const dtype of ["bf16", "q8_0", "q4_0"] as const) {
      const model = await loadModel(tinyModelDir, { dtype, backend: backend === "reference" ? new ReferenceBackend() : undefined });
      const w = model.decoder.weights;
      assert.equal(w.layers[0]!.gate.dtype, dtype);
      assert.equal(w.embedTokens.dtype, dtype);
      // Rows of 8 (the LAuReL rank) are not whole blocks: that matrix keeps its stored dtype.
      if (dtype !== "bf16") assert.equal(w.layers[0]!.laurel.right.dtype, "f32");
      kl[dtype] = klDivergence(exact, model.logits(ids), V);
      model.close();
      t.diagnostic(`${backend} ${dtype}: KL vs f32 over ${ids.length} positions: mean ${kl[dtype]!.mean.toExponential(3)}, max ${kl[dtype]!.max.toExponential(3)}`);
    }
    // The tiny random model (width 64) amplifies weight noise, so these are far above a real model's
    // figures. Measured (reference / wasm, whose products also round activations to 8 bits like
    // llama.cpp's): bf16 7.0e-4 / 7.0e-4 mean, q8_0 5.3e-3 / 6.7e-3, q4_0 1.41 / 1.42. Bounds are about 3×
    // those; q4_0's 16× coarser steps should cost about 16² × q8_0's KL, and do.
    assert.ok(kl.bf16!.mean < 2e-3 && kl.bf16!.max < 8e-3, `bf16 KL ${JSON.stringify(kl.bf16)}`);
    assert.ok(kl.q8_0!.mean < 3e-2 && kl.q8_0!.max < 1.5e-1, `q8_0 KL ${JSON.stringify(kl.q8_0)}`);
    assert.ok(kl.q4_0!.mean < 4 && kl.q4_0!.max < 15, `q4_0 KL ${JSON.stringify(kl.q4_0)}`);
    assert.ok(kl.bf16!.mean < kl.q8_0!.mean && kl.q8_0!.mean * 30 < kl.q4_0!.mean, "bf16 < q8_0 ≪ q4_0");
  });
}
