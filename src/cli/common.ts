// Options shared by every command that loads a model.
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { InputError } from "../errors.js";
import { DTYPES, type DType } from "../kernels/dtype.js";
import type { Gemma3n } from "../model/gemma3n.js";
import { loadModel } from "../node/load.js";

export interface ModelFlags {
  model: string;
  weights?: string;
  dtype?: DType;
}

export function modelOptions(cmd: Command): Command {
  return cmd
    .requiredOption("--model <dir|repo>", "model directory, or a Hugging Face repo id such as google/gemma-3n-E2B-it")
    .option("--weights <file>", "another safetensors file of the model directory to load the weights from")
    .addOption(new Option("--dtype <type>", "weight dtype in memory (default: as stored; q8_0/q4_0 quantize matrices at load)").choices(DTYPES));
}

export function openModel(flags: ModelFlags): Promise<Gemma3n> {
  return loadModel(flags.model, { weights: flags.weights, dtype: flags.dtype, hub: { progress: true } });
}

/** The bytes of a media file named on the command line (`what` names the option in errors). */
export function readMediaFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new InputError(`${what} ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
}

export function writeJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + "\n");
}
