// The CLI contract that outside checks call exactly as written (issue: the text model, end to end).
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseNpy } from "../src/io/npy.js";
import { cli, tempDir, tinyCopy } from "./cli-helpers.js";
import { golden, maxAbsDiff } from "./golden.js";
import { tinyModelDir } from "./helpers.js";

const M = tinyModelDir;
const promptIds = Array.from(golden("hf-tiny", "text", "input_ids.npy").data);

test("generate --ids --greedy --ignore-eos --json prints the reference's greedy ids", () => {
  const r = cli(["generate", "--model", M, "--ids", promptIds.join(","), "--max-tokens", "20", "--greedy", "--ignore-eos", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.ids, Array.from(golden("hf-tiny", "text", "generated_ids.npy").data));
  assert.equal(out.finish_reason, "length");
  assert.equal(typeof out.text, "string");
});

test("generate --ids stops at an eos id without --ignore-eos", () => {
  // The reference's greedy continuation hits <eos> (id 1) at step 5.
  const r = cli(["generate", "--model", M, "--ids", promptIds.join(","), "--max-tokens", "20", "--greedy", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.ids, Array.from(golden("hf-tiny", "text", "generated_ids.npy").data).slice(0, 4));
  assert.equal(out.finish_reason, "stop");
});

test("logits --out writes [1, n, vocab] float32 logits equal to the reference", () => {
  const out = join(tempDir(), "logits.npy");
  const r = cli(["logits", "--model", M, "--ids", promptIds.join(","), "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const npy = parseNpy(readFileSync(out));
  assert.equal(npy.dtype, "<f4");
  assert.deepEqual(npy.shape, [1, promptIds.length, 768]);
  assert.ok(maxAbsDiff(npy.data, golden("hf-tiny", "text", "logits.npy").data) < 2e-3);
});

test("logits --weights model.bf16.safetensors uses the BF16 file", () => {
  const out = join(tempDir(), "logits.npy");
  const r = cli(["logits", "--model", M, "--weights", "model.bf16.safetensors", "--ids", promptIds.join(","), "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(maxAbsDiff(parseNpy(readFileSync(out)).data, golden("hf-tiny", "text", "logits_bf16_weights.npy").data) < 2e-3);
});

test("generate --prompt goes through the chat template and streams text; --json has ids and their text", () => {
  const args = ["generate", "--model", M, "--prompt", "Hello there", "--system", "Be brief.", "--max-tokens", "12", "--greedy"];
  const streamed = cli(args);
  assert.equal(streamed.code, 0, streamed.stderr);
  const json = cli([...args, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout);
  assert.ok(out.ids.length > 0 && out.ids.length <= 12);
  assert.equal(streamed.stdout, out.text + "\n");
  const detok = cli(["detokenize", "--model", M, "--ids", out.ids.join(","), "--json"]);
  assert.equal(JSON.parse(detok.stdout).text, out.text);
});

test("sampling with a seed is reproducible, and different seeds differ", () => {
  const run = (seed: string) => {
    const r = cli(["generate", "--model", M, "--ids", "2,105", "--max-tokens", "16", "--temperature", "1.5", "--top-k", "50", "--top-p", "0.95", "--min-p", "0.01", "--repeat-penalty", "1.1", "--seed", seed, "--ignore-eos", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).ids as number[];
  };
  const a = run("7");
  assert.deepEqual(run("7"), a);
  assert.notDeepEqual(run("8"), a);
});

test("tokenize --text / --no-bos / --messages / --batch and detokenize", () => {
  const dir = tempDir();
  const withBos = JSON.parse(cli(["tokenize", "--model", M, "--text", "Hello world", "--json"]).stdout);
  assert.equal(withBos.ids[0], 2);
  assert.equal(withBos.text, "Hello world");
  const noBos = JSON.parse(cli(["tokenize", "--model", M, "--text", "Hello world", "--no-bos", "--json"]).stdout);
  assert.deepEqual(noBos.ids, withBos.ids.slice(1));
  const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi!" }];
  writeFileSync(join(dir, "m.json"), JSON.stringify(messages));
  const chat = JSON.parse(cli(["tokenize", "--model", M, "--messages", join(dir, "m.json"), "--json"]).stdout);
  assert.equal(chat.text, "<bos><start_of_turn>user\nBe brief.\n\nHi!<end_of_turn>\n<start_of_turn>model\n");
  assert.equal(chat.ids.filter((i: number) => i === 2).length, 1, "exactly one <bos>");
  assert.deepEqual(chat.ids.slice(0, 2), [2, 105]);
  writeFileSync(join(dir, "b.jsonl"), [JSON.stringify({ text: "Hello world" }), JSON.stringify({ text: "Hello world", bos: false }), "", JSON.stringify({ messages })].join("\n"));
  const lines = cli(["tokenize", "--model", M, "--batch", join(dir, "b.jsonl")]).stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines, [withBos, noBos, chat]);
  const detok = JSON.parse(cli(["detokenize", "--model", M, "--ids", chat.ids.join(","), "--json"]).stdout);
  assert.equal(detok.text, chat.text);
});

test("tokenize works on a directory that holds only the tokenizer files", () => {
  const dir = tempDir();
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(M, f), join(dir, f));
  const r = cli(["tokenize", "--model", dir, "--text", "Hello world", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).ids[0], 2);
});

test("a command that needs text on a model without tokenizer files exits 2 and points to --ids", () => {
  const dir = tinyCopy();
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) rmSync(join(dir, f));
  for (const args of [["generate", "--model", dir, "--prompt", "Hi"], ["tokenize", "--model", dir, "--text", "Hi"], ["detokenize", "--model", dir, "--ids", "2"]]) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /no tokenizer\.json.*--ids/);
  }
  // Token ids still work on it.
  const r = cli(["generate", "--model", dir, "--ids", "2,105", "--max-tokens", "3", "--greedy", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).text, null);
});

test("info --json reports parameter groups, dtypes and memory", () => {
  const r = cli(["info", "--model", M, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.architecture.layers, 10);
  assert.equal(info.parameters.perLayerEmbedding, 512 * 160);
  assert.equal(info.parameters.embedding, 768 * 64);
  assert.ok(info.parameters.vision > 0 && info.parameters.audio > 0);
  assert.equal(info.parameters.total, info.parameters.effective + info.parameters.embedding + info.parameters.perLayerEmbedding + info.parameters.vision + info.parameters.audio);
  assert.deepEqual(Object.keys(info.dtypes), ["f32"]);
  const text = cli(["info", "--model", M]);
  assert.match(text.stdout, /per-layer embeddings \(PLE\)/);
});

test("chat: a two-turn conversation on stdin reuses the session and exits cleanly", () => {
  const r = cli(["chat", "--model", M, "--max-tokens", "6", "--greedy"], { input: "Hello\nHow are you?\n/exit\n" });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.match(/^> /gm)?.length, 3, r.stdout);
});
