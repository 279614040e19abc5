// The fast CPU backend: WebAssembly SIMD kernels (assembly/kernels.ts) on every core. Weights live in
// shared WebAssembly memories from the moment they are loaded (`weightStorage`), as many 4 GB memories
// as they need; each memory keeps a scratch area where a product's input and output pass through.
// Attention runs in a separate work memory that holds no weights. Ops without a kernel here run
// through the reference implementation this class extends.
import type { AttentionShape, Conv2dShape, KeyValues } from "../backend.js";
import { DTYPE_BYTES, isQuantized, QBLOCK, widen, type DType, type Tensor } from "../dtype.js";
import { geluF16Table, type GeluNumerics } from "../gelu-f16-table.js";
import { ReferenceBackend, ropeTables } from "../reference.js";
import { Dispatcher, type KernelWorkers, type OpName } from "./threads.js";

const PAGE = 65536;
const MAX_PAGES = 65536;
/** Bytes at the start of every memory that belong to the module (its static data). */
const RESERVED = 65536;
/** Scratch bytes of a weight memory: products with larger inputs and outputs run in token chunks. */
const SCRATCH = 64 << 20;
/** Bytes of each thread's own scratch in a product (partial sums and the loops' constants: assembly/kernels.ts). */
const PRODUCT_SCRATCH = 192;
const ALIGN = 64;
/** Products smaller than this (multiply-adds) run on the calling thread alone: dispatch would cost more. */
const THREADED_MIN_WORK = 1 << 16;
/**
 * Multiply-adds per chunk of a long call (about a tenth of a millisecond on one core), so that no thread
 * waits long for another's last chunk; a product's chunks have at least CHUNK_ROWS rows (the kernels'
 * tile) and start on a multiple of its weight's `grain` (GROUPED).
 */
const CHUNK_WORK = 1 << 21;
const CHUNK_ROWS = 32;

const MATMUL: Record<DType, OpName> = { f32: "matmulF32", bf16: "matmulBF16", f16: "matmulF16", q8_0: "matmulQ8", q4_0: "matmulQ4" };
/**
 * Products read rows in interleaved groups (assembly/kernels.ts): rows per group, and the kernel that
 * rearranges a tensor in place (rows past the last whole group keep their own layout). `grain`: rows
 * per group times the groups a decode step reads side by side (the streams); a chunk of that many rows
 * leaves no group to be read on its own, which is slower (Q4_0 512 × 2048 from memory: ~62 against
 * ~75 µs, 2048 × 2048: ~160–195 against ~195–225).
 */
const GROUPED: Record<DType, { rows: number; grain: number; op: OpName }> = {
  q4_0: { rows: 4, grain: 4 * 6, op: "interleaveQ4" },
  q8_0: { rows: 8, grain: 8 * 4, op: "interleaveQ8" },
  f32: { rows: 8, grain: 8 * 2, op: "interleaveFloats" },
  bf16: { rows: 8, grain: 8 * 2, op: "interleaveHalves" },
  f16: { rows: 8, grain: 8 * 2, op: "interleaveHalves" },
};

const aligned = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN;

class KernelMemory {
  readonly buffer: SharedArrayBuffer;
  top = RESERVED;
  /** Released areas, sorted by offset, neighbours merged (first fit: few, long-lived areas). */
  private readonly free: { at: number; bytes: number }[] = [];
  constructor(readonly memory: WebAssembly.Memory, readonly index: number) {
    this.buffer = memory.buffer as unknown as SharedArrayBuffer;
  }
  /** Offset of `bytes` bytes, or undefined when the memory is full. */
  alloc(bytes: number): number | undefined {
    const size = aligned(bytes);
    const i = this.free.findIndex((f) => f.bytes >= size);
    if (i >= 0) {
      const f = this.free[i]!;
      const at = f.at;
      if (f.bytes === size) this.free.splice(i, 1);
      else Object.assign(f, { at: f.at + size, bytes: f.bytes - size });
      return at;
    }
    if (this.top + size > this.buffer.byteLength) return undefined;
    const at = this.top;
    this.top += size;
    return at;
  }
  release(at: number, bytes: number): void {
    const size = aligned(bytes);
    let i = this.free.findIndex((f) => f.at > at);
    if (i < 0) i = this.free.length;
    this.free.splice(i, 0, { at, bytes: size });
    for (const k of [i, i - 1]) {
      const a = this.free[k];
      const b = this.free[k + 1];
      if (a && b && a.at + a.bytes === b.at) {
        a.bytes += b.bytes;
        this.free.splice(k + 1, 1);
      }
    }
  }
  f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.buffer, offset, length);
  }
}

/** A copy of a KV cache in the work memory, extended as the cache grows (KeyValues.version says when it must be redone). */
interface Mirror {
  version: number;
  length: number;
  capacity: number;
  at: number; // keys [capacity, width], then values, then positions
}

interface Located {
  memory: KernelMemory;
  offset: number;
}

export class WasmBackend extends ReferenceBackend {
  override readonly name: string;
  private readonly dispatcher: Dispatcher;
  private readonly memories: KernelMemory[] = [];
  private readonly weightMemories: { memory: KernelMemory; scratch: number; productScratch: number }[] = [];
  private readonly work: KernelMemory;
  private workScratch = { offset: 0, bytes: 0 };
  private readonly copies = new WeakMap<Tensor, Located>();
  private readonly interleavedWeights = new WeakSet<Tensor>();
  private readonly taps = new WeakMap<Tensor, Float32Array>();
  private readonly vectors = new WeakMap<Float32Array, number>();
  private readonly mirrors = new WeakMap<KeyValues, Mirror>();
  private readonly ropeCache = new WeakMap<Int32Array, { positions: Int32Array; tables: Map<string, { cos: Float32Array; sin: Float32Array }> }>();
  private readonly released = new FinalizationRegistry<{ at: number; bytes: number }>(({ at, bytes }) => this.work.release(at, bytes));
  private readonly quantizedBytes: (cols: number, tokens: number, wide: number) => number;

  constructor(module: WebAssembly.Module, workers: KernelWorkers | undefined, readonly relaxed: boolean) {
    super();
    this.dispatcher = new Dispatcher(module, workers);
    this.name = `wasm-${relaxed ? "relaxed-simd" : "simd"}×${this.threads}`;
    this.work = this.newMemory();
    this.quantizedBytes = this.dispatcher.exports(0).quantizedBytes as (cols: number, tokens: number, wide: number) => number;
  }

  get threads(): number {
    return this.dispatcher.threads;
  }

  /**
   * Median microseconds of a call that every thread joins but that computes next to nothing: what each
   * of the hundreds of ops of a decode step pays to start the workers and wait for the last one.
   */
  dispatchMicros(calls = 2000): number {
    const [at] = this.stage([new Float32Array(this.threads)]) as [number];
    const times = new Float64Array(calls);
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      this.dispatcher.run({ op: "softcap", memory: this.work.index, args: [at, 1, 0, this.threads], floats: [1] }, true);
      times[i] = performance.now() - t0;
    }
    return times.sort()[calls >> 1]! * 1000;
  }

  private newMemory(): KernelMemory {
    const memory = new WebAssembly.Memory({ initial: MAX_PAGES, maximum: MAX_PAGES, shared: true });
    const m = new KernelMemory(memory, this.dispatcher.attach(memory));
    this.memories.push(m);
    return m;
  }

  override weightStorage(bytes: number): Uint8Array {
    if (bytes > MAX_PAGES * PAGE - RESERVED - SCRATCH - aligned(this.threads * PRODUCT_SCRATCH) - ALIGN) throw new RangeError(`a ${bytes}-byte tensor does not fit in one WebAssembly memory`);
    const last = this.weightMemories.at(-1);
    let at = last?.memory.alloc(bytes);
    let m = last?.memory;
    if (at === undefined) {
      m = this.newMemory();
      this.weightMemories.push({ memory: m, scratch: m.alloc(SCRATCH)!, productScratch: m.alloc(this.threads * PRODUCT_SCRATCH)! });
      at = m.alloc(bytes)!;
    }
    return new Uint8Array(m!.buffer, at, bytes);
  }

  /** Where a tensor's data sits in a kernel memory; tensors from elsewhere are copied in once. */
  private locate(w: Tensor): Located {
    const memory = this.memories.find((m) => m.buffer === w.data.buffer);
    if (memory) return { memory, offset: w.data.byteOffset };
    let copy = this.copies.get(w);
    if (!copy) {
      const bytes = this.weightStorage(w.data.byteLength);
      bytes.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
      copy = { memory: this.memories.find((m) => m.buffer === bytes.buffer)!, offset: bytes.byteOffset };
      this.copies.set(w, copy);
    }
    return copy;
  }

  /** A weight read in groups (GROUPED) is interleaved in place before its first product. */
  private interleaved(w: Tensor, { memory, offset }: Located): void {
    const grouping = GROUPED[w.dtype];
    if (this.interleavedWeights.has(w)) return;
    const rowBytes = w.shape[1]! * DTYPE_BYTES[w.dtype];
    const scratch = this.weightMemories.find((m) => m.memory === memory)!.scratch;
    const groups = Math.floor(w.shape[0]! / grouping.rows);
    // Each thread rearranges a group at a time through `stride` bytes of the scratch area: as many threads as fit.
    const stride = grouping.rows * rowBytes;
    if (stride > SCRATCH) throw new RangeError(`a [${w.shape.join(", ")}] ${w.dtype} weight has rows too long for the scratch area`);
    this.dispatcher.run({ op: grouping.op, memory: memory.index, args: [offset, rowBytes, scratch, 0, groups], scratch: { arg: 2, stride } }, groups > 1 && this.threads * stride <= SCRATCH);
    this.interleavedWeights.add(w);
  }

  /** Row `index` of a weight as float32; a row of an interleaved group is gathered back out of it. */
  override row(w: Tensor, index: number, out: Float32Array): void {
    // A weight copied in from elsewhere had its copy interleaved: its own bytes are as they were.
    const groupRows = GROUPED[w.dtype].rows;
    if (!this.interleavedWeights.has(w) || this.copies.has(w) || index >= w.shape[0]! - (w.shape[0]! % groupRows)) return super.row(w, index, out);
    const cols = w.shape[1]!;
    if (w.dtype === "q4_0" || w.dtype === "q8_0") return super.row({ dtype: w.dtype, shape: [1, cols], data: this.quantizedRow(w, index) }, 0, out);
    // Input i of a float group holds 8 values: rows in order (F32) or in the order 0 4 1 5 2 6 3 7.
    const src = w.data;
    const row = w.dtype === "f32" ? new Float32Array(cols) : new Uint16Array(cols);
    const at = (index >> 3) * 8 * cols + (w.dtype === "f32" ? index & 7 : (index & 3) * 2 + ((index >> 2) & 1));
    for (let i = 0; i < cols; i++) row[i] = src[at + 8 * i]!;
    super.row({ dtype: w.dtype, shape: [1, cols], data: row }, 0, out);
  }

  /** Row `index` of an interleaved Q4_0 or Q8_0 weight, gathered back into GGUF's block layout. */
  private quantizedRow(w: Tensor, index: number): Uint8Array {
    const q8 = w.dtype === "q8_0";
    const [groupRows, blockBytes, chunk] = q8 ? [8, 34, 2] : [4, 18, 4];
    const rowBytes = (w.shape[1]! / QBLOCK) * blockBytes;
    const bytes = w.data as Uint8Array;
    const row = new Uint8Array(rowBytes);
    const lane = index % groupRows;
    const group = (index - lane) * rowBytes;
    // Block b of a group: [the rows' 2-byte scales][chunks of `chunk` bytes of each row] (assembly/kernels.ts).
    const chunksAt = 2 * groupRows;
    for (let b = 0; b < rowBytes / blockBytes; b++) {
      const src = group + b * groupRows * blockBytes;
      row[b * blockBytes] = bytes[src + 2 * lane]!;
      row[b * blockBytes + 1] = bytes[src + 2 * lane + 1]!;
      for (let a = 0; a < (blockBytes - 2) / chunk; a++) {
        const from = src + chunksAt + a * groupRows * chunk + lane * chunk;
        row.set(bytes.subarray(from, from + chunk), b * blockBytes + 2 + a * chunk);
      }
    }
    return row;
  }

  override matmul(x: Float32Array, tokens: number, w: Tensor, rows = w.shape[0]!, cols?: number): Float32Array {
    const inDim = w.shape[1]!;
    const n = cols ?? inDim;
    if (x.length !== tokens * n) throw new Error(`matmul: input has ${x.length} values, expected ${tokens}×${n}`);
    if (rows > w.shape[0]! || n > inDim) throw new RangeError(`matmul: a ${rows}×${n} slice of a [${w.shape.join(", ")}] weight`);
    const quantized = isQuantized(w.dtype);
    if (quantized && n % QBLOCK !== 0) throw new RangeError(`matmul: ${w.dtype} slices need whole blocks of ${QBLOCK} inputs, got ${n}`);
    const located = this.locate(w);
    this.interleaved(w, located);
    const { memory, offset } = located;
    const { scratch, productScratch } = this.weightMemories.find((m) => m.memory === memory)!;
    const rowBytes = inDim * DTYPE_BYTES[w.dtype];
    // Q8_0 products take their activations as int16 (assembly/kernels.ts).
    const wide = w.dtype === "q8_0";
    const qBytes = (m: number) => (quantized ? this.quantizedBytes(n, m, wide ? 1 : 0) : 0);
    // Tokens per pass through the scratch area (quantized activations may pad a few tokens more).
    const bytes = (m: number) => m * (n + rows) * 4 + qBytes(m);
    let chunk = Math.floor(SCRATCH / bytes(1));
    while (chunk > 0 && bytes(chunk) > SCRATCH) chunk--;
    if (chunk === 0) throw new RangeError(`matmul: a ${rows}×${n} product does not fit the scratch area`);
    const out = new Float32Array(tokens * rows);
    const threaded = rows * n * tokens >= THREADED_MIN_WORK;
    for (let t0 = 0; t0 < tokens; t0 += chunk) {
      const m = Math.min(chunk, tokens - t0);
      const xAt = scratch;
      const qAt = xAt + m * n * 4;
      const yAt = qAt + qBytes(m);
      memory.f32(xAt, m * n).set(x.subarray(t0 * n, (t0 + m) * n));
      let input = xAt;
      if (quantized) {
        this.dispatcher.run({ op: "quantize", memory: memory.index, args: [xAt, n, m, qAt, wide ? 1 : 0, 0, m] }, m * n >= THREADED_MIN_WORK);
        input = qAt;
      }
      const work = rows * n * m;
      this.dispatcher.run(
        {
          op: MATMUL[w.dtype],
          memory: memory.index,
          args: [offset, rowBytes, w.shape[0]!, input, m, n, yAt, rows, productScratch, 0, rows],
          scratch: { arg: 8, stride: PRODUCT_SCRATCH },
          chunks: Math.min(Math.ceil(rows / CHUNK_ROWS), Math.ceil(work / CHUNK_WORK)),
          grain: GROUPED[w.dtype].grain,
        },
        threaded,
      );
      out.set(memory.f32(yAt, m * rows), t0 * rows);
    }
    return out;
  }

  override attention(q: Float32Array, positions: Int32Array, kv: KeyValues, s: AttentionShape): Float32Array {
    if (s.headDim % 4 !== 0) return super.attention(q, positions, kv, s);
    const n = kv.length;
    const kvWidth = s.numKvHeads * s.headDim;
    const items = positions.length * s.numHeads;
    const [kAt, vAt, kPosAt] = this.mirror(kv, kvWidth);
    const [qAt, qPosAt, outAt, scoresAt] = this.stage([q, positions, q.length, this.threads * n]) as [number, number, number, number];
    this.dispatcher.run(
      {
        op: "attention",
        memory: this.work.index,
        args: [qAt, qPosAt, kAt, vAt, kPosAt, n, s.numHeads, s.numKvHeads, s.headDim, s.scale, s.window, outAt, scoresAt, 0, items],
        floats: [9],
        scratch: { arg: 12, stride: n * 4 },
        chunks: Math.ceil((n * items * s.headDim) / CHUNK_WORK),
      },
      items > 1 && n * items * s.headDim >= THREADED_MIN_WORK,
    );
    return Float32Array.from(this.work.f32(outAt, q.length));
  }

  override rope(x: Float32Array, heads: number, headDim: number, positions: Int32Array, theta: number): void {
    const { cos, sin } = this.ropeTables(positions, headDim, theta);
    const [xAt, cosAt, sinAt] = this.stage([x, cos, sin]) as [number, number, number];
    const items = positions.length * heads;
    this.dispatcher.run({ op: "rope", memory: this.work.index, args: [xAt, heads, headDim, cosAt, sinAt, 0, items] }, x.length >= THREADED_MIN_WORK);
    x.set(this.work.f32(xAt, x.length));
  }

  /**
   * RoPE's tables for a step's positions, made once: every layer's queries and keys share them (one
   * per θ). They are kept with the positions they were made for, in case the array is reused.
   */
  private ropeTables(positions: Int32Array, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
    let cached = this.ropeCache.get(positions);
    if (!cached || cached.positions.length !== positions.length || cached.positions.some((p, i) => p !== positions[i])) {
      this.ropeCache.set(positions, (cached = { positions: positions.slice(), tables: new Map() }));
    }
    const key = `${theta}/${headDim}`;
    let tables = cached.tables.get(key);
    if (!tables) cached.tables.set(key, (tables = ropeTables(positions, headDim, theta)));
    return tables;
  }

  override rmsNorm(x: Float32Array, width: number, weight: Float32Array | null, eps: number, out = new Float32Array(x.length)): Float32Array {
    const [xAt] = this.stage([x]) as [number];
    const weightAt = weight ? this.resident(weight) : 0;
    this.dispatcher.run({ op: "rmsNorm", memory: this.work.index, args: [xAt, width, weightAt, eps, xAt, 0, x.length / width], floats: [3] }, x.length >= THREADED_MIN_WORK);
    out.set(this.work.f32(xAt, x.length));
    return out;
  }

  override altupPredict(x: Float32Array[], coefs: Float32Array, width: number): Float32Array[] {
    const n = x[0]!.length;
    const A = x.length;
    // Streams staged one after another (each part is padded alike, so the stride is fixed).
    const offsets = this.stage([...x, coefs, ...x.map(() => n)]);
    const tokens = n / width;
    const args = [offsets[0]!, offsets[A + 1]!, aligned(n * 4), A, width, offsets[A]!, 0, tokens];
    this.dispatcher.run({ op: "altupPredict", memory: this.work.index, args }, tokens > 1 && n * A * A >= THREADED_MIN_WORK);
    return this.streamsAt(offsets[A + 1]!, A, n);
  }

  override altupCorrect(predicted: Float32Array[], y: Float32Array, active: number, gains: Float32Array, width: number): Float32Array[] {
    const n = y.length;
    const A = predicted.length;
    const offsets = this.stage([...predicted, y, gains, ...predicted.map(() => n)]);
    const tokens = n / width;
    const args = [offsets[0]!, offsets[A + 2]!, aligned(n * 4), A, width, offsets[A]!, active, offsets[A + 1]!, 0, tokens];
    this.dispatcher.run({ op: "altupCorrect", memory: this.work.index, args }, tokens > 1 && n * A >= THREADED_MIN_WORK);
    return this.streamsAt(offsets[A + 2]!, A, n);
  }

  /** Copies of `count` streams of n floats staged one after another from `at`. */
  private streamsAt(at: number, count: number, n: number): Float32Array[] {
    return Array.from({ length: count }, (_, i) => this.work.f32(at + i * aligned(n * 4), n).slice());
  }

  override gaussianTopK(x: Float32Array, width: number, z: number): void {
    const [xAt] = this.stage([x]) as [number];
    this.dispatcher.run({ op: "gaussianTopK", memory: this.work.index, args: [xAt, width, z, 0, x.length / width], floats: [2] }, x.length >= THREADED_MIN_WORK && x.length > width);
    x.set(this.work.f32(xAt, x.length));
  }

  override softcap(x: Float32Array, cap: number): void {
    const [xAt] = this.stage([x]) as [number];
    this.dispatcher.run({ op: "softcap", memory: this.work.index, args: [xAt, cap, 0, x.length], floats: [1] }, x.length >= THREADED_MIN_WORK);
    x.set(this.work.f32(xAt, x.length));
  }

  override geluMul(gate: Float32Array, up: Float32Array, numerics: GeluNumerics = "exact"): void {
    const [gateAt, upAt] = this.stage([gate, up]) as [number, number];
    const job = numerics === "f16-table"
      ? { op: "geluMulF16Table" as const, memory: this.work.index, args: [gateAt, upAt, this.resident(geluF16Table()), 0, gate.length] }
      : { op: "geluMul" as const, memory: this.work.index, args: [gateAt, upAt, 0, gate.length] };
    this.dispatcher.run(job, gate.length >= THREADED_MIN_WORK);
    gate.set(this.work.f32(gateAt, gate.length));
  }

  override gelu(x: Float32Array): void {
    const [xAt] = this.stage([x]) as [number];
    this.dispatcher.run({ op: "gelu", memory: this.work.index, args: [xAt, 0, x.length] }, x.length >= THREADED_MIN_WORK);
    x.set(this.work.f32(xAt, x.length));
  }

  override depthwiseConv2d(x: Float32Array, w: Tensor, s: Conv2dShape): { out: Float32Array; height: number; width: number } {
    const [C, , kh, kw] = w.shape as [number, number, number, number];
    const { height: H, width: W, stride: [sh, sw], pad: [top, bottom, left, right] } = s;
    const height = Math.floor((H + top + bottom - kh) / sh) + 1;
    const width = Math.floor((W + left + right - kw) / sw) + 1;
    const n = height * width * C;
    const [xAt, wAt, outAt] = this.stage([x, this.tapMajor(w), n]) as [number, number, number];
    const args = [xAt, H, W, C, wAt, kh, kw, sh, sw, top, left, outAt, width, 0, height];
    this.dispatcher.run({ op: "depthwiseConv2d", memory: this.work.index, args }, n * kh * kw >= THREADED_MIN_WORK);
    return { out: this.work.f32(outAt, n).slice(), height, width };
  }

  /** A depthwise weight [C, 1, kh, kw] as float32 taps [kh·kw, C], made once per weight. */
  private tapMajor(w: Tensor): Float32Array {
    let taps = this.taps.get(w);
    if (!taps) {
      const [C, , kh, kw] = w.shape as [number, number, number, number];
      const wide = new Float32Array(C * kh * kw);
      widen(w, 0, wide.length, wide);
      taps = new Float32Array(wide.length);
      for (let c = 0; c < C; c++) for (let t = 0; t < kh * kw; t++) taps[t * C + c] = wide[c * kh * kw + t]!;
      this.taps.set(w, taps);
    }
    return taps;
  }

  /** Copies arrays into the work memory (a number reserves that many 4-byte slots); returns their offsets. */
  private stage(parts: (Float32Array | Int32Array | number)[]): number[] {
    const bytes = parts.map((p) => aligned((typeof p === "number" ? p : p.length) * 4));
    let at = this.workArea(bytes.reduce((a, b) => a + b, 0));
    return parts.map((p, i) => {
      const offset = at;
      if (p instanceof Float32Array) this.work.f32(offset, p.length).set(p);
      else if (p instanceof Int32Array) new Int32Array(this.work.buffer, offset, p.length).set(p);
      at += bytes[i]!;
      return offset;
    });
  }

  /** Offsets of keys, values and positions of a KV cache mirrored in the work memory, brought up to date. */
  private mirror(kv: KeyValues, width: number): [number, number, number] {
    let m = this.mirrors.get(kv);
    const n = kv.length;
    if (m && (m.version !== kv.version || kv.version === undefined || m.capacity < n)) {
      if (m.capacity < n) {
        this.released.unregister(m);
        this.work.release(m.at, m.capacity * (2 * width + 1) * 4);
        m = undefined;
      } else m.length = 0;
    }
    if (!m) {
      const capacity = Math.max(64, 2 * n);
      const bytes = capacity * (2 * width + 1) * 4;
      const at = this.work.alloc(bytes);
      if (at === undefined) throw new RangeError("the work memory is full: too many or too long KV caches");
      m = { version: kv.version ?? 0, length: 0, capacity, at };
      this.mirrors.set(kv, m);
      this.released.register(kv, { at, bytes }, m);
    }
    const kAt = m.at;
    const vAt = kAt + m.capacity * width * 4;
    const pAt = vAt + m.capacity * width * 4;
    if (m.length < n) {
      this.work.f32(kAt + m.length * width * 4, (n - m.length) * width).set(kv.keys.subarray(m.length * width, n * width));
      this.work.f32(vAt + m.length * width * 4, (n - m.length) * width).set(kv.values.subarray(m.length * width, n * width));
      new Int32Array(this.work.buffer, pAt + m.length * 4, n - m.length).set(kv.positions.subarray(m.length, n));
    }
    m.length = n;
    m.version = kv.version ?? 0;
    return [kAt, vAt, pAt];
  }

  /** A long-lived vector (a norm weight) copied into the work memory once. */
  private resident(v: Float32Array): number {
    let at = this.vectors.get(v);
    if (at === undefined) {
      at = this.work.alloc(v.length * 4);
      if (at === undefined) throw new RangeError("the work memory is full");
      this.work.f32(at, v.length).set(v);
      this.vectors.set(v, at);
    }
    return at;
  }

  /** Scratch bytes in the work memory, grown (the old area released) when a call needs more. */
  private workArea(bytes: number): number {
    if (bytes > this.workScratch.bytes) {
      const size = Math.max(bytes, 2 * this.workScratch.bytes, 1 << 20);
      if (this.workScratch.bytes > 0) this.work.release(this.workScratch.offset, this.workScratch.bytes);
      const offset = this.work.alloc(size);
      if (offset === undefined) throw new RangeError(`an op needs ${bytes} bytes of scratch, more than a WebAssembly memory holds`);
      this.workScratch = { offset, bytes: size };
    }
    return this.workScratch.offset;
  }

  override close(): void {
    this.dispatcher.close();
  }
}
