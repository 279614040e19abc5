// Writes the synthetic checkpoint of `gemma3n bench` (real E2B/E4B dimensions, random weights, vision and
// audio towers included) to a directory, to measure memory and speed of the real sizes on files:
//   node dist/scripts/synthetic-checkpoint.js e2b /tmp/gemma3n-e2b-synthetic [LAYERS]
// (~10 GB for E2B in BF16; LAYERS keeps only the first layers, for smaller files). Not for committing:
// the weights are noise.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { syntheticConfig, type SyntheticSize } from "../src/model/synthetic.js";
import { syntheticCheckpoint } from "../src/model/synthetic-checkpoint.js";
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

const CHUNK = 1 << 24; // bytes per write
const ck = syntheticCheckpoint(config, "bf16");
writeSafetensors(
  join(out, "model.safetensors"),
  ck.names().map((name) => {
    const e = ck.entry(name);
    // Asked for bf16, the synthetic checkpoint holds only bf16 matrices and f32 vectors.
    if (e.dtype !== "bf16" && e.dtype !== "f32") throw new Error(`${name}: unexpected dtype ${e.dtype}`);
    return {
      name,
      shape: e.shape,
      dtype: e.dtype,
      *bytes() {
        for (let done = 0; done < e.byteLength; done += CHUNK) {
          const chunk = new Uint8Array(Math.min(CHUNK, e.byteLength - done));
          e.file.read(e.offset + done, chunk);
          yield chunk;
        }
      },
    };
  }),
);
process.stdout.write(`wrote ${out}\n`);
