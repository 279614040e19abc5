/**
 * Byte-range access to a file, the only thing checkpoint readers need from the platform.
 * Node implements it with positional reads (src/node/fs.ts); a browser can back it with a
 * Blob, an ArrayBuffer or an OPFS sync access handle. Reads are synchronous so that model code can
 * fetch a row of the per-layer-embedding table in the middle of a forward pass.
 */
export interface RandomAccessFile {
  /** Name used in error messages. */
  readonly path: string;
  readonly size: number;
  /** Fills `dest` with the bytes at [offset, offset + dest.length); throws if they are not all there. */
  read(offset: number, dest: Uint8Array): void;
  close(): void;
}

/** The few file-system questions a model directory raises. */
export interface ModelFiles {
  /** Human-readable location (directory path) for messages. */
  readonly location: string;
  exists(name: string): boolean;
  readText(name: string): string;
  open(name: string): RandomAccessFile;
}

/** A RandomAccessFile over bytes already in memory (tests, browser uploads). */
export class MemoryFile implements RandomAccessFile {
  constructor(readonly path: string, private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  read(offset: number, dest: Uint8Array): void {
    if (offset < 0 || offset + dest.length > this.bytes.length) {
      throw new RangeError(`${this.path}: read of ${dest.length} bytes at offset ${offset} is past the end (${this.bytes.length} bytes)`);
    }
    dest.set(this.bytes.subarray(offset, offset + dest.length));
  }
  close(): void {}
}
