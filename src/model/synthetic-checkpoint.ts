// A checkpoint with the real E2B/E4B text dimensions (and vision and audio towers) whose bytes are made up as they are read: random
// weights already in the dtype asked for (so quantized runs skip quantization), nothing on disk and
// nothing held in memory beyond what the model loads — the per-layer-embedding table, like a real
// one, is only ever read a row at a time. For speed and memory measurements (gemma3n bench).
import { Checkpoint } from "../checkpoint/checkpoint.js";
import type { TensorEntry } from "../checkpoint/safetensors.js";
import type { RandomAccessFile } from "../io/random-access.js";
import { Rng } from "../generate/sampler.js";
import { canHold, DTYPE_BYTES, numel, toBF16, toF16, type DType } from "../kernels/dtype.js";
import { parseAudioConfig } from "./audio/config.js";
import { audioTowerShapes } from "./audio/weights.js";
import { parseModelConfig } from "./config.js";
import { syntheticConfig, textTensorShapes, type SyntheticSize } from "./synthetic.js";
import { parseVisionTowerConfig } from "./vision/config.js";
import { visionTowerShapes } from "./vision/tower.js";

const POOL_BYTES = 1 << 20;
/** Weights ~ N(0, 0.03²), as in the released models' projections. */
const STD = 0.03;

/** Random bytes of one dtype: a fixed pool read at the file offset, with block scales written in place. */
class SyntheticFile implements RandomAccessFile {
  constructor(
    readonly path: string,
    readonly size: number,
    private readonly dtype: DType,
    private readonly pool: Uint8Array,
  ) {}

  read(offset: number, dest: Uint8Array): void {
    if (offset < 0 || offset + dest.length > this.size) throw new RangeError(`${this.path}: read past the end`);
    for (let done = 0; done < dest.length; ) {
      const at = (offset + done) % POOL_BYTES;
      const n = Math.min(dest.length - done, POOL_BYTES - at);
      dest.set(this.pool.subarray(at, at + n), done);
      done += n;
    }
    if (this.dtype === "q8_0" || this.dtype === "q4_0") {
      const blockBytes = this.dtype === "q8_0" ? 34 : 18;
      // Scales that give the weights about the standard deviation above.
      const d = toF16(this.dtype === "q8_0" ? STD / 73 : STD / 4.6);
      for (let i = (blockBytes - (offset % blockBytes)) % blockBytes; i < dest.length; i += blockBytes) {
        dest[i] = d & 0xff;
        if (i + 1 < dest.length) dest[i + 1] = d >> 8;
      }
      if (offset % blockBytes === 1) dest[0] = d >> 8;
    }
  }
  close(): void {}
}

function pool(dtype: DType | "ones", rng: Rng): Uint8Array {
  const bytes = new Uint8Array(POOL_BYTES);
  const normal = () => (rng.next() + rng.next() + rng.next() - 1.5) * 2 * STD;
  if (dtype === "ones") new Float32Array(bytes.buffer).fill(1);
  else if (dtype === "f32") new Float32Array(bytes.buffer).forEach((_, i, a) => (a[i] = normal()));
  else if (dtype === "bf16" || dtype === "f16") {
    const round = dtype === "bf16" ? toBF16 : toF16;
    new Uint16Array(bytes.buffer).forEach((_, i, a) => (a[i] = round(normal())));
  } else for (let i = 0; i < POOL_BYTES; i++) bytes[i] = Math.floor(rng.next() * 256);
  return bytes;
}

/**
 * The text model of `size` (or of a config.json object) and the vision and audio towers, with matrices in `dtype` (those whose rows
 * are not whole blocks — convolutions among them — the per-layer-embedding table and the audio tower
 * in bf16 as released)
 * and float32 vectors (norm weights are ones).
 */
export function syntheticCheckpoint(size: SyntheticSize | Record<string, unknown>, dtype: DType, seed = 1): Checkpoint {
  const raw = typeof size === "string" ? syntheticConfig(size) : size;
  const rng = new Rng(seed);
  const pools = new Map<DType | "ones", Uint8Array>();
  const poolOf = (d: DType | "ones") => pools.get(d) ?? pools.set(d, pool(d, rng)).get(d)!;
  const location = `synthetic ${typeof size === "string" ? size : "model"} (${dtype})`;
  const config = parseModelConfig(raw, location);
  const shapes = [
    ...textTensorShapes(raw),
    ...visionTowerShapes(parseVisionTowerConfig(raw.vision_config as Record<string, unknown>)),
    ...audioTowerShapes(parseAudioConfig(config)),
  ];
  const entries: TensorEntry[] = shapes.map(({ name, shape }) => {
    const vector = shape.length === 1;
    // The audio tower is used as stored (bf16 in the released checkpoints), whatever --dtype says.
    const asReleased = name.endsWith("embed_tokens_per_layer.weight") || name.startsWith("model.audio_tower.");
    const d: DType = vector ? "f32" : asReleased || !canHold(dtype, shape) ? (dtype === "f32" ? "f32" : "bf16") : dtype;
    const byteLength = numel(shape) * DTYPE_BYTES[d];
    const file = new SyntheticFile(`${location}: ${name}`, byteLength, d, poolOf(vector ? "ones" : d));
    return { name, dtype: d, shape, file, offset: 0, byteLength };
  });
  return new Checkpoint(location, config, entries, entries.map((e) => e.file));
}
