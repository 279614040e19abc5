// The safetensors format: an 8-byte little-endian header length, a JSON header mapping tensor names to
// {dtype, shape, data_offsets}, then the raw tensor bytes. Only the header is read up front; tensor
// bytes are read by range when a tensor is asked for.
import { CheckpointError } from "../errors.js";
import type { RandomAccessFile } from "../io/random-access.js";
import { DTYPE_BYTES, numel, type DType, type StoredDType } from "../kernels/dtype.js";

const STORED_DTYPES: Record<string, StoredDType> = { F32: "f32", F16: "f16", BF16: "bf16" };
/** Headers beyond this size are corrupt, not big: a real 2,000-tensor header is ~200 KB. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Where one tensor's bytes are, in which file. */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly file: RandomAccessFile;
  /** Absolute byte offset in `file`. */
  readonly offset: number;
  readonly byteLength: number;
}

export function readSafetensorsHeader(file: RandomAccessFile): TensorEntry[] {
  const where = file.path;
  if (file.size < 8) throw new CheckpointError(`${where}: not a safetensors file (${file.size} bytes, shorter than the 8-byte header length)`);
  const lenBytes = new Uint8Array(8);
  file.read(0, lenBytes);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES || headerLen < 2 || 8 + headerLen > file.size) {
    throw new CheckpointError(
      `${where}: corrupt safetensors header length ${headerLen} (file is ${file.size} bytes); the file is truncated or not a safetensors file`,
    );
  }
  const headerBytes = new Uint8Array(headerLen);
  file.read(8, headerBytes);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new CheckpointError(`${where}: safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new CheckpointError(`${where}: safetensors header is not a JSON object`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = file.size - dataStart;
  const entries: TensorEntry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") continue;
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const bad = (problem: string) => new CheckpointError(`${where}: tensor "${name}": ${problem}`);
    if (typeof info !== "object" || info === null) throw bad("header entry is not an object");
    if (typeof info.dtype !== "string") throw bad("missing dtype");
    const dtype = STORED_DTYPES[info.dtype];
    if (!dtype) throw bad(`unsupported dtype ${info.dtype} (supported: F32, F16, BF16)`);
    if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`bad shape ${JSON.stringify(info.shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw bad(`bad data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const shape = info.shape as number[];
    const byteLength = numel(shape) * DTYPE_BYTES[dtype];
    if (end < begin || end - begin !== byteLength) {
      throw bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${shape.join(", ")}] of ${info.dtype} needs ${byteLength}`);
    }
    if (end > dataLen) {
      throw bad(`data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes): the file is truncated`);
    }
    entries.push({ name, dtype, shape, file, offset: dataStart + begin, byteLength });
  }
  return entries;
}

export interface TensorSpec {
  name: string;
  dtype: StoredDType;
  shape: readonly number[];
}

const WRITE_DTYPES: Record<StoredDType, string> = { f32: "F32", f16: "F16", bf16: "BF16" };

/**
 * The bytes that start a safetensors file holding `specs` in order: length prefix and JSON header,
 * padded with spaces so the data begins 8-byte aligned. Returns each tensor's data offset too.
 */
export function safetensorsHeader(specs: readonly TensorSpec[], metadata: Record<string, string> = { format: "pt" }): { bytes: Uint8Array; dataOffsets: number[] } {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const dataOffsets: number[] = [];
  let at = 0;
  for (const s of specs) {
    const len = numel(s.shape) * DTYPE_BYTES[s.dtype];
    header[s.name] = { dtype: WRITE_DTYPES[s.dtype], shape: s.shape, data_offsets: [at, at + len] };
    dataOffsets.push(at);
    at += len;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const body = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + body.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(body.length), true);
  bytes.set(body, 8);
  return { bytes, dataOffsets };
}
