// `gemma3n slice`: writes a MatFormer slice of a checkpoint as a standalone Hugging Face model
// directory — config.json, safetensors (one file, or shards with model.safetensors.index.json as
// transformers writes them), and the parent's other files (tokenizer, chat template, generation config).
// Tensors stream through a bounded buffer, so a 15 GB parent never sits in memory.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Checkpoint } from "../checkpoint/checkpoint.js";
import { storedTensorName } from "../checkpoint/hf.js";
import { CheckpointError, InputError } from "../errors.js";
import { DTYPE_BYTES, isQuantized, numel, type StoredDType } from "../kernels/dtype.js";
import { slicedConfigJson, sliceTensors, type ExportTensor, type Ranges } from "../model/matformer/export-plan.js";
import type { SlicePlan } from "../model/matformer/plan.js";
import { writeSafetensors, type TensorSource } from "./write-safetensors.js";

export interface ExportOptions {
  /** Largest safetensors file to write before starting another shard (default 5 GB, as transformers). */
  maxShardBytes?: number;
}

export interface ExportResult {
  files: string[];
  tensors: number;
  bytes: number;
}

/** Bytes read from the parent per step. */
const CHUNK = 64 << 20;

export function exportSlice(ck: Checkpoint, plan: SlicePlan, modelDir: string, outDir: string, opts: ExportOptions = {}): ExportResult {
  const raw = ck.config.raw;
  const tensors = sliceTensors(ck.names().map((n) => ck.entry(n)), ck.config.text, plan);
  const quantized = tensors.find((t) => isQuantized(t.source.dtype));
  if (quantized) throw new CheckpointError(`${quantized.name} is stored as ${quantized.source.dtype}: a Hugging Face checkpoint holds F32/F16/BF16 only`);
  if (existsSync(outDir) && (!statSync(outDir).isDirectory() || readdirSync(outDir).length > 0)) {
    throw new InputError(`${outDir} already exists and is not an empty directory; give a new one for the slice`);
  }
  mkdirSync(outDir, { recursive: true });
  const shards = groupShards(tensors, opts.maxShardBytes ?? 5e9);
  const files = shards.length === 1 ? ["model.safetensors"] : shards.map((_, k) => `model-${pad(k + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  let bytes = 0;
  shards.forEach((shard, k) => {
    const sources = shard.map((t): TensorSource => {
      const name = storedTensorName(t.name, raw);
      weightMap[name] = files[k]!;
      bytes += tensorBytes(t);
      return { name, dtype: t.source.dtype as StoredDType, shape: t.shape, bytes: () => keptBytes(t) };
    });
    writeSafetensors(join(outDir, files[k]!), sources);
  });
  if (shards.length > 1) {
    writeJson(join(outDir, "model.safetensors.index.json"), { metadata: { total_size: bytes }, weight_map: weightMap });
    files.push("model.safetensors.index.json");
  }
  writeJson(join(outDir, "config.json"), slicedConfigJson(raw, plan));
  files.push("config.json");
  for (const name of readdirSync(modelDir)) {
    const skip = name === "config.json" || name.endsWith(".safetensors") || name.endsWith(".safetensors.index.json") || name.startsWith(".");
    if (skip || !statSync(join(modelDir, name)).isFile()) continue;
    copyFileSync(join(modelDir, name), join(outDir, name));
    files.push(name);
  }
  return { files, tensors: tensors.length, bytes };
}

const pad = (n: number) => String(n).padStart(5, "0");

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}

function tensorBytes(t: ExportTensor): number {
  return numel(t.shape) * DTYPE_BYTES[t.source.dtype];
}

/** Tensors in order, cut into shards of at most `max` bytes (a bigger tensor gets a shard of its own). */
function groupShards(tensors: ExportTensor[], max: number): ExportTensor[][] {
  const shards: ExportTensor[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const n = tensorBytes(t);
    if (size > 0 && size + n > max) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1]!.push(t);
    size += n;
  }
  return shards;
}

const span = (r: Ranges) => r.reduce((n, [a, b]) => n + b - a, 0);

/** The kept rows × columns of the stored tensor, read a few MB at a time. */
function* keptBytes(t: ExportTensor): Iterable<Uint8Array> {
  const e = t.source;
  const elem = DTYPE_BYTES[e.dtype];
  const rowBytes = numel(e.shape.slice(1)) * elem;
  const rows = t.rows ?? [[0, e.shape[0] ?? 1]];
  const rowsPerRead = Math.max(1, Math.floor(CHUNK / Math.max(rowBytes, 1)));
  for (const [start, end] of rows) {
    for (let r = start; r < end; r += rowsPerRead) {
      const n = Math.min(rowsPerRead, end - r);
      const stored = new Uint8Array(n * rowBytes);
      e.file.read(e.offset + r * rowBytes, stored);
      if (!t.cols) {
        yield stored;
        continue;
      }
      const keptRow = span(t.cols) * elem;
      const kept = new Uint8Array(n * keptRow);
      for (let k = 0; k < n; k++) {
        let at = k * keptRow;
        for (const [a, b] of t.cols) {
          kept.set(stored.subarray(k * rowBytes + a * elem, k * rowBytes + b * elem), at);
          at += (b - a) * elem;
        }
      }
      yield kept;
    }
  }
}
