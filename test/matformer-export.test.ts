// Exported MatFormer slices (issue #4): `gemma3n slice` and exportSlice write the Hugging Face layout
// the reference's MatFormer Lab procedure writes (checked tensor by tensor against the golden slice of
// the tiny model), and the export runs like the view. Plus `--matformer` on the CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openHFCheckpoint, storedTensorName } from "../src/checkpoint/hf.js";
import { readSafetensorsHeader } from "../src/checkpoint/safetensors.js";
import { InputError } from "../src/errors.js";
import { parseNpy } from "../src/io/npy.js";
import { planOn } from "../src/model/matformer/sizes.js";
import { exportSlice } from "../src/node/export-slice.js";
import { NodeFile, NodeModelFiles } from "../src/node/fs.js";
import { loadModel } from "../src/node/load.js";
import { writeSafetensors } from "../src/node/write-safetensors.js";
import { cli, tempDir } from "./cli-helpers.js";
import { golden, maxAbsDiff } from "./golden.js";
import { fixture, hasShared, shared, tinyModelDir } from "./helpers.js";

const sliceFile = fixture("hf-tiny", "matformer", "slice.json");
const ids = Array.from(golden("hf-tiny", "matformer", "input_ids.npy").data);
const refLogits = golden("hf-tiny", "matformer", "logits.npy").data;
const refIds = Array.from(golden("hf-tiny", "matformer", "generated_ids.npy").data);
const slice = JSON.parse(readFileSync(sliceFile, "utf8"));
const goldenSlice = { name: slice.name, ffnHiddenDims: slice.ffn_hidden_dims, layersToSkip: slice.layers_to_skip };

function exportTiny(opts: { maxShardBytes?: number } = {}): string {
  const out = join(tempDir(), "slice");
  const ck = openHFCheckpoint(new NodeModelFiles(tinyModelDir));
  try {
    exportSlice(ck, planOn(ck, goldenSlice), tinyModelDir, out, opts);
  } finally {
    ck.close();
  }
  return out;
}

test("the export is the reference's slice: config.json and every tensor (name, dtype, shape, bytes)", () => {
  const out = exportTiny();
  assert.deepEqual(JSON.parse(readFileSync(join(out, "config.json"), "utf8")), JSON.parse(readFileSync(fixture("hf-tiny", "matformer", "config.json"), "utf8")));
  const expected = JSON.parse(readFileSync(fixture("hf-tiny", "matformer", "tensors.json"), "utf8"));
  const file = new NodeFile(join(out, "model.safetensors"));
  const got: Record<string, unknown> = {};
  for (const e of readSafetensorsHeader(file)) {
    const bytes = new Uint8Array(e.byteLength);
    file.read(e.offset, bytes);
    got[e.name] = { dtype: e.dtype.toUpperCase(), shape: e.shape, sha256: createHash("sha256").update(bytes).digest("hex").slice(0, 16) };
  }
  file.close();
  assert.deepEqual(got, expected);
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) assert.ok(existsSync(join(out, f)), f);
  if (hasShared("golden", "hf-tiny", "matformer", "model.safetensors")) {
    assert.ok(readFileSync(join(out, "model.safetensors")).equals(readFileSync(shared("golden", "hf-tiny", "matformer", "model.safetensors"))), "byte-identical to the golden file");
  }
});

test("the exported checkpoint loads and reproduces the slice's logits and 20 greedy tokens", async (t) => {
  const model = await loadModel(exportTiny());
  const err = maxAbsDiff(model.logits(ids), refLogits);
  assert.ok(err < 2e-3, `logits differ by ${err}`);
  const reply = await model.complete({ ids }, { greedy: true, maxTokens: 20, ignoreEos: true });
  assert.deepEqual(reply.ids, refIds);
  t.diagnostic(`exported slice: logits max abs error ${err.toExponential(2)}`);
  model.close();
});

test("big exports are sharded with a model.safetensors.index.json, as transformers writes them", async () => {
  const out = exportTiny({ maxShardBytes: 2_000_000 });
  const index = JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8"));
  const shards = [...new Set(Object.values(index.weight_map as Record<string, string>))].sort();
  assert.ok(shards.length >= 4, `${shards.length} shards`);
  assert.match(shards[0]!, /^model-00001-of-000\d\d\.safetensors$/);
  let total = 0;
  for (const s of shards) {
    const f = new NodeFile(join(out, s));
    for (const e of readSafetensorsHeader(f)) {
      assert.equal(index.weight_map[e.name], s);
      total += e.byteLength;
    }
    f.close();
  }
  assert.equal(index.metadata.total_size, total);
  assert.equal(Object.keys(index.weight_map).length, 832);
  const model = await loadModel(out);
  assert.ok(maxAbsDiff(model.logits(ids), refLogits) < 2e-3);
  model.close();
});

test("a text-only checkpoint (gemma3n_text, model.layers.…) exports in its own layout", async () => {
  const dir = tempDir();
  const ck = openHFCheckpoint(new NodeModelFiles(tinyModelDir));
  const textConfig = { ...(ck.config.raw.text_config as object), architectures: ["Gemma3nForCausalLM"] };
  writeFileSync(join(dir, "config.json"), JSON.stringify(textConfig));
  const names = ck.names().filter((n) => n.startsWith("model.language_model."));
  writeSafetensors(join(dir, "model.safetensors"), names.map((n) => {
    const e = ck.entry(n);
    const bytes = new Uint8Array(e.byteLength);
    e.file.read(e.offset, bytes);
    return { name: storedTensorName(n, textConfig), dtype: "f32" as const, shape: e.shape, bytes: () => [bytes] };
  }));
  ck.close();
  const out = join(tempDir(), "slice");
  const r = cli(["slice", "--model", dir, "--matformer", sliceFile, "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const f = new NodeFile(join(out, "model.safetensors"));
  const stored = readSafetensorsHeader(f).map((e) => e.name);
  f.close();
  assert.ok(stored.includes("model.layers.8.mlp.down_proj.weight") && !stored.includes("model.layers.9.mlp.down_proj.weight"));
  assert.ok(stored.every((n) => n.startsWith("model.") && !n.startsWith("model.language_model.")));
  // Text ids only: a text-only model has no vision/audio embedders.
  const textIds = ids.filter((id) => id < 512);
  const view = await loadModel(tinyModelDir, { matformer: goldenSlice });
  const exported = await loadModel(out);
  assert.deepEqual(exported.logits(textIds), view.logits(textIds));
  view.close();
  exported.close();
});

test("export refuses a directory that is not empty", () => {
  const out = tempDir();
  writeFileSync(join(out, "x"), "");
  const ck = openHFCheckpoint(new NodeModelFiles(tinyModelDir));
  assert.throws(() => exportSlice(ck, planOn(ck, goldenSlice), tinyModelDir, out), (e: Error) => e instanceof InputError && /not an empty directory/.test(e.message));
  ck.close();
});

test("CLI: logits and generate --matformer FILE give the slice's reference outputs", () => {
  const out = join(tempDir(), "logits.npy");
  let r = cli(["logits", "--model", tinyModelDir, "--matformer", sliceFile, "--ids", ids.join(","), "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(maxAbsDiff(parseNpy(readFileSync(out)).data, refLogits) < 2e-3);
  r = cli(["generate", "--model", tinyModelDir, "--matformer", sliceFile, "--ids", ids.join(","), "--max-tokens", "20", "--greedy", "--ignore-eos", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).ids, refIds);
});

test("CLI: slice writes a checkpoint that logits runs; info lists slices and describes one", () => {
  const dir = join(tempDir(), "out");
  let r = cli(["slice", "--model", tinyModelDir, "--matformer", sliceFile, "--out", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote MatFormer slice golden-tiny \(9 layers\)/);
  const out = join(tempDir(), "logits.npy");
  r = cli(["logits", "--model", dir, "--ids", ids.join(","), "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(maxAbsDiff(parseNpy(readFileSync(out)).data, refLogits) < 2e-3);

  r = cli(["info", "--model", tinyModelDir, "--slices", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout).slices;
  assert.equal(rows.length, 17);
  assert.equal(rows[0].name, "full");
  assert.equal(rows[0].layers, 10);
  assert.ok(rows.slice(1).every((row: { error?: string }) => /defined on Gemma 3n E4B/.test(row.error ?? "")));
  r = cli(["info", "--model", tinyModelDir, "--slices"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^E2B .*1\.91 B .*does not apply/m);
  r = cli(["info", "--model", tinyModelDir, "--matformer", sliceFile, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.deepEqual(info.slice.storedLayers, [0, 1, 2, 3, 4, 5, 6, 8, 9]);
  assert.ok(info.slice.effectiveParams < info.parameters.effective);
});

test("CLI: bad --matformer values are one-line errors", () => {
  const dir = tempDir();
  const write = (name: string, body: string) => {
    writeFileSync(join(dir, name), body);
    return join(dir, name);
  };
  const cases: [string, RegExp][] = [
    ["E9B", /--matformer E9B: not a slice name \(full, E4B, E2B/],
    ["E2B", /MatFormer slice E2B is defined on Gemma 3n E4B \(35 layers, FFN 16384\); this model has 10 layers/],
    ["1.5", /not a slice name/],
    [write("bad.json", "{"), /bad\.json: not valid JSON/],
    [write("keys.json", '{"ffn_hidden_dims": [1], "skip": []}'), /unknown key "skip"/],
    [write("count.json", '{"ffn_hidden_dims": [128]}'), /ffn_hidden_dims has 1 widths, but the model keeps 10 layers/],
    [write("kv.json", '{"ffn_hidden_dims": [256,256,256,256,256,256,256,256,256], "layers_to_skip": [4]}'), /layer 4 cannot be skipped: layer 9 reuses its KV cache/],
  ];
  for (const [value, message] of cases) {
    const r = cli(["logits", "--model", tinyModelDir, "--matformer", value, "--ids", "2,3", "--out", join(dir, "l.npy")]);
    assert.notEqual(r.code, 0, value);
    assert.match(r.stderr, /^gemma3n: /, value);
    assert.match(r.stderr, message, value);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  const r = cli(["slice", "--model", tinyModelDir, "--matformer", "E2B", "--out", join(dir, "o")]);
  assert.match(r.stderr, /^gemma3n: MatFormer slice E2B is defined on Gemma 3n E4B/);
});

test("with q8_0 weights the view, the switched model and the quantized export agree exactly", async () => {
  const exported = await loadModel(exportTiny(), { dtype: "q8_0" });
  const view = await loadModel(tinyModelDir, { dtype: "q8_0", matformer: goldenSlice });
  const switched = await loadModel(tinyModelDir, { dtype: "q8_0" });
  switched.setSlice(goldenSlice);
  const ref = exported.logits(ids);
  assert.deepEqual(view.logits(ids), ref);
  assert.deepEqual(switched.logits(ids), ref);
  // Quantized FFN rows are cut on block boundaries only.
  const odd = { ffnHiddenDims: [...goldenSlice.ffnHiddenDims.slice(0, 8), 100], layersToSkip: [7] };
  assert.throws(() => switched.setSlice(odd), /= 100 is not a multiple of 32/);
  for (const m of [exported, view, switched]) m.close();
});

test("other skips (early layers, KV consumers) run the same as a view and as an export", async () => {
  for (const layersToSkip of [[2], [0, 6], [4, 9], [1, 2, 5, 8]]) {
    const kept = 10 - layersToSkip.length;
    const spec = { name: `skip-${layersToSkip.join("-")}`, ffnHiddenDims: Array.from({ length: kept }, (_, j) => 64 + 32 * (j % 6)), layersToSkip };
    const out = join(tempDir(), "slice");
    const ck = openHFCheckpoint(new NodeModelFiles(tinyModelDir));
    exportSlice(ck, planOn(ck, spec), tinyModelDir, out);
    ck.close();
    const view = await loadModel(tinyModelDir, { matformer: spec });
    const exported = await loadModel(out);
    assert.equal(exported.config.text.numLayers, kept);
    assert.deepEqual(exported.config.text, view.config.text, spec.name);
    assert.deepEqual(exported.logits(ids), view.logits(ids), spec.name);
    const gen = async (m: typeof view) => (await m.complete({ ids }, { greedy: true, maxTokens: 12, ignoreEos: true })).ids;
    assert.deepEqual(await gen(exported), await gen(view), spec.name);
    view.close();
    exported.close();
  }
});
