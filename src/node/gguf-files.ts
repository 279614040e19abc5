// Opening a GGUF model on Node: a single .gguf file, or the first part of a split one
// (NAME-00001-of-0000N.gguf), whose other parts sit beside it.
import { existsSync } from "node:fs";
import { openGGUFCheckpoint, type GGUFModel } from "../checkpoint/gguf-checkpoint.js";
import { CheckpointError } from "../errors.js";
import type { RandomAccessFile } from "../io/random-access.js";
import { NodeFile } from "./fs.js";

const SPLIT = /^(.*)-(\d+)-of-(\d+)\.gguf$/i;

export function isGGUFPath(path: string): boolean {
  return path.toLowerCase().endsWith(".gguf");
}

/** Paths of every part of the model whose first (or only) file is `path`. */
export function ggufPartPaths(path: string): string[] {
  const m = SPLIT.exec(path);
  if (!m) return [path];
  const [, stem, no, of] = m as unknown as [string, string, string, string];
  if (Number(no) !== 1) throw new CheckpointError(`${path} is part ${Number(no)} of a split GGUF; pass the first part (…-${"1".padStart(no.length, "0")}-of-${of}.gguf)`);
  const parts = Array.from({ length: Number(of) }, (_, i) => `${stem}-${String(i + 1).padStart(no.length, "0")}-of-${of}.gguf`);
  const missing = parts.filter((p) => !existsSync(p));
  if (missing.length > 0) throw new CheckpointError(`${path}: split GGUF part${missing.length > 1 ? "s" : ""} missing: ${missing.join(", ")}`);
  return parts;
}

export function openGGUFModel(path: string): GGUFModel {
  const opened: RandomAccessFile[] = [];
  try {
    for (const p of ggufPartPaths(path)) opened.push(new NodeFile(p));
    return openGGUFCheckpoint(opened, path);
  } catch (e) {
    for (const f of opened) f.close();
    throw e;
  }
}
