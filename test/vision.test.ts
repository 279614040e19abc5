// Image input against the reference (transformers' SigLIP processor + timm mobilenetv5_300m_enc +
// Gemma3n embed_vision on the tiny checkpoint): PNG decoding and preprocessing, the vision tower,
// the embedder, full-model logits with the 256 soft tokens in place, and the CLI's --image.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseNpy } from "../src/io/npy.js";
import { ReferenceBackend } from "../src/kernels/reference.js";
import { loadModel } from "../src/node/load.js";
import { decodeImage } from "../src/model/vision/image-decode.js";
import type { VisionEncoder } from "../src/model/vision/encoder.js";
import { pixelValues } from "../src/model/vision/preprocess.js";
import { cli, tempDir } from "./cli-helpers.js";
import { golden, maxAbs, maxAbsDiff } from "./golden.js";
import { fixture, hasShared, shared, tinyModelDir } from "./helpers.js";

const png = new Uint8Array(readFileSync(fixture("hf-tiny", "image", "image.png")));
const image = (name: string) => golden("hf-tiny", "image", name).data as Float32Array;
const sharedImage = (name: string) => parseNpy(readFileSync(shared("golden", "hf-tiny", "image", name)), name).data as Float32Array;
const fullGolden = hasShared("golden", "hf-tiny", "image", "pixel_values.npy");

/** Channels-last [n, C] → channels-first [C, n], the reference's NCHW layout. */
function channelsFirst(x: Float32Array, n: number, C: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let p = 0; p < n; p++) for (let c = 0; c < C; c++) out[c * n + p] = x[p * C + c]!;
  return out;
}

const pixels = pixelValues(await decodeImage(png));

test("image.png decodes and preprocesses to the reference pixel values", (t) => {
  const nchw = channelsFirst(pixels.data, 768 * 768, 3);
  const every997 = nchw.filter((_, i) => i % 997 === 0);
  assert.equal(maxAbsDiff(every997, image("pixel_values_every997.npy")), 0);
  if (!fullGolden) return t.skip("../shared/golden/hf-tiny/image absent: only every 997th pixel value was compared");
  assert.equal(maxAbsDiff(nchw, sharedImage("pixel_values.npy")), 0, "pixel values differ");
});

test("vision tower, embed_vision and image-prompt logits match the reference", async (t) => {
  const model = await loadModel(tinyModelDir);
  const encoder = model.mediaEncoder("image") as VisionEncoder;
  const tower = encoder.towerOutput(pixels);
  const towerNchw = channelsFirst(tower, 256, 2048);
  const every8th = towerNchw.filter((_, i) => Math.floor(i / 256) % 8 === 0);
  const reference = image("vision_tower_output_every8th_channel.npy");
  const towerErr = maxAbsDiff(every8th, reference) / maxAbs(reference);
  assert.ok(towerErr < 1e-4, `vision tower output differs by ${towerErr} of its max-abs`);
  if (fullGolden) {
    const full = sharedImage("vision_tower_output.npy");
    const fullErr = maxAbsDiff(towerNchw, full) / maxAbs(full);
    assert.ok(fullErr < 1e-4, `vision tower output (all channels) differs by ${fullErr} of its max-abs`);
  }

  const embedded = encoder.embedSoftTokens(tower);
  const embedRef = image("embed_vision_output.npy");
  const embedErr = maxAbsDiff(embedded, embedRef) / maxAbs(embedRef);
  assert.ok(embedErr < 1e-4, `embed_vision output differs by ${embedErr} of its max-abs`);

  const ids = Array.from(image("input_ids.npy"));
  const positions = ids.flatMap((id, i) => (id === model.config.tokens.image ? [i] : []));
  const logitsErr = maxAbsDiff(model.logits(ids, { soft: { positions, values: embedded } }), image("logits.npy"));
  assert.ok(logitsErr < 5e-3, `image-prompt logits differ by ${logitsErr}`);
  t.diagnostic(`tower ${towerErr.toExponential(2)} of max-abs, embed ${embedErr.toExponential(2)}, logits ${logitsErr.toExponential(2)}`);
  model.close();
});

test("the reference backend's tower (the oracle of faster backends) matches too", async () => {
  const model = await loadModel(tinyModelDir, { backend: new ReferenceBackend() });
  const tower = (model.mediaEncoder("image") as VisionEncoder).towerOutput(pixels);
  const every8th = channelsFirst(tower, 256, 2048).filter((_, i) => Math.floor(i / 256) % 8 === 0);
  const reference = image("vision_tower_output_every8th_channel.npy");
  const err = maxAbsDiff(every8th, reference) / maxAbs(reference);
  assert.ok(err < 1e-4, `reference-backend vision tower output differs by ${err} of its max-abs`);
  model.close();
});

test("gemma3n logits --image fills the expanded placeholders of --ids: logits match the reference", () => {
  const out = join(tempDir(), "logits.npy");
  const ids = Array.from(image("input_ids.npy")).join(",");
  const r = cli(["logits", "--model", tinyModelDir, "--ids", ids, "--image", fixture("hf-tiny", "image", "image.png"), "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const err = maxAbsDiff(parseNpy(readFileSync(out), out).data, image("logits.npy"));
  assert.ok(err < 5e-3, `CLI image-prompt logits differ by ${err}`);
});

test("gemma3n generate --prompt --image: a chat turn with a JPEG before the text", () => {
  const r = cli(["generate", "--model", tinyModelDir, "--prompt", "What is this?", "--image", fixture("images", "baseline.jpg"), "--max-tokens", "2", "--greedy", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const reply = JSON.parse(r.stdout) as { ids: number[]; finish_reason: string };
  assert.equal(reply.ids.length, 2);
});

test("image errors from the CLI: one line, no stack", () => {
  const ids = Array.from(image("input_ids.npy")).join(",");
  const png = fixture("hf-tiny", "image", "image.png");
  const cases: [string[], RegExp][] = [
    [["generate", "--model", tinyModelDir, "--prompt", "Hi", "--image", fixture("images", "expected.json")], /--image|not a supported image: expected PNG, JPEG or WebP/],
    [["generate", "--model", tinyModelDir, "--prompt", "Hi", "--image", join(tempDir(), "missing.png")], /--image .*missing\.png: no such file/],
    [["logits", "--model", tinyModelDir, "--ids", ids, "--image", png, "--image", png, "--out", join(tempDir(), "x.npy")], /256 image placeholder tokens .* but 2 images need 512/],
    [["logits", "--model", tinyModelDir, "--ids", "2,105,2364", "--image", png, "--out", join(tempDir(), "x.npy")], /0 image placeholder tokens .* but 1 image need 256/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test("gemma3n bench --images times the image path as vision_ms_per_image", () => {
  const r = cli(["bench", "--model", tinyModelDir, "--images", "1", "--prompt", "4", "--gen", "1", "--runs", "1", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { vision_ms_per_image: number | null };
  assert.ok(typeof result.vision_ms_per_image === "number" && result.vision_ms_per_image > 0, r.stdout);
});
