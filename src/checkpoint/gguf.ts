// The GGUF container (llama.cpp's file format), versions 2 and 3, little-endian: a header of typed
// key/value metadata and tensor descriptors, then tensor data aligned to `general.alignment`. Only the
// header is read up front; every count and length in it is checked against the bytes that remain, so
// a corrupt header fails with a message instead of allocating or looping without bound.
import { CheckpointError } from "../errors.js";
import type { RandomAccessFile } from "../io/random-access.js";

/** GGUF metadata value types (the numbers are the file's). */
export const enum GGUFType {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
}

/** A metadata value. Numeric arrays are typed arrays (a 262144-entry score list stays compact). */
export type GGUFValue =
  | number
  | bigint
  | boolean
  | string
  | GGUFValue[]
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

export interface GGUFTensorInfo {
  readonly name: string;
  /** ggml order: ne[0] is the contiguous (innermost) dimension. */
  readonly ne: readonly number[];
  readonly type: number;
  /** Absolute byte offset in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface GGUFHeader {
  readonly version: number;
  readonly metadata: Map<string, GGUFValue>;
  /** The value type of each key (for keys whose type matters, such as an int written as a float). */
  readonly types: Map<string, GGUFType>;
  readonly tensors: GGUFTensorInfo[];
  readonly alignment: number;
  readonly dataOffset: number;
}

/** ggml tensor types: block size (elements) and bytes per block. */
export interface GGMLTypeInfo {
  readonly name: string;
  readonly blockSize: number;
  readonly blockBytes: number;
}

export const GGML_TYPES: ReadonlyMap<number, GGMLTypeInfo> = new Map(
  (
    [
      [0, "F32", 1, 4],
      [1, "F16", 1, 2],
      [2, "Q4_0", 32, 18],
      [3, "Q4_1", 32, 20],
      [6, "Q5_0", 32, 22],
      [7, "Q5_1", 32, 24],
      [8, "Q8_0", 32, 34],
      [9, "Q8_1", 32, 36],
      [10, "Q2_K", 256, 84],
      [11, "Q3_K", 256, 110],
      [12, "Q4_K", 256, 144],
      [13, "Q5_K", 256, 176],
      [14, "Q6_K", 256, 210],
      [15, "Q8_K", 256, 292],
      [16, "IQ2_XXS", 256, 66],
      [17, "IQ2_XS", 256, 74],
      [18, "IQ3_XXS", 256, 98],
      [19, "IQ1_S", 256, 50],
      [20, "IQ4_NL", 32, 18],
      [21, "IQ3_S", 256, 110],
      [22, "IQ2_S", 256, 82],
      [23, "IQ4_XS", 256, 136],
      [24, "I8", 1, 1],
      [25, "I16", 1, 2],
      [26, "I32", 1, 4],
      [27, "I64", 1, 8],
      [28, "F64", 1, 8],
      [29, "IQ1_M", 256, 56],
      [30, "BF16", 1, 2],
      [34, "TQ1_0", 256, 54],
      [35, "TQ2_0", 256, 66],
      [39, "MXFP4", 32, 17],
    ] as const
  ).map(([id, name, blockSize, blockBytes]) => [id, { name, blockSize, blockBytes }]),
);

export const GGML_TYPE_ID: Readonly<Record<string, number>> = Object.fromEntries([...GGML_TYPES].map(([id, t]) => [t.name, id]));

export function ggmlTypeName(type: number): string {
  return GGML_TYPES.get(type)?.name ?? `unknown type ${type}`;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 8;
const MAX_ARRAY_DEPTH = 4;

const SCALAR_BYTES: Partial<Record<GGUFType, number>> = {
  [GGUFType.U8]: 1, [GGUFType.I8]: 1, [GGUFType.Bool]: 1,
  [GGUFType.U16]: 2, [GGUFType.I16]: 2,
  [GGUFType.U32]: 4, [GGUFType.I32]: 4, [GGUFType.F32]: 4,
  [GGUFType.U64]: 8, [GGUFType.I64]: 8, [GGUFType.F64]: 8,
};

/** Sequential reads from a file through a window of buffered bytes. */
class Cursor {
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;
  pos = 0;
  constructor(private readonly file: RandomAccessFile, private readonly where: string) {}

  get remaining(): number {
    return this.file.size - this.pos;
  }
  fail(problem: string): never {
    throw new CheckpointError(`${this.where}: ${problem}`);
  }
  /** Makes [pos, pos + n) available in the buffer and returns its offset there. */
  private need(n: number, what: string): number {
    if (n > this.remaining) this.fail(`truncated GGUF header: ${what} at byte ${this.pos} needs ${n} bytes, only ${this.remaining} remain`);
    const at = this.pos - this.bufStart;
    if (at >= 0 && at + n <= this.buf.length) return at;
    const size = Math.min(Math.max(n, 1 << 20), this.remaining);
    this.buf = new Uint8Array(size);
    this.file.read(this.pos, this.buf);
    this.view = new DataView(this.buf.buffer);
    this.bufStart = this.pos;
    return 0;
  }
  u32(what: string): number {
    const at = this.need(4, what);
    this.pos += 4;
    return this.view.getUint32(at, true);
  }
  /** A u64 count or length; beyond 2^53 it cannot be real. */
  u64(what: string): number {
    const at = this.need(8, what);
    this.pos += 8;
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is impossibly large`);
    return Number(v);
  }
  bytes(n: number, what: string): Uint8Array {
    const at = this.need(n, what);
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }
  string(what: string): string {
    const n = this.u64(`length of ${what}`);
    try {
      return utf8.decode(this.bytes(n, what));
    } catch {
      return this.fail(`${what} is not valid UTF-8`);
    }
  }
  scalar(type: GGUFType, what: string): number | bigint | boolean {
    const size = SCALAR_BYTES[type]!;
    const at = this.need(size, what);
    this.pos += size;
    const v = this.view;
    switch (type) {
      case GGUFType.U8: return v.getUint8(at);
      case GGUFType.I8: return v.getInt8(at);
      case GGUFType.Bool: return v.getUint8(at) !== 0;
      case GGUFType.U16: return v.getUint16(at, true);
      case GGUFType.I16: return v.getInt16(at, true);
      case GGUFType.U32: return v.getUint32(at, true);
      case GGUFType.I32: return v.getInt32(at, true);
      case GGUFType.F32: return shortestF32(v.getFloat32(at, true));
      case GGUFType.F64: return v.getFloat64(at, true);
      case GGUFType.U64: return safeNumber(v.getBigUint64(at, true));
      default: return safeNumber(v.getBigInt64(at, true));
    }
  }
  /** A numeric array copied out into a typed array (copy: the buffer window moves on). */
  numericArray(type: GGUFType, count: number, what: string): GGUFValue {
    const size = SCALAR_BYTES[type]!;
    if (count * size > this.remaining) this.fail(`truncated GGUF header: ${what} has ${count} entries of ${size} bytes, only ${this.remaining} bytes remain`);
    const out = new Uint8Array(count * size);
    for (let done = 0; done < out.length; ) {
      const n = Math.min(out.length - done, 1 << 20);
      out.set(this.bytes(n, what), done);
      done += n;
    }
    const b = out.buffer;
    switch (type) {
      case GGUFType.U8: return out;
      case GGUFType.Bool: return Array.from(out, (x) => x !== 0);
      case GGUFType.I8: return new Int8Array(b);
      case GGUFType.U16: return new Uint16Array(b);
      case GGUFType.I16: return new Int16Array(b);
      case GGUFType.U32: return new Uint32Array(b);
      case GGUFType.I32: return new Int32Array(b);
      case GGUFType.F32: return new Float32Array(b);
      case GGUFType.F64: return new Float64Array(b);
      case GGUFType.U64: return new BigUint64Array(b);
      default: return new BigInt64Array(b);
    }
  }
}

// ignoreBOM: a token that starts with U+FEFF keeps it.
/** A name from the file, for a one-line message (it may hold anything, newlines included). */
export function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? s.slice(0, 80) + "…" : s);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The shortest decimal that is the same float32 (a stored 1e-6 reads as 1e-6, not 9.99999997e-7). */
function shortestF32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let digits = 1; digits < 9; digits++) {
    const y = Number(x.toPrecision(digits));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

function safeNumber(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function readValue(c: Cursor, type: number, what: string, depth: number): GGUFValue {
  if (SCALAR_BYTES[type as GGUFType] !== undefined) return c.scalar(type, what);
  if (type === GGUFType.String) return c.string(what);
  if (type !== GGUFType.Array) c.fail(`${what} has unknown value type ${type}`);
  if (depth >= MAX_ARRAY_DEPTH) c.fail(`${what}: arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
  const itemType = c.u32(`item type of ${what}`);
  const count = c.u64(`length of ${what}`);
  if (SCALAR_BYTES[itemType as GGUFType] !== undefined) return c.numericArray(itemType, count, what);
  if (itemType !== GGUFType.String && itemType !== GGUFType.Array) c.fail(`${what} has unknown item type ${itemType}`);
  // Every string or nested array takes at least 8 bytes: a count beyond that is corrupt, not big.
  if (count * 8 > c.remaining) c.fail(`truncated GGUF header: ${what} claims ${count} entries but only ${c.remaining} bytes remain`);
  const out: GGUFValue[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = readValue(c, itemType, what, depth + 1);
  return out;
}

/** Parses the header of a GGUF file (the first part, or any part, of a split model). */
export function readGGUFHeader(file: RandomAccessFile): GGUFHeader {
  const where = file.path;
  const c: Cursor = new Cursor(file, where);
  if (file.size < 24) c.fail(`not a GGUF file (${file.size} bytes, shorter than a GGUF header)`);
  const magic = c.u32("magic");
  if (magic !== MAGIC) {
    const text = [0, 8, 16, 24].map((s) => String.fromCharCode((magic >>> s) & 0xff)).join("");
    c.fail(`not a GGUF file (starts with ${JSON.stringify(text)}, expected "GGUF")`);
  }
  const version = c.u32("version");
  if (version === 0x03000000 || version === 0x02000000) c.fail(`big-endian GGUF files are not supported`);
  if (version !== 2 && version !== 3) c.fail(`unsupported GGUF version ${version} (supported: 2 and 3)`);
  const tensorCount = c.u64("tensor count");
  const kvCount = c.u64("metadata count");
  // A key/value pair takes at least 13 bytes, a tensor descriptor at least 24.
  if (kvCount * 13 + tensorCount * 24 > c.remaining) {
    c.fail(`corrupt GGUF header: ${kvCount} metadata entries and ${tensorCount} tensors cannot fit in ${file.size} bytes`);
  }
  const metadata = new Map<string, GGUFValue>();
  const types = new Map<string, GGUFType>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`);
    const type = c.u32(`type of ${quote(key)}`);
    metadata.set(key, readValue(c, type, `metadata ${quote(key)}`, 0));
    types.set(key, type);
  }
  const alignValue = metadata.get("general.alignment") ?? DEFAULT_ALIGNMENT;
  if (typeof alignValue !== "number" || !Number.isInteger(alignValue) || alignValue < 1 || alignValue > 1 << 20 || (alignValue & (alignValue - 1)) !== 0) {
    c.fail(`general.alignment ${String(alignValue)} is not a power of two`);
  }
  const alignment = alignValue;
  const infos: { name: string; ne: number[]; type: number; rel: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`name of tensor #${i}`);
    const nDims = c.u32(`dimension count of ${quote(name)}`);
    if (nDims < 1 || nDims > MAX_DIMS) c.fail(`tensor ${quote(name)} has ${nDims} dimensions (1..${MAX_DIMS} allowed)`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(c.u64(`dimension ${d} of ${quote(name)}`));
    const type = c.u32(`type of ${quote(name)}`);
    const rel = c.u64(`data offset of ${quote(name)}`);
    infos.push({ name, ne, type, rel });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors = infos.map(({ name, ne, type, rel }): GGUFTensorInfo => {
    const info = GGML_TYPES.get(type);
    if (!info) c.fail(`tensor ${quote(name)} has unknown ggml type ${type}`);
    if (ne[0]! % info.blockSize !== 0) c.fail(`tensor ${quote(name)} (${info.name}) has a row of ${ne[0]} elements, not a multiple of its block size ${info.blockSize}`);
    const elements = ne.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elements)) c.fail(`tensor ${quote(name)} has impossibly many elements`);
    const byteLength = (elements / info.blockSize) * info.blockBytes;
    if (rel % alignment !== 0) c.fail(`tensor ${quote(name)} data offset ${rel} is not aligned to ${alignment}`);
    if (dataOffset + rel + byteLength > file.size) {
      c.fail(`tensor ${quote(name)} (${byteLength} bytes at ${dataOffset + rel}) runs past the end of the file (${file.size} bytes): the file is truncated`);
    }
    return { name, ne, type, offset: dataOffset + rel, byteLength };
  });
  return { version, metadata, types, tensors, alignment, dataOffset };
}

// ---- writing ----------------------------------------------------------------------------------

/** A metadata entry to write, with its explicit GGUF type (arrays: the item type). */
export type GGUFEntry =
  | { key: string; type: Exclude<GGUFType, GGUFType.Array>; value: string | number | boolean }
  | { key: string; type: GGUFType.Array; itemType: Exclude<GGUFType, GGUFType.Array>; value: readonly (string | number | boolean)[] | ArrayLike<number> };

export interface GGUFTensorSpec {
  name: string;
  ne: readonly number[];
  type: number;
}

/** Grows a byte buffer as values are appended. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // room() may replace the buffer, so it runs before this.view is read.
  u32(v: number): void {
    const at = this.room(4);
    this.view.setUint32(at, v, true);
  }
  u64(v: number): void {
    const at = this.room(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  scalar(type: GGUFType, v: number | boolean | string): void {
    switch (type) {
      case GGUFType.String: {
        const b = new TextEncoder().encode(v as string);
        this.u64(b.length);
        const at = this.room(b.length);
        this.buf.set(b, at);
        return;
      }
      case GGUFType.U32: this.u32(v as number); return;
    }
    const size = SCALAR_BYTES[type]!;
    const at = this.room(size);
    const n = v as number;
    switch (type) {
      case GGUFType.Bool: this.view.setUint8(at, v ? 1 : 0); return;
      case GGUFType.U8: this.view.setUint8(at, n); return;
      case GGUFType.I8: this.view.setInt8(at, n); return;
      case GGUFType.U16: this.view.setUint16(at, n, true); return;
      case GGUFType.I16: this.view.setInt16(at, n, true); return;
      case GGUFType.I32: this.view.setInt32(at, n, true); return;
      case GGUFType.F32: this.view.setFloat32(at, n, true); return;
      case GGUFType.U64: this.view.setBigUint64(at, BigInt(n), true); return;
      case GGUFType.I64: this.view.setBigInt64(at, BigInt(n), true); return;
      case GGUFType.F64: this.view.setFloat64(at, n, true); return;
      default: throw new Error(`cannot write GGUF value type ${type}`);
    }
  }
  pad(alignment: number): void {
    this.room((alignment - (this.length % alignment)) % alignment);
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Byte size of a tensor of type `type` with dims `ne`. */
export function ggmlByteLength(type: number, ne: readonly number[]): number {
  const t = GGML_TYPES.get(type);
  if (!t) throw new Error(`unknown ggml type ${type}`);
  return (ne.reduce((a, b) => a * b, 1) / t.blockSize) * t.blockBytes;
}

/**
 * The bytes of a GGUF v3 file up to its tensor data (padded to the alignment), and where each tensor's
 * data starts relative to the data section. Tensors follow in `tensors` order, each padded to the alignment.
 */
export function ggufHeaderBytes(entries: readonly GGUFEntry[], tensors: readonly GGUFTensorSpec[], alignment = DEFAULT_ALIGNMENT): { bytes: Uint8Array; offsets: number[] } {
  const w = new ByteWriter();
  w.u32(MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  w.u64(entries.length);
  for (const e of entries) {
    w.scalar(GGUFType.String, e.key);
    w.u32(e.type);
    if (e.type !== GGUFType.Array) {
      w.scalar(e.type, e.value);
      continue;
    }
    w.u32(e.itemType);
    w.u64(e.value.length);
    for (let i = 0; i < e.value.length; i++) w.scalar(e.itemType, e.value[i]!);
  }
  const offsets: number[] = [];
  let at = 0;
  for (const t of tensors) {
    w.scalar(GGUFType.String, t.name);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    w.u32(t.type);
    w.u64(at);
    offsets.push(at);
    at += Math.ceil(ggmlByteLength(t.type, t.ne) / alignment) * alignment;
  }
  w.pad(alignment);
  return { bytes: w.bytes(), offsets };
}
