// llama.cpp's fp16 GELU table (src/kernels/gelu-f16-table.ts) against llama.cpp's own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { halfTable, toF16 } from "../src/kernels/dtype.js";
import { geluF16, geluF16Table } from "../src/kernels/gelu-f16-table.js";
import { geluTanh } from "../src/kernels/reference.js";

test("the table equals ggml's ggml_table_gelu_f16 entry for entry", () => {
  // The hash of ggml_table_gelu_f16 as node-llama-cpp 3.21.1's prebuilt CPU library (and a GCC build of the
  // same llama.cpp source) fills it in ggml_cpu_init, with the entries the kernel never reads (|x| ≥ 10,
  // infinities, NaNs) zeroed.
  const half = halfTable();
  const table = geluF16Table();
  const bits = Uint16Array.from(table, (g, h) => (Math.abs(half[h]!) < 10 ? toF16(g) : 0));
  assert.equal(createHash("sha256").update(new Uint8Array(bits.buffer)).digest("hex"), "49ad2524dc37a6de4afa8dd0e41d2d1b40e0911e980db4ee655d43a03b15d6db");
});

test("inputs are rounded to half precision (nearest even), outputs have half precision, ±10 bypass the table", () => {
  assert.equal(geluF16(-10), 0);
  assert.equal(geluF16(-1e6), 0);
  assert.equal(geluF16(10), 10);
  assert.equal(geluF16(123.25), 123.25);
  // 1 + 2⁻¹¹ lies halfway between the halves 1 and 1 + 2⁻¹⁰: it rounds to 1 (even); 1 + 3·2⁻¹¹ rounds up.
  assert.equal(geluF16(1 + 2 ** -11), geluF16(1));
  assert.equal(geluF16(1 + 3 * 2 ** -11), geluF16(1 + 2 ** -9));
  const half = halfTable();
  for (const x of [-9.99, -3, -0.5, 1e-5, 0.3, 2, 9.99]) {
    const g = geluF16(x);
    assert.equal(half[toF16(g)], g, `gelu(${x}) is a half`);
    assert.ok(Math.abs(g - geluTanh(x)) <= 2e-3 * Math.abs(geluTanh(x)) + 1e-6, `gelu(${x}) = ${g} is within half precision of ${geluTanh(x)}`);
  }
});
