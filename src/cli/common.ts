// Options shared by every command that loads a model.
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { Command, Option } from "commander";
import { InputError } from "../errors.js";
import { intOption } from "./args.js";
import { DTYPES, type DType } from "../kernels/dtype.js";
import { GELU_NUMERICS, type GeluNumerics } from "../kernels/gelu-f16-table.js";
import type { Gemma3n } from "../model/gemma3n.js";
import type { SliceRequest } from "../model/matformer/elastic.js";
import { FULL } from "../model/matformer/sizes.js";
import { officialSlice, OFFICIAL_SLICES } from "../model/matformer/official.js";
import { parseSliceConfig } from "../model/matformer/slice-config.js";
import { loadModel } from "../node/load.js";

export interface ModelFlags {
  model: string;
  weights?: string;
  dtype?: DType;
  matformer?: string;
  threads?: number;
  gelu?: GeluNumerics;
}

export function modelOptions(cmd: Command): Command {
  return cmd
    .requiredOption("--model <dir|file.gguf|repo>", "model directory, a .gguf file (first part of a split one), or a Hugging Face repo id such as google/gemma-3n-E2B-it")
    .option("--weights <file>", "another safetensors file of the model directory to load the weights from")
    .addOption(new Option("--dtype <type>", "weight dtype in memory (default: as stored; q8_0/q4_0 quantize matrices at load)").choices(DTYPES))
    .option("--threads <n>", "compute threads (default: the available cores)", intOption("--threads", 1))
    .addOption(new Option("--gelu <numerics>", "GELU evaluation: exact (transformers) or f16-table (llama.cpp's CPU backend); default: f16-table for .gguf files, exact otherwise").choices(GELU_NUMERICS))
    .option("--matformer <slice>", "MatFormer slice to run: full, an official name (E2B, E2.98B-layer, …), a size ratio 0–1 between E2B and E4B, or a slice JSON file");
}

export function openModel(flags: ModelFlags): Promise<Gemma3n> {
  return loadModel(flags.model, { weights: flags.weights, dtype: flags.dtype, matformer: sliceArg(flags.matformer), threads: flags.threads, gelu: flags.gelu, hub: { progress: true } });
}

/** `--matformer`: a slice name, a ratio, or a JSON file {"ffn_hidden_dims": [...], "layers_to_skip": [...], "name": ...}. */
export function sliceArg(value: string | undefined): SliceRequest | undefined {
  if (value === undefined) return undefined;
  if (value.toLowerCase() === FULL || officialSlice(value)) return value;
  if (/^(0|1|0?\.\d+|1\.0*)$/.test(value)) return { ratio: Number(value) };
  if (!existsSync(value)) {
    throw new InputError(`--matformer ${value}: not a slice name (${FULL}, ${OFFICIAL_SLICES.map((s) => s.name).join(", ")}), a ratio between 0 and 1, or a slice JSON file`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(value, "utf8"));
  } catch (e) {
    throw new InputError(`--matformer ${value}: not valid JSON (${(e as Error).message})`);
  }
  const slice = parseSliceConfig(json, value);
  return { ...slice, name: slice.name ?? basename(value).replace(/\.json$/i, "") };
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
