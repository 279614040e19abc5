// gemma3n slice: writes a MatFormer slice of a checkpoint as a standalone Hugging Face checkpoint
// that this runtime and transformers load like any other.
import { Command } from "commander";
import { InputError } from "../errors.js";
import { formatBytes } from "../hub/index.js";
import { exportSlice } from "../node/export-slice.js";
import { isGGUFPath } from "../node/gguf-files.js";
import { openCheckpoint, resolveModelPath } from "../node/load.js";
import type { SliceSpec } from "../model/matformer/plan.js";
import { planOn } from "../model/matformer/sizes.js";
import { intOption } from "./args.js";
import { sliceArg } from "./common.js";

interface SliceFlags {
  model: string;
  weights?: string;
  matformer: string;
  out: string;
  maxShardSize?: number;
}

export function registerSlice(program: Command): void {
  program
    .command("slice")
    .description("write a MatFormer slice of a checkpoint as a standalone Hugging Face checkpoint (same dtypes, tokenizer files copied)")
    .requiredOption("--model <dir|repo>", "the full model: a directory, or a Hugging Face repo id such as google/gemma-3n-E4B-it")
    .option("--weights <file>", "another safetensors file of the model directory to take the weights from")
    .requiredOption("--matformer <slice>", "the slice: an official name (E2B, E2.98B-layer, …), a size ratio 0–1 between E2B and E4B, or a slice JSON file")
    .requiredOption("--out <dir>", "new directory for the sliced checkpoint")
    .option("--max-shard-size <bytes>", "largest safetensors file before sharding (default 5e9)", intOption("--max-shard-size", 1))
    .action(async (f: SliceFlags) => {
      const dir = await resolveModelPath(f.model, { progress: true });
      if (isGGUFPath(dir)) throw new InputError(`${dir}: slices are exported from Hugging Face safetensors checkpoints, not GGUF`);
      const ck = openCheckpoint(dir, f.weights).checkpoint;
      try {
        const plan = planOn(ck, sliceArg(f.matformer) as SliceSpec | { ratio: number });
        const r = exportSlice(ck, plan, dir, f.out, { maxShardBytes: f.maxShardSize });
        process.stdout.write(`wrote MatFormer slice ${plan.name} (${plan.text.numLayers} layers) to ${f.out}: ${r.tensors} tensors, ${formatBytes(r.bytes)}, ${r.files.join(", ")}\n`);
      } finally {
        ck.close();
      }
    });
}
