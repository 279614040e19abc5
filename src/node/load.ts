// Loading by path or by Hugging Face repo id, on Node.
import { existsSync, statSync } from "node:fs";
import { openHFCheckpoint } from "../checkpoint/hf.js";
import { loadTokenizerFiles, type TokenizerBundle } from "../checkpoint/tokenizer-files.js";
import { CheckpointError } from "../errors.js";
import { looksLikeRepoId, resolveModelDir, type ResolveOptions } from "../hub/index.js";
import { DTYPES, isDType } from "../kernels/dtype.js";
import { Gemma3n, type ModelOptions } from "../model/gemma3n.js";
import { NodeModelFiles } from "./fs.js";
// The image codecs' WebAssembly, read from node_modules (browsers fetch it themselves).
import "./image-codecs.js";

export interface LoadOptions extends ModelOptions {
  /** Another safetensors file of the same directory to take the weights from. */
  weights?: string;
  /** How to fetch a model named by repo id (cache, token, endpoint, progress). */
  hub?: ResolveOptions;
}

/** A local directory, or a Hub repo id fetched into (or found in) the Hugging Face cache. */
export async function resolveModelPath(model: string, hub?: ResolveOptions): Promise<string> {
  if (existsSync(model)) {
    if (!statSync(model).isDirectory()) throw new CheckpointError(`${model} is a file; pass the model directory that holds config.json`);
    return model;
  }
  if (looksLikeRepoId(model)) return resolveModelDir(model, hub);
  throw new CheckpointError(`${model}: no such directory (and not a Hugging Face repo id like google/gemma-3n-E2B-it)`);
}

export async function loadModel(model: string, opts: LoadOptions = {}): Promise<Gemma3n> {
  if (opts.dtype !== undefined && !isDType(opts.dtype)) {
    throw new CheckpointError(`unknown dtype ${JSON.stringify(opts.dtype)} (supported: ${DTYPES.join(", ")})`);
  }
  const files = new NodeModelFiles(await resolveModelPath(model, opts.hub));
  const checkpoint = openHFCheckpoint(files, { weights: opts.weights });
  try {
    return new Gemma3n(checkpoint, loadTokenizerFiles(files), opts);
  } catch (e) {
    checkpoint.close();
    throw e;
  }
}

/** Just the tokenizer and chat template (a directory may hold nothing else). */
export async function loadTokenizer(model: string, hub?: ResolveOptions): Promise<TokenizerBundle | undefined> {
  return loadTokenizerFiles(new NodeModelFiles(await resolveModelPath(model, hub)));
}
