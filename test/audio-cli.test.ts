// The audio flags of the CLI, run as a user would: logits of an expanded audio prompt against the
// reference, a generated reply to a chat prompt with a clip, and bad files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseNpy } from "../src/io/npy.js";
import { cli, tempDir } from "./cli-helpers.js";
import { wav } from "./audio-helpers.js";
import { golden, maxAbsDiff } from "./golden.js";
import { fixture, tinyModelDir as M } from "./helpers.js";

const WAV = fixture("hf-tiny", "audio", "audio.wav");
const ids = Array.from(golden("hf-tiny", "audio", "input_ids.npy").data).join(",");

test("logits --audio fills the expanded placeholders and matches the reference logits", () => {
  const out = join(tempDir(), "logits.npy");
  const r = cli(["logits", "--model", M, "--ids", ids, "--audio", WAV, "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const npy = parseNpy(readFileSync(out));
  assert.deepEqual(npy.shape, [1, 28, 768]);
  const err = maxAbsDiff(npy.data, golden("hf-tiny", "audio", "logits.npy").data);
  assert.ok(err < 2e-3, `logits differ by ${err}`);
});

test("generate --prompt --audio puts the clip before the text and replies", () => {
  const r = cli(["generate", "--model", M, "--prompt", "What is this?", "--audio", WAV, "--max-tokens", "3", "--greedy", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const reply = JSON.parse(r.stdout) as { ids: number[] };
  assert.equal(reply.ids.length, 3);
});

test("a clip over 30 s is cut and the user is told on stderr", () => {
  const bytes = wav({ bits: 16, frames: 31 * 16000, put: (v, at, f) => v.setInt16(at, Math.round(3000 * Math.sin(f / 5)), true) });
  const long = join(tempDir(), "long.wav");
  writeFileSync(long, bytes);
  const r = cli(["logits", "--model", M, "--ids", ids, "--audio", long, "--out", join(tempDir(), "x.npy")]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^gemma3n: warning: audio clip 1 is 31\.0 s long; only its first 30 s are used$/m);
  assert.match(r.stderr, /^gemma3n: warning: audio clip 1 gives 188 soft tokens but the model takes 16 per clip; the rest are dropped$/m);
});

test("audio flags: missing, non-audio and mismatched files are one-line errors", () => {
  const dir = tempDir();
  const text = join(dir, "notes.wav");
  writeFileSync(text, "just some text, not audio");
  const cases: [string[], RegExp][] = [
    [["generate", "--model", M, "--prompt", "x", "--audio", join(dir, "missing.wav")], /^gemma3n: --audio .*missing\.wav: no such file\n$/],
    [["generate", "--model", M, "--prompt", "x", "--audio", text], /^gemma3n: not a recognised audio file \(supported: WAV/],
    [["logits", "--model", M, "--ids", ids, "--audio", WAV, "--audio", WAV, "--out", join(dir, "x.npy")], /^gemma3n: the prompt has 16 audio placeholder tokens .* but 2 audios need 32/],
    [["logits", "--model", M, "--ids", ids, "--out", join(dir, "x.npy")], /^gemma3n: the prompt has 16 audio placeholder tokens .* but 0 audios need 0/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

test("gemma3n bench --audio times the audio path as audio_rtf", () => {
  const r = cli(["bench", "--model", M, "--audio", "2", "--prompt", "4", "--gen", "1", "--runs", "1", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { audio_seconds: number | null; audio_rtf: number | null };
  assert.equal(result.audio_seconds, 2);
  assert.ok(typeof result.audio_rtf === "number" && result.audio_rtf > 0, r.stdout);
});
