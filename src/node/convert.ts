// gemma3n convert: a Hugging Face checkpoint directory → one GGUF file, written tensor by tensor so a
// multi-gigabyte model never sits in memory (each tensor is read, encoded, written and dropped).
import { closeSync, openSync, writeSync } from "node:fs";
import { basename } from "node:path";
import cliProgress from "cli-progress";
import { ggufTokenizerEntries } from "../checkpoint/gguf-tokenizer.js";
import { exportChunks, exportPlan, ggufModelEntries, llamaCppWarnings, type ExportDType } from "../checkpoint/gguf-export.js";
import { ggmlByteLength, ggufHeaderBytes } from "../checkpoint/gguf.js";
import { openHFCheckpoint } from "../checkpoint/hf.js";
import { CheckpointError, ConfigError } from "../errors.js";
import { NodeModelFiles } from "./fs.js";

export interface ConvertOptions {
  dtype: ExportDType;
  /** Show a progress bar on stderr. */
  progress?: boolean;
}

export interface ConvertResult {
  tensors: number;
  bytes: number;
  /** Ways llama.cpp would misread the file (it hard-codes some Gemma 3n constants). */
  warnings: string[];
  /** Whether a tokenizer (tokenizer.json) went into the file. */
  tokenizer: boolean;
}

const ALIGNMENT = 32;

function readJson(files: NodeModelFiles, name: string): Record<string, unknown> {
  try {
    return JSON.parse(files.readText(name)) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`${files.location}/${name}: not valid JSON (${(e as Error).message})`);
  }
}

export function convertToGGUF(modelDir: string, outPath: string, opts: ConvertOptions): ConvertResult {
  const files = new NodeModelFiles(modelDir);
  const ck = openHFCheckpoint(files);
  try {
    const plan = exportPlan(ck, opts.dtype);
    const entries = ggufModelEntries(ck.config, basename(modelDir), opts.dtype);
    const hasTokenizer = files.exists("tokenizer.json");
    if (hasTokenizer) {
      const config = files.exists("tokenizer_config.json") ? readJson(files, "tokenizer_config.json") : {};
      if (files.exists("chat_template.jinja")) config.chat_template = files.readText("chat_template.jinja");
      entries.push(...ggufTokenizerEntries(readJson(files, "tokenizer.json"), config, ck.config.text.vocabSize));
    }
    const { bytes: header } = ggufHeaderBytes(entries, plan.map((t) => t.spec), ALIGNMENT);
    const total = plan.reduce((sum, t) => sum + ggmlByteLength(t.spec.type, t.spec.ne), 0);
    const bar = opts.progress ? new cliProgress.SingleBar({ format: "converting [{bar}] {percentage}% | {value}/{total} MB | {tensor}", stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
    bar?.start(Math.ceil(total / 1e6), 0, { tensor: "" });
    let fd: number;
    try {
      fd = openSync(outPath, "w");
    } catch (e) {
      throw new CheckpointError(`cannot write ${outPath} (${(e as Error).message})`);
    }
    let written = 0;
    try {
      writeSync(fd, header);
      written = header.length;
      for (const t of plan) {
        let size = 0;
        for (const chunk of exportChunks(ck, t)) {
          writeSync(fd, chunk);
          size += chunk.length;
          bar?.update(Math.round((written + size - header.length) / 1e6), { tensor: t.spec.name });
        }
        const expected = ggmlByteLength(t.spec.type, t.spec.ne);
        if (size !== expected) throw new Error(`${outPath}: tensor ${t.spec.name} produced ${size} bytes, expected ${expected}`);
        const pad = (ALIGNMENT - (size % ALIGNMENT)) % ALIGNMENT;
        if (pad) writeSync(fd, new Uint8Array(pad));
        written += size + pad;
      }
    } finally {
      closeSync(fd);
      bar?.stop();
    }
    return { tensors: plan.length, bytes: written, warnings: llamaCppWarnings(ck.config), tokenizer: hasTokenizer };
  } finally {
    ck.close();
  }
}
