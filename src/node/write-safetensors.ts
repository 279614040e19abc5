// Writes a safetensors file tensor by tensor, so a multi-gigabyte checkpoint never sits in memory.
import { closeSync, openSync, writeSync } from "node:fs";
import { safetensorsHeader, type TensorSpec } from "../checkpoint/safetensors.js";
import { DTYPE_BYTES, numel } from "../kernels/dtype.js";

export interface TensorSource extends TensorSpec {
  /** Produces the tensor's raw little-endian bytes, in one piece or in chunks. */
  bytes(): Iterable<Uint8Array>;
}

export function writeSafetensors(path: string, tensors: readonly TensorSource[]): void {
  const fd = openSync(path, "w");
  try {
    writeSync(fd, safetensorsHeader(tensors).bytes);
    for (const t of tensors) {
      let written = 0;
      for (const chunk of t.bytes()) {
        writeSync(fd, chunk);
        written += chunk.length;
      }
      const expected = numel(t.shape) * DTYPE_BYTES[t.dtype];
      if (written !== expected) throw new Error(`${path}: tensor ${t.name} produced ${written} bytes, expected ${expected}`);
    }
  } finally {
    closeSync(fd);
  }
}
