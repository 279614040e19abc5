// The vision tower's architecture from config.json: the built-in mobilenetv5_300m_enc must have the
// released checkpoint's exact tensor inventory (spec §4.1: 548 tensors, 294,126,912 parameters),
// model_args must shrink it as timm does, and unsupported settings must be refused clearly.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Tensor } from "../src/kernels/dtype.js";
import { makeDivisible, parseVisionTowerConfig } from "../src/model/vision/config.js";
import { samePadding, type WeightSource } from "../src/model/vision/ops.js";
import { loadVisionTower } from "../src/model/vision/tower.js";
import { loadModel } from "../src/node/load.js";
import { tinyModelDir } from "./helpers.js";

/** A weight source that hands out zeros and records what the tower asked for. */
function recorder(): WeightSource & { shapes: Map<string, readonly number[]> } {
  const shapes = new Map<string, readonly number[]>();
  const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return {
    shapes,
    has: () => true,
    load(name: string, shape?: readonly number[]): Tensor {
      shapes.set(name, shape!);
      return { dtype: "f32", shape: shape!, data: new Float32Array(numel(shape!)) };
    },
    loadF32(name: string, shape?: readonly number[]): Float32Array {
      shapes.set(name, shape!);
      return new Float32Array(numel(shape!));
    },
  };
}

test("the built-in mobilenetv5_300m_enc has the released tensor inventory", () => {
  const cfg = parseVisionTowerConfig({ architecture: "mobilenetv5_300m_enc" });
  assert.deepEqual(cfg.stages.map((s) => s.length), [3, 5, 37, 39]);
  const src = recorder();
  loadVisionTower(src, cfg);
  assert.equal(src.shapes.size, 548);
  let params = 0;
  for (const s of src.shapes.values()) params += s.reduce((a, b) => a * b, 1);
  assert.equal(params, 294_126_912);
  const p = "model.vision_tower.timm_model.";
  assert.deepEqual(src.shapes.get(p + "blocks.2.9.attn.key.down_conv.weight"), [640, 1, 3, 3]);
  assert.deepEqual(src.shapes.get(p + "blocks.3.1.attn.query.proj.weight"), [1536, 1280, 1, 1]);
  assert.equal(src.shapes.has(p + "blocks.3.1.attn.key.down_conv.weight"), false);
  assert.deepEqual(src.shapes.get(p + "msfa.ffn.pw_exp.conv.weight"), [3840, 1920, 1, 1]);
});

test("the tiny checkpoint's model_args shrink the tower, and its tensors all match", async () => {
  const model = await loadModel(tinyModelDir);
  const cfg = parseVisionTowerConfig(model.config.raw.vision_config as Record<string, unknown>);
  assert.equal(cfg.stemSize, 16);
  const src = recorder();
  loadVisionTower(src, cfg);
  const stored = model.checkpoint.names().filter((n) => n.startsWith("model.vision_tower."));
  assert.deepEqual([...src.shapes.keys()].sort(), stored.sort());
  for (const [name, shape] of src.shapes) assert.deepEqual(model.checkpoint.entry(name).shape, shape, name);
  model.close();
});

test("TF-style same padding and timm's make_divisible", () => {
  assert.deepEqual(samePadding(768, 3, 2), [0, 1]);
  assert.deepEqual(samePadding(96, 5, 2), [1, 2]);
  assert.deepEqual(samePadding(48, 5, 1), [2, 2]);
  assert.deepEqual(samePadding(7, 1, 1), [0, 0]);
  assert.equal(makeDivisible(128 * 6), 768);
  assert.equal(makeDivisible(20), 24);
  assert.equal(makeDivisible(3), 8);
});

test("unsupported vision configs are refused with the field named", () => {
  const bad = (vision: Record<string, unknown>, re: RegExp) => assert.throws(() => parseVisionTowerConfig(vision), re);
  const block = (b: Record<string, unknown>) => ({ model_args: { block_args: [[{ block_type: "uir", out_chs: 8, stride: 1, dw_kernel_size_start: 3, dw_kernel_size_mid: 0, exp_ratio: 2, ...b }]] } });
  bad({ architecture: "resnet50" }, /architecture "resnet50" is not supported/);
  bad({ model_args: { block_args: [] } }, /block_args must be a non-empty list/);
  bad({ model_args: { channel_multiplier: 0.5 } }, /model_args\.channel_multiplier is not supported/);
  bad(block({ block_type: "ir" }), /block_args\[0\]\[0\]\.block_type "ir" is not supported/);
  bad(block({ se_ratio: 0.25 }), /se_ratio = 0\.25 is not supported/);
  bad(block({ act_layer: "relu" }), /act_layer = "relu" is not supported/);
  bad(block({ out_chs: 0 }), /out_chs must be an integer ≥ 1/);
  bad(block({ exp_ratio: -1 }), /exp_ratio must be a positive number/);
  bad({ model_args: { block_args: [[{ block_type: "mqa", out_chs: 8, num_heads: 2, key_dim: 8, value_dim: 4 }]] } }, /key_dim and value_dim must be equal/);
  bad({ model_args: { msfa_indices: [7] } }, /msfa_indices must list feature indices/);
  bad({ hidden_size: 1024 }, /always emits 2048 channels/);
  bad({ model_args: { pad_type: "" } }, /pad_type "" is not supported/);
  bad({ model_args: { in_chans: 1 } }, /in_chans must be 3/);
  assert.equal(parseVisionTowerConfig({ model_args: { stem_size: 20, fix_stem: true } }).stemSize, 20);
  assert.equal(parseVisionTowerConfig({ model_args: { stem_size: 20, num_classes: 0 } }).stemSize, 24);
  assert.throws(() => parseVisionTowerConfig(undefined), /no vision_config/);
});
