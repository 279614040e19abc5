// Prompt assembly for media: placeholder expansion, soft tokens filled in order, and the language
// model's logits when the reference's image embeddings are injected (the vision tower itself is
// tested on its own). The encoder here replays the reference's embed_vision output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadModel } from "../src/node/load.js";
import { mediaEncoderFactories } from "../src/model/gemma3n.js";
import { golden, maxAbsDiff } from "./golden.js";
import { tinyModelDir } from "./helpers.js";

const reference = golden("hf-tiny", "image", "embed_vision_output.npy").data as Float32Array;
const encoded: unknown[] = [];
mediaEncoderFactories.image = () => ({
  kind: "image",
  encode: async (item) => {
    encoded.push(item);
    return reference;
  },
});

test("image soft tokens replace the placeholders: logits match the reference image prompt", async () => {
  const model = await loadModel(tinyModelDir);
  const ids = Array.from(golden("hf-tiny", "image", "input_ids.npy").data);
  const prepared = await model.prepare({ ids, images: ["picture"] });
  assert.equal(prepared.soft!.positions.length, 256);
  const err = maxAbsDiff(model.logits(prepared.ids, { soft: prepared.soft }), golden("hf-tiny", "image", "logits.npy").data);
  assert.ok(err < 5e-3, `image-prompt logits differ by ${err}`);
  model.close();
});

test("chat image parts expand like the processor, in order, and mismatches are refused", async () => {
  const model = await loadModel(tinyModelDir);
  encoded.length = 0;
  const messages = [{ role: "user", content: [{ type: "image" as const, image: "a" }, { type: "text" as const, text: "and" }, { type: "image" as const, image: "b" }] }];
  const p = await model.prepare({ messages });
  assert.deepEqual(encoded, ["a", "b"]);
  const text = model.tokenizer!.decode(p.ids);
  const block = `\n\n<start_of_image>${"<image_soft_token>".repeat(256)}<end_of_image>\n\n`;
  assert.equal(text, `<bos><start_of_turn>user\n${block}and${block}<end_of_turn>\n<start_of_turn>model\n`);
  assert.equal(p.soft!.positions.length, 512);
  assert.equal(p.ids.filter((i) => i === 2).length, 1);
  const ids = Array.from(golden("hf-tiny", "image", "input_ids.npy").data);
  await assert.rejects(model.prepare({ ids, images: ["x", "y"] }), /256 image placeholder tokens .* but 2 images need 512/);
  await assert.rejects(model.prepare({ ids }), /256 image placeholder tokens .* but 0 images need 0/);
  model.close();
});
