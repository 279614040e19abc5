// Bad input gets one clear message naming the file/tensor/field and the problem, a non-zero exit,
// and never a stack trace or a hang.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, tinyCopy, type CliResult } from "./cli-helpers.js";
import { golden, maxAbsDiff } from "./golden.js";
import { tinyModelDir } from "./helpers.js";
import { parseNpy } from "../src/io/npy.js";

function expectUserError(r: CliResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `should fail: ${r.stdout}`);
  assert.match(r.stderr, /^gemma3n: /);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
}

const logitsOf = (dir: string, ...extra: string[]) => cli(["logits", "--model", dir, "--ids", "2,105,40", "--out", join(dir, "out.npy"), ...extra]);

/** Rewrites a safetensors file's JSON header (keeping the data bytes as they are). */
function editHeader(file: string, edit: (h: Record<string, any>) => void, lengthOverride?: bigint): void {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"));
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, json, bytes.subarray(8 + n)]));
}

function editConfig(dir: string, edit: (c: Record<string, any>) => void): void {
  const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  edit(c);
  writeFileSync(join(dir, "config.json"), JSON.stringify(c));
}

const Q0 = "model.language_model.layers.0.self_attn.q_proj.weight";

test("missing model directory, config.json or weights", () => {
  expectUserError(logitsOf("/nonexistent/model"), /\/nonexistent\/model: no such directory/);
  const noConfig = tinyCopy();
  rmSync(join(noConfig, "config.json"));
  expectUserError(logitsOf(noConfig), /config\.json is missing/);
  const noWeights = tinyCopy();
  rmSync(join(noWeights, "model.safetensors"));
  expectUserError(logitsOf(noWeights), /no model\.safetensors or model\.safetensors\.index\.json/);
  expectUserError(logitsOf(tinyCopy(), "--weights", "nope.safetensors"), /weights file nope\.safetensors does not exist/);
});

test("truncated and corrupt safetensors files", () => {
  const truncated = tinyCopy();
  const file = join(truncated, "model.safetensors");
  truncateSync(file, readFileSync(file).length - 1000);
  expectUserError(logitsOf(truncated), /model\.safetensors: tensor ".*": data_offsets .* run past the end .*truncated/);

  const tiny = tinyCopy();
  truncateSync(join(tiny, "model.safetensors"), 5);
  expectUserError(logitsOf(tiny), /not a safetensors file \(5 bytes/);

  const badLen = tinyCopy();
  editHeader(join(badLen, "model.safetensors"), () => {}, 1n << 40n);
  expectUserError(logitsOf(badLen), /corrupt safetensors header length 1099511627776/);

  const badJson = tinyCopy();
  const f = join(badJson, "model.safetensors");
  const bytes = readFileSync(f);
  bytes[9] = 0x7b; // '{{…' is not JSON
  writeFileSync(f, bytes);
  expectUserError(logitsOf(badJson), /safetensors header is not valid JSON/);

  const badOffsets = tinyCopy();
  editHeader(join(badOffsets, "model.safetensors"), (h) => {
    h[Q0].data_offsets = [0, 12];
  });
  expectUserError(logitsOf(badOffsets), new RegExp(`tensor "${Q0.replace(/\./g, "\\.")}": data_offsets \\[0, 12\\] hold 12 bytes but shape \\[64, 64\\] of F32 needs 16384`));
});

test("unsupported dtype, missing tensor, wrong shape", () => {
  const i8 = tinyCopy();
  editHeader(join(i8, "model.safetensors"), (h) => {
    h[Q0].dtype = "I8";
  });
  expectUserError(logitsOf(i8), /tensor ".*q_proj\.weight": unsupported dtype I8 \(supported: F32, F16, BF16\)/);

  const missing = tinyCopy();
  editHeader(join(missing, "model.safetensors"), (h) => {
    delete h["model.language_model.layers.3.mlp.down_proj.weight"];
  });
  expectUserError(logitsOf(missing), /tensor "model\.language_model\.layers\.3\.mlp\.down_proj\.weight" is missing from the checkpoint/);

  const shape = tinyCopy();
  editConfig(shape, (c) => {
    c.text_config.intermediate_size = 128;
  });
  expectUserError(logitsOf(shape), /tensor "model\.language_model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[256, 64\] but the config needs \[128, 64\]/);
});

test("configs that are not Gemma 3n, lack a needed field, or are malformed", () => {
  const llama = tinyCopy();
  editConfig(llama, (c) => {
    c.model_type = "llama";
  });
  expectUserError(logitsOf(llama), /model_type is "llama", not a Gemma 3n model/);

  const noHidden = tinyCopy();
  editConfig(noHidden, (c) => {
    delete c.text_config.hidden_size;
  });
  expectUserError(logitsOf(noHidden), /config\.json\.text_config: field "hidden_size" is missing and has no default/);

  const badTypes = tinyCopy();
  editConfig(badTypes, (c) => {
    c.text_config.layer_types = ["sliding_attention"];
  });
  expectUserError(logitsOf(badTypes), /field "layer_types" has 1 entries but num_hidden_layers is 10/);

  const notJson = tinyCopy();
  writeFileSync(join(notJson, "config.json"), "{ not json");
  expectUserError(logitsOf(notJson), /config\.json: not valid JSON/);

  const scaling = tinyCopy();
  editConfig(scaling, (c) => {
    c.text_config.rope_scaling = { rope_type: "yarn", factor: 4 };
  });
  expectUserError(logitsOf(scaling), /rope_scaling .* is not supported/);
});

test("newer configs: rope_parameters instead of rope_theta, no query_pre_attn_scalar, ids at the top level", () => {
  const dir = tinyCopy();
  editConfig(dir, (c) => {
    const t = c.text_config;
    t.rope_parameters = { full_attention: { rope_type: "default", rope_theta: t.rope_theta }, sliding_attention: { rope_type: "default", rope_theta: t.rope_local_base_freq } };
    delete t.rope_theta;
    delete t.rope_local_base_freq;
    delete t.query_pre_attn_scalar;
  });
  const r = logitsOf(dir);
  assert.equal(r.code, 0, r.stderr);
  const ids = [2, 105, 40];
  const ref = cli(["logits", "--model", tinyModelDir, "--ids", ids.join(","), "--out", join(dir, "ref.npy")]);
  assert.equal(ref.code, 0, ref.stderr);
  assert.equal(maxAbsDiff(parseNpy(readFileSync(join(dir, "out.npy"))).data, parseNpy(readFileSync(join(dir, "ref.npy"))).data), 0);
});

test("token ids out of range, malformed ids, a prompt longer than the context", () => {
  expectUserError(cli(["logits", "--model", tinyModelDir, "--ids", "2,768", "--out", "/dev/null"]), /token id 768 at position 1 is out of range: the vocabulary has 768 ids/);
  expectUserError(cli(["generate", "--model", tinyModelDir, "--ids", "2,abc"]), /--ids: "abc" is not a token id/);
  const short = tinyCopy();
  editConfig(short, (c) => {
    c.text_config.max_position_embeddings = 8;
  });
  const ids = Array.from({ length: 12 }, (_, i) => i + 2).join(",");
  expectUserError(cli(["generate", "--model", short, "--ids", ids, "--greedy"]), /the prompt is 12 tokens long but the context holds 8/);
  expectUserError(cli(["logits", "--model", short, "--ids", ids, "--out", "/dev/null"]), /12 ids exceed the context length 8/);
  // A prompt that fits stops with "length" at the end of the context.
  const r = cli(["generate", "--model", short, "--ids", "2,105,40", "--max-tokens", "100", "--greedy", "--ignore-eos", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.ids.length, 6, "3 prompt + 5 generated fill 8 positions (the last one sampled, never fed)");
  assert.equal(out.finish_reason, "length");
});

test("bad option values are named", () => {
  expectUserError(cli(["generate", "--model", tinyModelDir, "--ids", "2", "--top-p", "1.5"]), /top-p must be in \(0, 1\], got 1\.5/);
  expectUserError(cli(["generate", "--model", tinyModelDir, "--ids", "2", "--max-tokens", "-3"]), /--max-tokens must be an integer ≥ 0/);
  const dtype = cli(["generate", "--model", tinyModelDir, "--ids", "2", "--dtype", "q3"]);
  assert.notEqual(dtype.code, 0);
  assert.match(dtype.stderr, /--dtype.*q3.*f32, f16, bf16/s);
  expectUserError(cli(["generate", "--model", tinyModelDir, "--prompt", "x", "--ids", "2"]), /exactly one of --prompt and --ids/);
});

test("sharded checkpoints load through model.safetensors.index.json", () => {
  const dir = tinyCopy();
  const bytes = readFileSync(join(dir, "model.safetensors"));
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"));
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  const half = Math.ceil(names.length / 2);
  const weightMap: Record<string, string> = {};
  [names.slice(0, half), names.slice(half)].forEach((part, s) => {
    const file = `model-0000${s + 1}-of-00002.safetensors`;
    const h: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    let at = 0;
    for (const name of part) {
      const [b, e] = header[name].data_offsets;
      chunks.push(bytes.subarray(8 + n + b, 8 + n + e));
      h[name] = { ...header[name], data_offsets: [at, at + e - b] };
      at += e - b;
      weightMap[name] = file;
    }
    const json = Buffer.from(JSON.stringify(h));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(join(dir, file), Buffer.concat([len, json, ...chunks]));
  });
  rmSync(join(dir, "model.safetensors"));
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const ids = Array.from(golden("hf-tiny", "text", "input_ids.npy").data);
  const r = cli(["logits", "--model", dir, "--ids", ids.join(","), "--out", join(dir, "out.npy")]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(maxAbsDiff(parseNpy(readFileSync(join(dir, "out.npy"))).data, golden("hf-tiny", "text", "logits.npy").data) < 2e-3);
  rmSync(join(dir, "model-00002-of-00002.safetensors"));
  expectUserError(logitsOf(dir), /shard model-00002-of-00002\.safetensors listed in model\.safetensors\.index\.json is missing/);
});
