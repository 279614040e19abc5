// Loading by path or by Hugging Face repo id, on Node.
import { existsSync, statSync } from "node:fs";
import type { Checkpoint } from "../checkpoint/checkpoint.js";
import { tokenizerFromGGUF } from "../checkpoint/gguf-tokenizer.js";
import { openHFCheckpoint } from "../checkpoint/hf.js";
import { loadTokenizerFiles, type TokenizerBundle } from "../checkpoint/tokenizer-files.js";
import { CheckpointError } from "../errors.js";
import { looksLikeRepoId, resolveModelDir, type ResolveOptions } from "../hub/index.js";
import type { Backend } from "../kernels/backend.js";
import { DTYPES, isDType } from "../kernels/dtype.js";
import { GELU_NUMERICS } from "../kernels/gelu-f16-table.js";
import { Gemma3n, type ModelOptions } from "../model/gemma3n.js";
import { NodeModelFiles } from "./fs.js";
import { createWasmBackend } from "./wasm-backend.js";
import { isGGUFPath, openGGUFModel } from "./gguf-files.js";
// The image codecs' WebAssembly, read from node_modules (browsers fetch it themselves).
import "./image-codecs.js";

export interface LoadOptions extends ModelOptions {
  /** Another safetensors file of the same directory to take the weights from. */
  weights?: string;
  /** How to fetch a model named by repo id (cache, token, endpoint, progress). */
  hub?: ResolveOptions;
  /** Compute threads of the default (WebAssembly) backend; ignored when `backend` is given. */
  threads?: number;
}

/** A local directory or .gguf file, or a Hub repo id fetched into (or found in) the Hugging Face cache. */
export async function resolveModelPath(model: string, hub?: ResolveOptions): Promise<string> {
  if (existsSync(model)) {
    if (!statSync(model).isDirectory() && !isGGUFPath(model)) throw new CheckpointError(`${model} is a file; pass the model directory that holds config.json, or a .gguf file`);
    return model;
  }
  if (looksLikeRepoId(model)) return resolveModelDir(model, hub);
  throw new CheckpointError(`${model}: no such directory (and not a Hugging Face repo id like google/gemma-3n-E2B-it)`);
}

export async function loadModel(model: string, opts: LoadOptions = {}): Promise<Gemma3n> {
  if (opts.dtype !== undefined && !isDType(opts.dtype)) {
    throw new CheckpointError(`unknown dtype ${JSON.stringify(opts.dtype)} (supported: ${DTYPES.join(", ")})`);
  }
  if (opts.gelu !== undefined && !GELU_NUMERICS.includes(opts.gelu)) {
    throw new CheckpointError(`unknown GELU numerics ${JSON.stringify(opts.gelu)} (supported: ${GELU_NUMERICS.join(", ")})`);
  }
  const path = await resolveModelPath(model, opts.hub);
  const { checkpoint, tokenizer } = openCheckpoint(path, opts.weights);
  // A GGUF runs as llama.cpp runs it; a Hugging Face checkpoint as transformers runs it.
  const gelu = opts.gelu ?? (isGGUFPath(path) ? "f16-table" : "exact");
  let backend: Backend | undefined;
  try {
    backend = opts.backend ?? (await createWasmBackend({ threads: opts.threads }));
    return new Gemma3n(checkpoint, tokenizer(), { ...opts, gelu, backend, ownsBackend: opts.backend === undefined });
  } catch (e) {
    checkpoint.close();
    if (opts.backend === undefined) backend?.close();
    throw e;
  }
}

/** Just the tokenizer and chat template (a directory may hold nothing else). */
export async function loadTokenizer(model: string, hub?: ResolveOptions): Promise<TokenizerBundle | undefined> {
  const path = await resolveModelPath(model, hub);
  if (!isGGUFPath(path)) return loadTokenizerFiles(new NodeModelFiles(path));
  const { header, checkpoint } = openGGUFModel(path);
  checkpoint.close();
  return tokenizerFromGGUF(header.metadata, path);
}

/** The checkpoint at a resolved path (model directory or .gguf file), and a reader of its tokenizer. */
export function openCheckpoint(path: string, weights?: string): { checkpoint: Checkpoint; tokenizer: () => TokenizerBundle | undefined } {
  if (isGGUFPath(path)) {
    if (weights !== undefined) throw new CheckpointError(`--weights applies to model directories, not to the GGUF file ${path}`);
    const { header, checkpoint } = openGGUFModel(path);
    return { checkpoint, tokenizer: () => tokenizerFromGGUF(header.metadata, path) };
  }
  const files = new NodeModelFiles(path);
  return { checkpoint: openHFCheckpoint(files, { weights }), tokenizer: () => loadTokenizerFiles(files) };
}
