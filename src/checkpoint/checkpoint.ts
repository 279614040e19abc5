// What every checkpoint reader yields: a parsed config and a lazy map from canonical tensor name
// (the Hugging Face multimodal names, `model.language_model.…`) to bytes on disk. Nothing above this
// layer knows which file format the weights came from.
import { CheckpointError } from "../errors.js";
import type { RandomAccessFile } from "../io/random-access.js";
import { canHold, convertTensor, DTYPE_BYTES, heapStorage, numel, viewAs, widen, type DType, type Storage, type Tensor } from "../kernels/dtype.js";
import type { ModelConfig } from "../model/config.js";
import type { TensorEntry } from "./safetensors.js";

export class Checkpoint {
  private readonly byName = new Map<string, TensorEntry>();
  constructor(
    /** Where it came from, for messages. */
    readonly location: string,
    readonly config: ModelConfig,
    entries: readonly TensorEntry[],
    private readonly files: readonly RandomAccessFile[],
    /** generation_config.json, when the checkpoint has one. */
    readonly generationConfig?: Record<string, unknown>,
  ) {
    for (const e of entries) this.byName.set(e.name, e);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }
  names(): string[] {
    return [...this.byName.keys()];
  }
  /** The entry of a tensor, checked against the shape the architecture expects. */
  entry(name: string, shape?: readonly number[]): TensorEntry {
    const e = this.byName.get(name);
    if (!e) throw new CheckpointError(`${this.location}: tensor "${name}" is missing from the checkpoint`);
    if (shape && (shape.length !== e.shape.length || shape.some((d, i) => d !== e.shape[i]))) {
      throw new CheckpointError(
        `${this.location}: tensor "${name}" has shape [${e.shape.join(", ")}] but the config needs [${shape.join(", ")}]`,
      );
    }
    return e;
  }
  /**
   * Reads a whole tensor into `storage`, in `dtype` (default: as stored). A block-quantized dtype applies
   * only to matrices whose rows are whole blocks; others keep their stored dtype.
   */
  load(name: string, shape?: readonly number[], dtype?: DType, storage: Storage = heapStorage): Tensor {
    const e = this.entry(name, shape);
    const to = dtype && canHold(dtype, e.shape) ? dtype : e.dtype;
    if (to === e.dtype) return readEntry(e, storage);
    return convertTensor(readEntry(e), to, storage);
  }
  /**
   * Reads the top-left `rows × cols` block of a stored matrix (a MatFormer FFN prefix), like `load`:
   * a row prefix is one byte range, a column prefix one range per row.
   */
  loadBlock(name: string, shape: readonly number[], rows: number, cols: number, dtype?: DType, storage: Storage = heapStorage): Tensor {
    const e = this.entry(name, shape);
    const [storedRows, storedCols] = e.shape as [number, number];
    if (rows === storedRows && cols === storedCols) return this.load(name, shape, dtype, storage);
    if (rows > storedRows || cols > storedCols) throw new RangeError(`${name}: a ${rows}×${cols} block does not fit in [${e.shape.join(", ")}]`);
    const to = dtype && canHold(dtype, [rows, cols]) ? dtype : e.dtype;
    const elem = DTYPE_BYTES[e.dtype];
    const bytes = (to === e.dtype ? storage : heapStorage)(rows * cols * elem);
    if (cols === storedCols) e.file.read(e.offset, bytes);
    else for (let r = 0; r < rows; r++) e.file.read(e.offset + r * storedCols * elem, bytes.subarray(r * cols * elem, (r + 1) * cols * elem));
    const block: Tensor = { dtype: e.dtype, shape: [rows, cols], data: viewAs(e.dtype, bytes) };
    return to === e.dtype ? block : convertTensor(block, to, storage);
  }
  /** Reads a small tensor (a norm weight, a coefficient matrix) as float32. */
  loadF32(name: string, shape?: readonly number[]): Float32Array {
    return this.load(name, shape, "f32").data as Float32Array;
  }
  close(): void {
    for (const f of this.files) f.close();
  }
}

export function readEntry(e: TensorEntry, storage: Storage = heapStorage): Tensor {
  const bytes = storage(e.byteLength);
  e.file.read(e.offset, bytes);
  return { dtype: e.dtype, shape: e.shape, data: viewAs(e.dtype, bytes) };
}

/**
 * Row access to a 2-D tensor that stays on disk (the per-layer-embedding table: 262144 × L·256).
 * Each lookup reads one row by byte range and widens it to float32.
 */
export class DiskRows {
  private readonly rowBytes: number;
  private readonly raw: Uint8Array;
  constructor(private readonly e: TensorEntry) {
    this.rowBytes = (e.shape[1] ?? 1) * DTYPE_BYTES[e.dtype];
    this.raw = new Uint8Array(this.rowBytes);
  }
  get rows(): number {
    return this.e.shape[0]!;
  }
  get cols(): number {
    return numel(this.e.shape.slice(1));
  }
  /** Widens row `r` into `dst` (length = cols). */
  read(r: number, dst: Float32Array): void {
    if (r < 0 || r >= this.rows) throw new RangeError(`row ${r} of "${this.e.name}" is out of range [0, ${this.rows})`);
    this.e.file.read(this.e.offset + r * this.rowBytes, this.raw);
    widen({ dtype: this.e.dtype, shape: [this.cols], data: viewAs(this.e.dtype, this.raw) }, 0, this.cols, dst);
  }
}
