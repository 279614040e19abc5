// Writes a checkpoint directory with the real E2B/E4B text dimensions and random BF16 weights, to
// measure memory and speed of the real sizes without downloading anything:
//   node dist/scripts/synthetic-checkpoint.js e2b /tmp/gemma3n-e2b-synthetic [LAYERS]
// (~9 GB for E2B; LAYERS keeps only the first layers, for smaller files). Not for committing: the weights are noise.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toBF16 } from "../src/kernels/dtype.js";
import { Rng } from "../src/generate/sampler.js";
import { syntheticConfig, textTensorShapes, type SyntheticSize } from "../src/model/synthetic.js";
import { writeSafetensors } from "../src/node/write-safetensors.js";

const [size, out, layers] = process.argv.slice(2);
if ((size !== "e2b" && size !== "e4b") || !out || (layers !== undefined && !(Number(layers) >= 1))) {
  process.stderr.write("usage: node dist/scripts/synthetic-checkpoint.js e2b|e4b OUT_DIR [LAYERS]\n");
  process.exit(2);
}
const config = syntheticConfig(size as SyntheticSize);
if (layers !== undefined) {
  const t = config.text_config as Record<string, unknown[] | number>;
  const L = Number(layers);
  for (const key of ["intermediate_size", "activation_sparsity_pattern", "layer_types"]) t[key] = (t[key] as unknown[]).slice(0, L);
  t.num_hidden_layers = L;
  t.num_kv_shared_layers = Math.max(0, L - 20);
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "config.json"), JSON.stringify(config, null, 2));

// A pool of random BF16 values (std ≈ 0.03) that tensors take windows of at random offsets: writing
// 5 B parameters one random draw at a time would take minutes, and noise is noise.
const rng = new Rng(1234);
const POOL = 1 << 22;
const pool = new Uint16Array(POOL * 2);
for (let i = 0; i < pool.length; i++) pool[i] = toBF16((rng.next() + rng.next() + rng.next() - 1.5) * 0.06);
const ONE = toBF16(1);
const CHUNK = 1 << 22; // elements per write

const isVector = (shape: number[]) => shape.length === 1;
writeSafetensors(
  join(out, "model.safetensors"),
  textTensorShapes(config).map(({ name, shape }) => ({
    name,
    shape,
    dtype: "bf16" as const,
    *bytes() {
      const n = shape.reduce((a, b) => a * b, 1);
      for (let done = 0; done < n; done += CHUNK) {
        const m = Math.min(CHUNK, n - done);
        const start = Math.floor(rng.next() * POOL);
        const chunk = isVector(shape) ? new Uint16Array(m).fill(ONE) : pool.subarray(start, start + m);
        yield new Uint8Array(chunk.buffer, chunk.byteOffset, m * 2);
      }
    },
  })),
);
process.stdout.write(`wrote ${out}\n`);
