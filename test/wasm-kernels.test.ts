// The WebAssembly backend's kernels against the reference backend, on random shapes that are not
// multiples of the vector width or of the block count per step, with row/column slices, on both
// builds (relaxed and plain SIMD) and on 1 and 2 threads.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/generate/sampler.js";
import type { KeyValues } from "../src/kernels/backend.js";
import { convertTensor, QBLOCK, widen, type DType, type Tensor } from "../src/kernels/dtype.js";
import { ReferenceBackend } from "../src/kernels/reference.js";
import type { WasmBackend } from "../src/kernels/wasm/backend.js";
import { LayerCache } from "../src/model/text/kv-cache.js";
import { createWasmBackend } from "../src/node/wasm-backend.js";

const ref = new ReferenceBackend();
const rng = new Rng(7);
const random = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 2 * scale);

const builds: [WasmBackend, string][] = [];
for (const simd of ["relaxed", "plain"] as const) {
  for (const threads of [1, 2]) {
    const b = await createWasmBackend({ simd, threads });
    builds.push([b, `${simd}×${threads}`]);
  }
}
after(() => builds.forEach(([b]) => b.close()));

/**
 * How far a product computed with 8-bit activations may be from the exact one: each activation block
 * is rounded to steps of amax/127, so an output moves by at most Σ_block Σ|w| · amax/254.
 */
function activationRoundingBound(x: Float32Array, w: Tensor, row: number, cols: number): number {
  const inDim = w.shape[1]!;
  const wr = new Float32Array(cols);
  widen(w, row * inDim, cols, wr);
  let bound = 0;
  for (let b = 0; b < cols; b += QBLOCK) {
    let amax = 0;
    let wsum = 0;
    for (let j = b; j < b + QBLOCK; j++) {
      amax = Math.max(amax, Math.abs(x[j]!));
      wsum += Math.abs(wr[j]!);
    }
    bound += (wsum * amax) / 254;
  }
  return bound;
}

test("matrix products agree with the reference for every dtype, shape and slice", () => {
  const shapes = [
    { rows: 1, inDim: 64, tokens: 1 },
    { rows: 7, inDim: 96, tokens: 3 }, // 3 blocks: no 4-block step
    { rows: 37, inDim: 160, tokens: 5 }, // 4 + 1 blocks
    { rows: 70, inDim: 544, tokens: 2 }, // 17 blocks
  ];
  // Products of 4 or more tokens run on panels of 4 (quantized: the last one padded; float: the last
  // tokens one by one); these are big enough that 2 threads split the rows, in the middle of a group of
  // interleaved rows (and of the quantization of a panel).
  const panels = { rows: 67, inDim: 5024, tokens: 14 };
  const floatPanels = { rows: 67, inDim: 1001, tokens: 14 };
  const floatCols = [1, 5, 17, 67];
  let worst = 0;
  for (const dtype of ["f32", "bf16", "f16", "q8_0", "q4_0"] as DType[]) {
    const quantized = dtype === "q8_0" || dtype === "q4_0";
    const cases = quantized ? [...shapes, panels] : [...shapes, floatPanels, ...floatCols.map((c, i) => ({ rows: 3 + i, inDim: c, tokens: 1 + i }))];
    for (const { rows, inDim, tokens } of cases) {
      const f32: Tensor = { dtype: "f32", shape: [rows, inDim], data: random(rows * inDim) };
      const original = convertTensor(f32, dtype); // the reference reads this copy: the backends may rearrange theirs
      // Slices: all of it, then the first rows and (whole blocks of) columns, as MatFormer asks.
      const sliceCols = quantized ? Math.max(QBLOCK, inDim - 2 * QBLOCK) : Math.max(1, inDim - 3);
      for (const [b, name] of builds) {
        const w = convertTensor(f32, dtype, (n) => b.weightStorage(n));
        for (const [r, c] of [[rows, inDim], [Math.ceil(rows / 2), sliceCols]] as const) {
          const x = random(tokens * c);
          const expected = ref.matmul(x, tokens, original, r, c);
          const got = b.matmul(x, tokens, w, r, c);
          assert.equal(got.length, expected.length);
          for (let t = 0; t < tokens; t++) {
            for (let o = 0; o < r; o++) {
              const i = t * r + o;
              const err = Math.abs(got[i]! - expected[i]!);
              const bound = quantized ? activationRoundingBound(x.subarray(t * c), original, o, c) * 1.01 + 1e-5 : 1e-5 * (1 + Math.abs(expected[i]!));
              worst = Math.max(worst, err / bound);
              assert.ok(err <= bound, `${name} ${dtype} ${r}×${c} of [${rows}, ${inDim}], token ${t} row ${o}: ${got[i]} vs ${expected[i]} (bound ${bound})`);
            }
          }
        }
        // Rows read back (embedding lookups) are the stored ones, whatever layout the products left.
        for (const o of [0, rows >> 1, rows - 1]) {
          const [want, have] = [new Float32Array(inDim), new Float32Array(inDim)];
          ref.row(original, o, want);
          b.row(w, o, have);
          assert.deepEqual(have, want, `${name} ${dtype} row ${o} of [${rows}, ${inDim}]`);
        }
      }
    }
  }
  assert.ok(worst > 0, "the comparison saw differences");
});

test("a token's product is the same bit for bit whatever other tokens share the call (prefill and decode agree)", () => {
  // The second shape is long enough that a single token's product is cut in 2 chunks (2 threads), each
  // range read as 4 streams of groups plus groups left over.
  for (const [rows, inDim, tokens] of [[45, 1024, 7], [1100, 2048, 5]] as const) {
    const f32: Tensor = { dtype: "f32", shape: [rows, inDim], data: random(rows * inDim) };
    const x = random(tokens * inDim);
    for (const dtype of ["f32", "bf16", "f16", "q8_0", "q4_0"] as DType[]) {
      for (const [b, name] of builds) {
        const w = convertTensor(f32, dtype, (n) => b.weightStorage(n));
        const all = b.matmul(x, tokens, w);
        for (let t = 0; t < tokens; t++) {
          assert.deepEqual(b.matmul(x.subarray(t * inDim, (t + 1) * inDim), 1, w), all.subarray(t * rows, (t + 1) * rows), `${name} ${dtype} [${rows}, ${inDim}] token ${t}`);
        }
      }
    }
  }
});

test("a NaN or an infinity among a token's activations makes that token's quantized products NaN, and only its", () => {
  const [rows, inDim, tokens] = [12, 96, 5];
  const f32: Tensor = { dtype: "f32", shape: [rows, inDim], data: random(rows * inDim) };
  for (const dtype of ["q8_0", "q4_0"] as DType[]) {
    for (const [b, name] of builds) {
      const w = convertTensor(f32, dtype, (n) => b.weightStorage(n));
      for (const bad of [NaN, Infinity, -Infinity]) {
        const x = random(tokens * inDim);
        x[2 * inDim + 40] = bad;
        const y = b.matmul(x, tokens, w);
        for (let t = 0; t < tokens; t++) {
          const out = y.subarray(t * rows, (t + 1) * rows);
          if (t === 2) assert.ok(out.every(Number.isNaN), `${name} ${dtype} ${bad}: ${out}`);
          else assert.deepEqual(out, b.matmul(x.subarray(t * inDim, (t + 1) * inDim), 1, w), `${name} ${dtype} ${bad} token ${t}`);
        }
        assert.ok(b.matmul(x.subarray(2 * inDim, 3 * inDim), 1, w).every(Number.isNaN), `${name} ${dtype} ${bad} alone`);
      }
    }
  }
});

test("weights outside the backend's memory are copied in; bad slices are refused", () => {
  const [b] = builds[0]!;
  const w: Tensor = { dtype: "f32", shape: [5, 8], data: random(40) };
  const x = random(8);
  assert.ok(Math.abs(b.matmul(x, 1, w)[3]! - ref.matmul(x, 1, w)[3]!) < 1e-5);
  const q = convertTensor({ dtype: "f32", shape: [6, 64], data: random(384) }, "q4_0");
  const qx = random(64);
  const want = ref.matmul(qx, 1, q);
  b.matmul(qx, 1, q).forEach((v, o) => assert.ok(Math.abs(v - want[o]!) < activationRoundingBound(qx, q, o, 64) * 1.01 + 1e-5));
  const [refRow, row] = [new Float32Array(64), new Float32Array(64)];
  ref.row(q, 1, refRow);
  b.row(q, 1, row); // the copy in the backend's memory was rearranged, not the caller's tensor
  assert.deepEqual(row, refRow);
  assert.throws(() => b.matmul(random(48), 1, q, 2, 48), /whole blocks of 32/);
  assert.throws(() => b.matmul(random(64), 2, q), /input has 64 values, expected 2×64/);
});

test("attention agrees with the reference: causal, sliding window, grouped heads, prefill and decode", () => {
  let worst = 0;
  for (const { heads, kvHeads, headDim, n, tokens, window } of [
    { heads: 4, kvHeads: 2, headDim: 16, n: 9, tokens: 9, window: 0 },
    { heads: 8, kvHeads: 2, headDim: 256, n: 40, tokens: 1, window: 0 },
    { heads: 4, kvHeads: 1, headDim: 32, n: 50, tokens: 7, window: 16 },
  ]) {
    const kvWidth = kvHeads * headDim;
    const kv: KeyValues = {
      keys: random(n * kvWidth),
      values: random(n * kvWidth),
      positions: Int32Array.from({ length: n }, (_, j) => j + 3),
      length: n,
    };
    const positions = Int32Array.from({ length: tokens }, (_, t) => n + 3 - tokens + t);
    const q = random(tokens * heads * headDim, 0.5);
    const shape = { numHeads: heads, numKvHeads: kvHeads, headDim, scale: 1, window };
    const expected = ref.attention(q, positions, kv, shape);
    for (const [b, name] of builds) {
      const got = b.attention(q, positions, kv, shape);
      for (let i = 0; i < got.length; i++) {
        const err = Math.abs(got[i]! - expected[i]!);
        worst = Math.max(worst, err);
        assert.ok(err < 1e-5, `${name} attention ${JSON.stringify(shape)} element ${i}: ${got[i]} vs ${expected[i]}`);
      }
    }
  }
  assert.ok(worst > 0);
});

test("RoPE is the reference's bit for bit: odd half widths, far positions, both θ, a reused positions array", () => {
  for (const [heads, headDim] of [[3, 10], [8, 256]] as const) {
    const positions = Int32Array.of(0, 1, 7, 511, 4096, 32767, 123);
    for (const theta of [10_000, 1_000_000]) {
      for (const tokens of [1, positions.length]) {
        const pos = positions.subarray(0, tokens);
        const x = random(tokens * heads * headDim, 3);
        const want = Float32Array.from(x);
        ref.rope(want, heads, headDim, pos, theta);
        for (const [b, name] of builds) {
          const got = Float32Array.from(x);
          b.rope(got, heads, headDim, pos, theta);
          assert.deepEqual(got, want, `${name} ${heads}×${headDim}, θ ${theta}, ${tokens} tokens`);
        }
      }
    }
    // The same array with another position in it: tables made for the old one must not be reused.
    const [b] = builds[0]!;
    const one = Int32Array.of(5);
    for (const p of [5, 99]) {
      one[0] = p;
      const x = random(heads * headDim);
      const [want, got] = [Float32Array.from(x), Float32Array.from(x)];
      ref.rope(want, heads, headDim, one, 10_000);
      b.rope(got, heads, headDim, one, 10_000);
      assert.deepEqual(got, want, `position ${p} in a reused array`);
    }
  }
});

test("RMSNorm, softcap and gelu(gate)·up agree with the reference, tails included", () => {
  const close = (got: Float32Array, expected: Float32Array, what: string, rel = 2e-6) => {
    for (let i = 0; i < got.length; i++) {
      assert.ok(Math.abs(got[i]! - expected[i]!) <= rel * (1 + Math.abs(expected[i]!)), `${what} element ${i}: ${got[i]} vs ${expected[i]}`);
    }
  };
  for (const [b, name] of builds) {
    for (const [rows, width] of [[3, 64], [2, 7], [1, 2048], [40, 256]] as const) {
      const x = random(rows * width, 3);
      const weight = random(width);
      close(b.rmsNorm(x, width, weight, 1e-6), ref.rmsNorm(x, width, weight, 1e-6), `${name} rmsNorm ${rows}×${width}`);
      const inPlace = Float32Array.from(x);
      b.rmsNorm(inPlace, width, null, 1e-6, inPlace);
      close(inPlace, ref.rmsNorm(x, width, null, 1e-6), `${name} rmsNorm in place, no weight`);
    }
    const edges = Float32Array.of(Infinity, -Infinity, NaN, 0, -0, 1e30, -1e30);
    b.softcap(edges, 30);
    assert.deepEqual(edges, Float32Array.of(30, -30, NaN, 0, -0, 30, -30), `${name} softcap at the edges`);
    for (const n of [1, 13, 70001]) {
      const x = random(n, 80);
      const [a, e] = [Float32Array.from(x), Float32Array.from(x)];
      b.softcap(a, 30);
      ref.softcap(e, 30);
      close(a, e, `${name} softcap n=${n}`);
      const up = random(n);
      const [g, h] = [random(n, 6), new Float32Array(n)];
      h.set(g);
      b.geluMul(g, up);
      ref.geluMul(h, up);
      close(g, h, `${name} geluMul n=${n}`, 1e-5);
    }
    // llama.cpp's table GELU: the same lookup on both sides, so the results are identical. Inputs include
    // the ±10 bounds, half-precision subnormals, rounding ties and values between two halves.
    const special = [0, -0, 10, -10, 9.999, -9.999, 1e-7, -3e-6, 2 ** -24 * 2.5, 2 ** -24 * 3.5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -1.9990234375, 65504, -70000];
    for (const n of [special.length, 70001]) {
      const g = n === special.length ? Float32Array.from(special) : random(n, 12);
      const h = Float32Array.from(g);
      const up = random(n);
      b.geluMul(g, up, "f16-table");
      ref.geluMul(h, up, "f16-table");
      assert.deepEqual(g, h, `${name} geluMul f16-table n=${n}`);
    }
  }
});

test("AltUp prediction and correction agree with the reference: 4 streams, widths with tails, one and many tokens", () => {
  for (const [b, name] of builds) {
    for (const [tokens, width] of [[1, 2048], [3, 37], [70, 256]] as const) {
      const A = 4;
      const x = Array.from({ length: A }, () => random(tokens * width, 20));
      const coefs = random(tokens * A * A);
      const y = random(tokens * width, 20);
      const gains = random(tokens * A, 2);
      const before = x.map((s) => s.slice());
      const cases: [Float32Array[], Float32Array[], string][] = [
        [b.altupPredict(x, coefs, width), ref.altupPredict(x, coefs, width), "predict"],
        [b.altupCorrect(x, y, 2, gains, width), ref.altupCorrect(x, y, 2, gains, width), "correct"],
      ];
      for (const [got, expected, what] of cases) {
        assert.equal(got.length, A);
        got.forEach((s, i) => {
          assert.equal(s.length, tokens * width);
          for (let d = 0; d < s.length; d++) {
            const e = expected[i]![d]!;
            assert.ok(Math.abs(s[d]! - e) <= 1e-5 * (1 + Math.abs(e)), `${name} ${what} ${tokens}×${width} stream ${i} element ${d}: ${s[d]} vs ${e}`);
          }
        });
      }
      assert.deepEqual(x, before, "the input streams are left as they were");
    }
  }
});

test("Gaussian top-k sparsity is the reference's bit for bit (the same float64 sums), one row and many", () => {
  const z = Math.fround(0.8416212); // the 80th percentile of a normal distribution
  for (const [b, name] of builds) {
    for (const [rows, width] of [[1, 8192], [3, 37], [40, 2048]] as const) {
      const x = random(rows * width, 4);
      const [got, expected] = [Float32Array.from(x), Float32Array.from(x)];
      b.gaussianTopK(got, width, z);
      ref.gaussianTopK(expected, width, z);
      assert.deepEqual(got, expected, `${name} ${rows}×${width}`);
      assert.ok(got.some((v) => v === 0) && got.some((v) => v > 0), "some values are cut, some survive");
    }
  }
});

test("attention over a KV cache that grows, slides and rewinds: the backend's mirror of it stays exact", () => {
  const [b] = builds[1]!;
  const heads = 4;
  const headDim = 8;
  const cache = new LayerCache(2 * headDim, 6);
  const shape = { numHeads: heads, numKvHeads: 2, headDim, scale: 1, window: 6 };
  let position = 0;
  const step = (tokens: number) => {
    const positions = Int32Array.from({ length: tokens }, (_, t) => position + t);
    cache.append(random(tokens * 2 * headDim), random(tokens * 2 * headDim), positions);
    const q = random(tokens * heads * headDim);
    const got = b.attention(q, positions, cache, shape);
    const expected = ref.attention(q, positions, cache, shape);
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - expected[i]!) < 1e-5, `at position ${position}, element ${i}`);
    position += tokens;
    cache.trim();
  };
  step(5);
  for (let i = 0; i < 20; i++) step(1); // grows past 2 × window, then trims
  cache.truncate(position - 3);
  position -= 3;
  step(2);
  step(1);
});

test("a weight whose groups of rows outgrow each thread's share of the scratch area is rearranged by one thread, or refused", async () => {
  // 8 float32 rows of 1.05M inputs are 33.6 MB: two threads' areas would overrun the 64 MB scratch,
  // into what follows it in a fresh backend's first memory: this weight.
  const b = await createWasmBackend({ simd: "relaxed", threads: 2 });
  try {
    const [rows, cols] = [16, 1_050_000];
    const f32: Tensor = { dtype: "f32", shape: [rows, cols], data: random(rows * cols) };
    const w = convertTensor(f32, "f32", (n) => b.weightStorage(n));
    const x = random(cols);
    const want = ref.matmul(x, 1, f32);
    const got = b.matmul(x, 1, w);
    for (let o = 0; o < rows; o++) assert.ok(Math.abs(got[o]! - want[o]!) <= 1e-4 * (1 + Math.abs(want[o]!)), `row ${o}: ${got[o]} vs ${want[o]}`);
    // A group of rows that the whole area cannot hold is refused (8 × 2.1M float32 values are 67 MB).
    const long = convertTensor({ dtype: "f32", shape: [8, 2_100_000], data: new Float32Array(8 * 2_100_000) }, "f32", (n) => b.weightStorage(n));
    assert.throws(() => b.matmul(new Float32Array(2_100_000), 1, long), /a \[8, 2100000\] f32 weight has rows too long for the scratch area/);
  } finally {
    b.close();
  }
});

test("weights spill into another WebAssembly memory when one is full (4 GB each)", () => {
  const [b] = builds[0]!;
  // Reserve most of a memory without touching it (no resident pages), then load a small matrix.
  const filler = b.weightStorage(4_227_700_000); // leaves ~90 KB
  const f32: Tensor = { dtype: "f32", shape: [256, 512], data: random(256 * 512) };
  const w = convertTensor(f32, "q8_0", (n) => b.weightStorage(n)); // 139 KB
  assert.notEqual(w.data.buffer, filler.buffer, "the matrix went to a new memory");
  const original = convertTensor(f32, "q8_0"); // the backend rearranges its own copy
  const x = random(3 * 512);
  const got = b.matmul(x, 3, w);
  const expected = ref.matmul(x, 3, original);
  for (let i = 0; i < got.length; i++) {
    const bound = activationRoundingBound(x.subarray(Math.floor(i / 256) * 512), original, i % 256, 512) * 1.01 + 1e-5;
    assert.ok(Math.abs(got[i]! - expected[i]!) <= bound, `element ${i}: ${got[i]} vs ${expected[i]}`);
  }
  assert.throws(() => b.weightStorage(4_300_000_000), /does not fit in one WebAssembly memory/);
});
