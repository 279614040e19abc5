// Node's implementation of the platform file interfaces: positional reads, never whole files.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import type { ModelFiles, RandomAccessFile } from "../io/random-access.js";

export class NodeFile implements RandomAccessFile {
  private fd: number | undefined;
  readonly size: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, "r");
    this.size = fstatSync(this.fd).size;
  }
  read(offset: number, dest: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.path}: file is closed`);
    if (offset < 0 || offset + dest.length > this.size) {
      throw new RangeError(`${this.path}: read of ${dest.length} bytes at offset ${offset} is past the end of the file (${this.size} bytes)`);
    }
    let done = 0;
    while (done < dest.length) {
      // readSync reads at most 2 GiB at a time.
      const chunk = Math.min(dest.length - done, 1 << 30);
      const n = readSync(this.fd, dest, done, chunk, offset + done);
      if (n === 0) throw new RangeError(`${this.path}: unexpected end of file at offset ${offset + done}`);
      done += n;
    }
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export class NodeModelFiles implements ModelFiles {
  constructor(readonly location: string) {}
  exists(name: string): boolean {
    return existsSync(join(this.location, name));
  }
  readText(name: string): string {
    return readFileSync(join(this.location, name), "utf8");
  }
  open(name: string): RandomAccessFile {
    return new NodeFile(join(this.location, name));
  }
}
