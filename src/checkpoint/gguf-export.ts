// What `gemma3n convert` writes: a checkpoint's text model as llama.cpp's converter lays it out
// (Gemma3NModel in convert_hf_to_gguf.py): its metadata keys, tensor names, stacked AltUp matrices,
// embeddings kept (token_embd) or zero-padded (per_layer_token_embd) to the full vocabulary, no
// lm_head. Vision and audio towers are not written (llama.cpp keeps them in a separate mmproj file).
import { convertTensor, toBF16, toF16 } from "../kernels/dtype.js";
import type { ModelConfig } from "../model/config.js";
import { normalQuantile } from "../model/text/mlp.js";
import { DiskRows, type Checkpoint } from "./checkpoint.js";
import { encodeQ4_K } from "./ggml-quants.js";
import { GGML_TYPE_ID, GGML_TYPES, GGUFType, type GGUFEntry, type GGUFTensorSpec } from "./gguf.js";
import { ggufFromCanonical, STACKED, TEXT_PREFIX } from "./gguf-names.js";

export type ExportDType = "f32" | "f16" | "bf16" | "q8_0" | "q4_0" | "q4_k";
export const EXPORT_DTYPES: readonly ExportDType[] = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_k"];

/** general.file_type (llama.cpp's LLAMA_FTYPE) of each choice. */
const FILE_TYPE: Record<ExportDType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, q4_k: 15, bf16: 32 };
const PREFERRED: Record<ExportDType, string[]> = {
  f32: ["F32"],
  f16: ["F16"],
  bf16: ["BF16"],
  q8_0: ["Q8_0", "F16"],
  q4_0: ["Q4_0", "F16"],
  q4_k: ["Q4_K", "Q8_0", "F16"],
};

/** One tensor of the output file: its GGUF descriptor and the canonical tensors it is made of. */
export interface ExportTensor {
  spec: GGUFTensorSpec;
  sources: string[];
  /** Rows to append as zeros (the per-layer embedding table padded to the full vocabulary). */
  padRows: number;
}

/** The ggml type a tensor of row width `ne0` and rank `rank` gets: 1-D tensors stay F32, block types need whole blocks. */
export function exportType(dtype: ExportDType, ne0: number, rank: number): number {
  if (rank < 2) return GGML_TYPE_ID.F32!;
  const name = PREFERRED[dtype].find((t) => ne0 % GGML_TYPES.get(GGML_TYPE_ID[t]!)!.blockSize === 0)!;
  return GGML_TYPE_ID[name]!;
}

/** The output tensors in llama.cpp's order: globals, stacked AltUp, then layer by layer. */
export function exportPlan(ck: Checkpoint, dtype: ExportDType): ExportTensor[] {
  const c = ck.config.text;
  const out: ExportTensor[] = [];
  const add = (name: string, sources: string[], shape: readonly number[], padRows = 0) => {
    const ne = [...shape].reverse();
    ne[ne.length - 1] = ne[ne.length - 1]! + padRows;
    out.push({ spec: { name, ne, type: exportType(dtype, ne[0]!, ne.length) }, sources, padRows });
  };
  const textNames = ck.names().filter((n) => n.startsWith(TEXT_PREFIX));
  for (const canonical of textNames) {
    const name = ggufFromCanonical(canonical);
    if (!name || name.startsWith("blk.")) continue;
    const shape = ck.entry(canonical).shape;
    const padRows = canonical === TEXT_PREFIX + "embed_tokens_per_layer.weight" ? c.vocabSize - shape[0]! : 0;
    add(name, [canonical], shape, padRows);
  }
  for (const [gguf, base] of STACKED) {
    const sources = Array.from({ length: c.altupNumInputs - 1 }, (_, k) => `${TEXT_PREFIX}${base}.${k}.weight`);
    add(gguf, sources, [sources.length, ...ck.entry(sources[0]!).shape]);
  }
  for (let l = 0; l < c.numLayers; l++) {
    for (const canonical of textNames.filter((n) => n.startsWith(`${TEXT_PREFIX}layers.${l}.`))) {
      const name = ggufFromCanonical(canonical);
      if (name) add(name, [canonical], ck.entry(canonical).shape);
    }
  }
  return out;
}

/** Elements per encoded chunk: big tensors (the 262400 × 2048 embedding) never sit in memory whole. */
const CHUNK_ELEMENTS = 1 << 22;

/** float32 values (whole rows) → bytes of a ggml type. */
function encode(type: string, values: Float32Array, rowWidth: number): Uint8Array {
  switch (type) {
    case "F32":
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case "F16":
    case "BF16": {
      const round = type === "F16" ? toF16 : toBF16;
      const half = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) half[i] = round(values[i]!);
      return new Uint8Array(half.buffer);
    }
    case "Q4_K": {
      const q = new Uint8Array((values.length / 256) * 144);
      encodeQ4_K(values, q);
      return q;
    }
    default: {
      const q = convertTensor({ dtype: "f32", shape: [values.length / rowWidth, rowWidth], data: values }, type === "Q8_0" ? "q8_0" : "q4_0").data;
      return new Uint8Array(q.buffer, q.byteOffset, q.byteLength);
    }
  }
}

/** The bytes of one output tensor, encoded in its ggml type, in chunks of whole rows read from disk as needed. */
export function* exportChunks(ck: Checkpoint, t: ExportTensor): Generator<Uint8Array> {
  const type = GGML_TYPES.get(t.spec.type)!.name;
  const rowWidth = t.spec.ne[0]!;
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / rowWidth));
  for (const source of t.sources) {
    const entry = ck.entry(source);
    if (entry.shape.length < 2) {
      yield encode(type, ck.loadF32(source), rowWidth);
      continue;
    }
    const rows = new DiskRows(entry);
    for (let r0 = 0; r0 < rows.rows; r0 += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, rows.rows - r0);
      const values = new Float32Array(n * rowWidth);
      for (let r = 0; r < n; r++) rows.read(r0 + r, values.subarray(r * rowWidth, (r + 1) * rowWidth));
      yield encode(type, values, rowWidth);
    }
  }
  for (let r0 = 0; r0 < t.padRows; r0 += rowsPerChunk) yield encode(type, new Float32Array(Math.min(rowsPerChunk, t.padRows - r0) * rowWidth), rowWidth);
}

/**
 * `activation_sparsity_scale`: the multiplier z of llama.cpp's cutoff mean + z·std, where std is the
 * sample std (÷ F−1). llama.cpp's converter writes Normal.icdf(p), the multiplier of the reference's
 * population std; written as is, a reader that follows llama.cpp's formula moves the cutoff by
 * √(F/(F−1)). We write icdf(p)·√((F−1)/F), the same cutoff in llama.cpp's terms, so reading the file
 * back gives the reference model exactly. (llama.cpp itself ignores the key: it hard-codes icdf(0.95).)
 * icdf(0) = −inf marks a dense layer.
 */
function sparsityScales(c: ModelConfig["text"]): number[] {
  return c.activationSparsity.map((p, l) => {
    if (p <= 0) return -Infinity;
    const F = c.intermediateSize[l]!;
    return Math.fround(normalQuantile(Math.fround(p)) * Math.sqrt((F - 1) / F));
  });
}

/** The `general.*` and `gemma3n.*` keys, as llama.cpp's converter writes them. */
export function ggufModelEntries(config: ModelConfig, name: string, dtype: ExportDType): GGUFEntry[] {
  const c = config.text;
  const a = "gemma3n.";
  const u32 = (key: string, value: number): GGUFEntry => ({ key, type: GGUFType.U32, value });
  const f32 = (key: string, value: number): GGUFEntry => ({ key, type: GGUFType.F32, value });
  const entries: GGUFEntry[] = [
    { key: "general.architecture", type: GGUFType.String, value: "gemma3n" },
    { key: "general.type", type: GGUFType.String, value: "model" },
    { key: "general.name", type: GGUFType.String, value: name },
    u32(a + "context_length", c.maxPositionEmbeddings),
    u32(a + "embedding_length", c.hiddenSize),
    u32(a + "block_count", c.numLayers),
    { key: a + "feed_forward_length", type: GGUFType.Array, itemType: GGUFType.I32, value: c.intermediateSize },
    u32(a + "attention.head_count", c.numHeads),
    f32(a + "attention.layer_norm_rms_epsilon", c.rmsNormEps),
    u32(a + "attention.key_length", c.headDim),
    u32(a + "attention.value_length", c.headDim),
    f32(a + "rope.freq_base", c.ropeTheta.full),
    f32(a + "rope.freq_base_swa", c.ropeTheta.sliding),
    u32(a + "attention.sliding_window", c.slidingWindow),
    u32(a + "attention.head_count_kv", c.numKvHeads),
    u32(a + "altup.active_idx", c.altupActiveIdx),
    u32(a + "altup.num_inputs", c.altupNumInputs),
    u32(a + "embedding_length_per_layer_input", c.hiddenSizePerLayerInput),
    u32(a + "attention.shared_kv_layers", c.numKvSharedLayers),
    { key: a + "activation_sparsity_scale", type: GGUFType.Array, itemType: GGUFType.F32, value: sparsityScales(c) },
    { key: a + "attention.sliding_window_pattern", type: GGUFType.Array, itemType: GGUFType.Bool, value: c.layerTypes.map((t) => t === "sliding") },
    u32("general.file_type", FILE_TYPE[dtype]),
  ];
  if (c.finalLogitSoftcap !== null) entries.push(f32(a + "final_logit_softcapping", c.finalLogitSoftcap));
  if (dtype !== "f32" && dtype !== "f16" && dtype !== "bf16") entries.push(u32("general.quantization_version", 2));
  return entries;
}

/**
 * Where llama.cpp would misread this model: it hard-codes several Gemma 3n constants instead of reading
 * the keys (text-decoder spec §3.3). Our own loader reads the keys, so the file is still valid.
 */
export function llamaCppWarnings(config: ModelConfig): string[] {
  const c = config.text;
  const warnings: string[] = [];
  const firstShared = c.numLayers - c.numKvSharedLayers;
  if (c.numKvSharedLayers > 0 && firstShared !== 20) warnings.push(`KV sharing starts at layer ${firstShared}; llama.cpp assumes layer 20`);
  if (c.numKvSharedLayers === 0 && c.numLayers > 20) warnings.push(`no layer shares KV; llama.cpp makes layers ≥ 20 share`);
  const sparse = c.activationSparsity.map((p) => p > 0);
  const expected = c.activationSparsity.map((_, i) => i < 10);
  if (sparse.some((s, i) => s !== expected[i]) || c.activationSparsity.some((p) => p > 0 && Math.abs(p - 0.95) > 1e-6)) {
    warnings.push(`activation sparsity is not 0.95 on exactly layers 0–9; llama.cpp hard-codes that`);
  }
  if (c.hiddenSizePerLayerInput !== 256) warnings.push(`per-layer-input width is ${c.hiddenSizePerLayerInput}; llama.cpp assumes 256`);
  if (c.laurelRank !== 64) warnings.push(`LAuReL rank is ${c.laurelRank}; llama.cpp assumes 64`);
  if (c.altupNumInputs !== 4 || c.altupActiveIdx !== 0) warnings.push(`AltUp has ${c.altupNumInputs} streams, active ${c.altupActiveIdx}; llama.cpp assumes 4 and 0`);
  if (c.layerTypes.some((t, i) => (t === "full") !== (i % 5 === 4))) warnings.push(`layer types do not follow llama.cpp's period of 5 (full attention on every 5th layer)`);
  if (new Set(c.intermediateSize).size > 1) warnings.push(`FFN widths differ between layers; llama.cpp uses layer 0's width for all`);
  if (c.altupCoefClip !== null && c.altupCoefClip !== 120) warnings.push(`altup_coef_clip ${c.altupCoefClip} is not written to GGUF (readers assume 120)`);
  return warnings;
}
