// A Gemma 3n GGUF (llama.cpp's layout, one file or the parts of a split one) as a Checkpoint: the
// metadata keys become the config, llama.cpp's tensor names map onto the canonical ones, stacked AltUp
// matrices become per-index byte ranges. F32/F16/BF16/Q8_0/Q4_0 tensors are read as stored; the other
// ggml block types are repacked to q8_0 as they are read (see RepackedFile).
import { CheckpointError } from "../errors.js";
import type { RandomAccessFile } from "../io/random-access.js";
import { convertTensor, DTYPE_BYTES, type DType } from "../kernels/dtype.js";
import { parseModelConfig, type ModelConfig } from "../model/config.js";
import { normalQuantile } from "../model/text/mlp.js";
import { Checkpoint } from "./checkpoint.js";
import { BLOCK_DECODERS, type BlockDecoder } from "./ggml-quants.js";
import { GGML_TYPES, ggmlTypeName, quote, readGGUFHeader, type GGUFHeader, type GGUFTensorInfo, type GGUFValue } from "./gguf.js";
import { canonicalFromGGUF, STACKED, TEXT_PREFIX } from "./gguf-names.js";
import type { TensorEntry } from "./safetensors.js";

/** ggml types the kernels read directly. */
const DIRECT: Readonly<Record<string, DType>> = { F32: "f32", F16: "f16", BF16: "bf16", Q8_0: "q8_0", Q4_0: "q4_0" };

export const SUPPORTED_GGML_TYPES = [...Object.keys(DIRECT), ...Object.keys(BLOCK_DECODERS)];

/** Defaults llama.cpp hard-codes for Gemma 3n, used where a file lacks the key (spec §3.3). */
const LLAMA_CPP_FIRST_KV_SHARED_LAYER = 20;
const LLAMA_CPP_SPARSE_LAYERS = 10;
const MAX_LAYERS = 1024;

export interface GGUFModel {
  header: GGUFHeader;
  checkpoint: Checkpoint;
}

/** Reads metadata keys with clear errors. */
class Keys {
  constructor(private readonly h: GGUFHeader, readonly where: string) {}
  get(key: string): GGUFValue | undefined {
    return this.h.metadata.get(key);
  }
  fail(key: string, problem: string): never {
    throw new CheckpointError(`${this.where}: metadata key "${key}" ${problem}`);
  }
  num(key: string, dflt?: number): number {
    const v = this.get(key) ?? dflt;
    if (v === undefined) this.fail(key, "is missing");
    if (typeof v !== "number") this.fail(key, `must be a number, got ${describe(v)}`);
    return v;
  }
  optNum(key: string): number | undefined {
    return this.get(key) === undefined ? undefined : this.num(key);
  }
  /** A per-layer list: an array of `n` numbers, or one number for every layer. */
  perLayer(key: string, n: number): number[] | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v === "number") return new Array<number>(n).fill(v);
    if (!ArrayBuffer.isView(v) && !Array.isArray(v)) this.fail(key, `must be a number or an array, got ${describe(v)}`);
    const list = Array.from(v as ArrayLike<unknown>, (x) => (typeof x === "bigint" ? Number(x) : x));
    if (list.length !== n || !list.every((x) => typeof x === "number")) this.fail(key, `must hold ${n} numbers (one per layer)`);
    return list as number[];
  }
  boolList(key: string, n: number): boolean[] | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === "boolean")) this.fail(key, `must be ${n} booleans (one per layer)`);
    return v as boolean[];
  }
}

function describe(v: GGUFValue): string {
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return `an array of ${(v as ArrayLike<unknown>).length}`;
  return JSON.stringify(typeof v === "bigint" ? v.toString() : v);
}

/** Φ(z) by bisection on the quantile function the decoder uses, so the decoder's Φ⁻¹ gives z back. */
function sparsityFromZ(z: number): number {
  if (!Number.isFinite(z)) return 0; // the converter writes icdf(0) = −inf for "no sparsity"
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (normalQuantile(mid) < z) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The HF config.json (text part) equivalent of a Gemma 3n GGUF's metadata, so one parser validates both
 * formats. Widths llama.cpp does not store (LAuReL rank, PLE width, vocabularies) come from tensor shapes.
 */
function configFromMetadata(k: Keys, shapes: Map<string, readonly number[]>): Record<string, unknown> {
  const arch = k.get("general.architecture");
  if (arch === undefined) k.fail("general.architecture", "is missing (is this a model GGUF?)");
  if (arch !== "gemma3n") throw new CheckpointError(`${k.where}: architecture is ${JSON.stringify(arch)}, not "gemma3n" (this runtime runs Gemma 3n only)`);
  const a = "gemma3n.";
  const L = k.num(a + "block_count");
  // Per-layer lists are allocated from it: a corrupt count must not become a huge array.
  if (!Number.isInteger(L) || L < 1 || L > MAX_LAYERS) k.fail(a + "block_count", `must be a layer count in [1, ${MAX_LAYERS}], got ${L}`);
  const shape = (canonical: string): readonly number[] => {
    const s = shapes.get(TEXT_PREFIX + canonical);
    if (!s) throw new CheckpointError(`${k.where}: tensor for ${canonical} is missing`);
    return s;
  };
  const headDim = k.num(a + "attention.key_length");
  const valueLength = k.num(a + "attention.value_length", headDim);
  if (valueLength !== headDim) k.fail(a + "attention.value_length", `(${valueLength}) must equal key_length (${headDim})`);
  const ple = shape("embed_tokens_per_layer.weight");
  const pleWidth = ple[1]! / L;
  const pleKey = k.optNum(a + "embedding_length_per_layer_input");
  if (pleKey !== undefined && pleKey !== pleWidth) k.fail(a + "embedding_length_per_layer_input", `is ${pleKey} but per_layer_token_embd holds ${ple[1]} = ${L} layers × ${pleWidth}`);
  const altupInputs = k.num(a + "altup.num_inputs", 4);
  // shared_kv_layers was written as a float by early converters.
  const sharedKv = k.get(a + "attention.shared_kv_layers") === undefined ? Math.max(0, L - LLAMA_CPP_FIRST_KV_SHARED_LAYER) : k.num(a + "attention.shared_kv_layers");
  const ffn = k.perLayer(a + "feed_forward_length", L) ?? k.fail(a + "feed_forward_length", "is missing");
  const sparsityZ = k.perLayer(a + "activation_sparsity_scale", L);
  const pattern = k.boolList(a + "attention.sliding_window_pattern", L);
  const eos = k.optNum("tokenizer.ggml.eos_token_id");
  const eot = k.optNum("tokenizer.ggml.eot_token_id");
  return {
    model_type: "gemma3n_text",
    hidden_size: k.num(a + "embedding_length"),
    num_hidden_layers: L,
    num_attention_heads: k.num(a + "attention.head_count"),
    num_key_value_heads: k.num(a + "attention.head_count_kv"),
    head_dim: headDim,
    intermediate_size: ffn,
    vocab_size: shape("embed_tokens.weight")[0],
    vocab_size_per_layer_input: ple[0],
    hidden_size_per_layer_input: pleWidth,
    altup_num_inputs: altupInputs,
    altup_active_idx: k.num(a + "altup.active_idx", 0),
    laurel_rank: shape("layers.0.laurel.linear_left.weight")[0],
    num_kv_shared_layers: Number.isInteger(sharedKv) ? sharedKv : k.fail(a + "attention.shared_kv_layers", `must be a whole number, got ${sharedKv}`),
    // llama.cpp's cutoff is mean + z·std with the sample std (÷ F−1); the config's probability is for
    // the population std (÷ F), as in the reference, so the same cutoff needs z·√(F/(F−1)).
    activation_sparsity_pattern: sparsityZ
      ? sparsityZ.map((z, l) => sparsityFromZ(z * Math.sqrt(ffn[l]! / (ffn[l]! - 1))))
      : Array.from({ length: L }, (_, i) => (i < LLAMA_CPP_SPARSE_LAYERS ? 0.95 : 0)),
    sliding_window: k.num(a + "attention.sliding_window"),
    layer_types: pattern ? pattern.map((s) => (s ? "sliding_attention" : "full_attention")) : undefined,
    rope_theta: k.num(a + "rope.freq_base", 1_000_000),
    rope_local_base_freq: k.num(a + "rope.freq_base_swa", 10_000),
    final_logit_softcapping: k.optNum(a + "final_logit_softcapping") ?? null,
    rms_norm_eps: k.num(a + "attention.layer_norm_rms_epsilon", 1e-6),
    max_position_embeddings: k.num(a + "context_length"),
    bos_token_id: k.optNum("tokenizer.ggml.bos_token_id") ?? 2,
    pad_token_id: k.optNum("tokenizer.ggml.padding_token_id") ?? 0,
    eos_token_id: [eos ?? 1, ...(eot !== undefined && eot !== eos ? [eot] : [])],
  };
}

/**
 * A tensor of a ggml block type no kernel reads, presented as the bytes of the same tensor in `dtype`
 * (q8_0, or f32 when rows are not whole blocks): every read decodes the covering source blocks and
 * re-encodes them, so whole-tensor loads and single-row reads of the on-disk PLE table both work.
 */
export class RepackedFile implements RandomAccessFile {
  readonly size: number;
  private readonly srcBlock: number;
  private readonly srcBlockBytes: number;
  constructor(
    private readonly src: RandomAccessFile,
    private readonly info: GGUFTensorInfo,
    private readonly decode: BlockDecoder,
    readonly dtype: DType,
    elements: number,
  ) {
    const t = GGML_TYPES.get(info.type)!;
    this.srcBlock = t.blockSize;
    this.srcBlockBytes = t.blockBytes;
    this.size = elements * DTYPE_BYTES[dtype];
  }
  get path(): string {
    return `${this.src.path} (${this.info.name}, ${ggmlTypeName(this.info.type)} repacked to ${this.dtype})`;
  }
  read(offset: number, dest: Uint8Array): void {
    if (offset < 0 || offset + dest.length > this.size) throw new RangeError(`${this.path}: read past the end`);
    // In pieces of ~4 MB of output (whole 256-element groups): decoding a whole 262400 × 2048 table at
    // once would need gigabytes.
    const group = 256 * DTYPE_BYTES[this.dtype];
    const piece = group * Math.floor(REPACK_PIECE_BYTES / group);
    for (let done = 0; done < dest.length; done += piece) this.readPiece(offset + done, dest.subarray(done, Math.min(dest.length, done + piece)));
  }
  private readPiece(offset: number, dest: Uint8Array): void {
    // Output elements are grouped in units of `unit` (32 for q8_0) that take `unitBytes`.
    const unit = this.dtype === "q8_0" ? 32 : 1;
    const unitBytes = unit * DTYPE_BYTES[this.dtype];
    const firstUnit = Math.floor(offset / unitBytes);
    const endUnit = Math.ceil((offset + dest.length) / unitBytes);
    const firstBlock = Math.floor((firstUnit * unit) / this.srcBlock);
    const endBlock = Math.ceil((endUnit * unit) / this.srcBlock);
    const raw = new Uint8Array((endBlock - firstBlock) * this.srcBlockBytes);
    this.src.read(this.info.offset + firstBlock * this.srcBlockBytes, raw);
    const values = new Float32Array((endBlock - firstBlock) * this.srcBlock);
    this.decode(raw, values);
    const skip = firstUnit * unit - firstBlock * this.srcBlock;
    const wanted = values.subarray(skip, skip + (endUnit - firstUnit) * unit);
    const encoded = convertTensor({ dtype: "f32", shape: [1, wanted.length], data: wanted }, this.dtype).data;
    const bytes = new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    const from = offset - firstUnit * unitBytes;
    dest.set(bytes.subarray(from, from + dest.length));
  }
  close(): void {}
}

const REPACK_PIECE_BYTES = 1 << 22;

/** The checkpoint entry (or entries, for a stacked tensor) of one GGUF tensor. */
function entriesOf(t: GGUFTensorInfo, file: RandomAccessFile, where: string): TensorEntry[] {
  const stacked = STACKED.find(([g]) => g === t.name);
  const name = canonicalFromGGUF(t.name);
  if (!stacked && !name) return []; // not part of the text model (llama.cpp's own extras)
  const typeName = ggmlTypeName(t.type);
  const shape = [...t.ne].reverse();
  const elements = shape.reduce((a, b) => a * b, 1);
  let dtype = DIRECT[typeName];
  let source = file;
  let offset = t.offset;
  if (!dtype) {
    const decode = BLOCK_DECODERS[typeName];
    if (!decode) {
      throw new CheckpointError(`${where}: tensor ${quote(t.name)} has type ${typeName}, which is not supported (supported: ${SUPPORTED_GGML_TYPES.join(", ")})`);
    }
    dtype = shape.length >= 2 && shape[shape.length - 1]! % 32 === 0 ? "q8_0" : "f32";
    source = new RepackedFile(file, t, decode, dtype, elements);
    offset = 0;
  }
  const byteLength = elements * DTYPE_BYTES[dtype];
  if (!stacked) return [{ name: name!, dtype, shape, file: source, offset, byteLength }];
  // [k, D, D] in PyTorch order: matrix k is the k-th contiguous slice.
  const [count, ...matrix] = shape as [number, ...number[]];
  return Array.from({ length: count }, (_, k) => ({
    name: `${TEXT_PREFIX}${stacked[1]}.${k}.weight`,
    dtype: dtype!,
    shape: matrix,
    file: source,
    offset: offset + (k * byteLength) / count,
    byteLength: byteLength / count,
  }));
}

/** Split-file keys: which part this is and how many there are. */
export function splitInfo(h: GGUFHeader): { index: number; count: number } {
  const count = h.metadata.get("split.count");
  const index = h.metadata.get("split.no");
  return { index: typeof index === "number" ? index : 0, count: typeof count === "number" ? count : 1 };
}

/** Opens the parts of a GGUF model: one file, or every part of a split one, in order. */
export function openGGUFCheckpoint(parts: readonly RandomAccessFile[], location: string): GGUFModel {
  const headers = parts.map((p) => readGGUFHeader(p));
  const first = headers[0]!;
  const { count } = splitInfo(first);
  if (count !== parts.length) {
    throw new CheckpointError(`${location}: the GGUF is split into ${count} parts but ${parts.length} ${parts.length === 1 ? "was" : "were"} found`);
  }
  headers.forEach((h, i) => {
    const s = splitInfo(h);
    if (s.index !== i || s.count !== count) throw new CheckpointError(`${parts[i]!.path}: is part ${s.index + 1} of ${s.count}, expected part ${i + 1} of ${count}`);
  });
  const entries = headers.flatMap((h, i) => h.tensors.flatMap((t) => entriesOf(t, parts[i]!, parts[i]!.path)));
  const shapes = new Map(entries.map((e) => [e.name, e.shape]));
  const raw = configFromMetadata(new Keys(first, location), shapes);
  const config: ModelConfig = parseModelConfig(raw, `${location} (GGUF metadata)`);
  return { header: first, checkpoint: new Checkpoint(location, config, entries, parts) };
}
