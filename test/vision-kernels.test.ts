// The WebAssembly backend's vision kernels (depthwise convolution, GELU) against the reference
// backend: channel counts that are not multiples of the vector width, strides 1 and 2 with TF "same"
// padding, BF16 and F32 weights, on both builds (relaxed and plain SIMD) and on 1 and 2 threads.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src/generate/sampler.js";
import { convertTensor, type Tensor } from "../src/kernels/dtype.js";
import { ReferenceBackend } from "../src/kernels/reference.js";
import type { WasmBackend } from "../src/kernels/wasm/backend.js";
import { samePadding } from "../src/model/vision/ops.js";
import { createWasmBackend } from "../src/node/wasm-backend.js";
import { maxAbs, maxAbsDiff } from "./golden.js";

const ref = new ReferenceBackend();
const rng = new Rng(11);
const random = (n: number) => Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 4);

const builds: [WasmBackend, string][] = [];
for (const simd of ["relaxed", "plain"] as const) {
  for (const threads of [1, 2]) builds.push([await createWasmBackend({ simd, threads }), `${simd}×${threads}`]);
}
after(() => builds.forEach(([b]) => b.close()));

test("depthwiseConv2d matches the reference", () => {
  for (const [H, W, C, k, stride, dtype] of [
    [9, 7, 6, 3, 1, "f32"],
    [10, 12, 13, 5, 2, "bf16"],
    [24, 24, 64, 3, 2, "bf16"],
    [5, 5, 4, 5, 1, "f32"],
  ] as const) {
    const x = random(H * W * C);
    const w: Tensor = convertTensor({ dtype: "f32", shape: [C, 1, k, k], data: random(C * k * k) }, dtype);
    const [top, bottom] = samePadding(H, k, stride);
    const [left, right] = samePadding(W, k, stride);
    const shape = { height: H, width: W, stride: [stride, stride] as [number, number], pad: [top, bottom, left, right] as [number, number, number, number] };
    const want = ref.depthwiseConv2d(x, w, shape);
    for (const [b, name] of builds) {
      const got = b.depthwiseConv2d(x, w, shape);
      assert.deepEqual([got.height, got.width], [want.height, want.width]);
      const err = maxAbsDiff(got.out, want.out) / maxAbs(want.out);
      assert.ok(err < 1e-6, `${name} ${H}×${W}×${C} k${k} s${stride}: off by ${err} of max-abs`);
    }
  }
});

test("gelu matches the reference", () => {
  const x = random(70001);
  const want = new Float32Array(x);
  ref.gelu(want);
  for (const [b, name] of builds) {
    const got = new Float32Array(x);
    b.gelu(got);
    const err = maxAbsDiff(got, want);
    assert.ok(err < 2e-6, `${name}: gelu off by ${err}`);
  }
});
