// A Hugging Face model directory: config.json, optional generation_config.json, and weights in
// model.safetensors or shards listed by model.safetensors.index.json.
import { CheckpointError, ConfigError } from "../errors.js";
import type { ModelFiles, RandomAccessFile } from "../io/random-access.js";
import { parseModelConfig } from "../model/config.js";
import { Checkpoint } from "./checkpoint.js";
import { readSafetensorsHeader, type TensorEntry } from "./safetensors.js";

export interface OpenOptions {
  /** Load this safetensors file of the directory instead of the default weights. */
  weights?: string;
}

const TEXT_PREFIX = "model.language_model.";

/**
 * Canonical names are the multimodal checkpoint's. A text-only `Gemma3nForCausalLM` checkpoint stores
 * `model.layers.…`; map it onto `model.language_model.…`. A stored `lm_head.weight` is tied to the
 * embedding and is dropped.
 */
function canonicalName(name: string, textOnly: boolean): string {
  if (textOnly && name.startsWith("model.")) return TEXT_PREFIX + name.slice("model.".length);
  return name;
}

/** The name a tensor has in a checkpoint of `config.json`'s layout (inverse of canonicalName). */
export function storedTensorName(canonical: string, config: Record<string, unknown>): string {
  if (config.model_type === "gemma3n_text" && canonical.startsWith(TEXT_PREFIX)) return "model." + canonical.slice(TEXT_PREFIX.length);
  return canonical;
}

function readJson(files: ModelFiles, name: string): unknown {
  let text: string;
  try {
    text = files.readText(name);
  } catch (e) {
    throw new CheckpointError(`${files.location}: cannot read ${name} (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${files.location}/${name}: not valid JSON (${(e as Error).message})`);
  }
}

function weightFiles(files: ModelFiles, opts: OpenOptions): string[] {
  if (opts.weights) {
    if (!files.exists(opts.weights)) throw new CheckpointError(`${files.location}: weights file ${opts.weights} does not exist`);
    return [opts.weights];
  }
  if (files.exists("model.safetensors")) return ["model.safetensors"];
  const indexName = "model.safetensors.index.json";
  if (files.exists(indexName)) {
    const index = readJson(files, indexName) as { weight_map?: Record<string, string> };
    if (!index || typeof index.weight_map !== "object" || index.weight_map === null) {
      throw new CheckpointError(`${files.location}/${indexName}: has no "weight_map" object`);
    }
    const shards = [...new Set(Object.values(index.weight_map))];
    for (const s of shards) {
      if (typeof s !== "string" || s.includes("/") || s.includes("\\")) throw new CheckpointError(`${files.location}/${indexName}: bad shard name ${JSON.stringify(s)}`);
      if (!files.exists(s)) throw new CheckpointError(`${files.location}: shard ${s} listed in ${indexName} is missing`);
    }
    return shards.sort();
  }
  throw new CheckpointError(`${files.location}: no model.safetensors or model.safetensors.index.json`);
}

export function openHFCheckpoint(files: ModelFiles, opts: OpenOptions = {}): Checkpoint {
  if (!files.exists("config.json")) throw new CheckpointError(`${files.location}: config.json is missing (is this a model directory?)`);
  const config = parseModelConfig(readJson(files, "config.json"), `${files.location}/config.json`);
  const generationConfig = files.exists("generation_config.json")
    ? (readJson(files, "generation_config.json") as Record<string, unknown>)
    : undefined;
  const opened: RandomAccessFile[] = [];
  const entries: TensorEntry[] = [];
  try {
    for (const name of weightFiles(files, opts)) {
      let f: RandomAccessFile;
      try {
        f = files.open(name);
      } catch (e) {
        throw new CheckpointError(`${files.location}: cannot open ${name} (${(e as Error).message})`);
      }
      opened.push(f);
      entries.push(...readSafetensorsHeader(f));
    }
  } catch (e) {
    for (const f of opened) f.close();
    throw e;
  }
  const textOnly = !entries.some((e) => e.name.startsWith(TEXT_PREFIX));
  const canonical = entries
    .filter((e) => e.name !== "lm_head.weight")
    .map((e) => ({ ...e, name: canonicalName(e.name, textOnly) }));
  return new Checkpoint(files.location, config, canonical, opened, generationConfig);
}
