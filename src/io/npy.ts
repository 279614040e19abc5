// NumPy .npy (format 1.0/2.0/3.0), little-endian float32 / int32 / uint8 arrays, C order.
export type NpyArray =
  | { dtype: "<f4"; shape: number[]; data: Float32Array }
  | { dtype: "<i4"; shape: number[]; data: Int32Array }
  | { dtype: "|u1"; shape: number[]; data: Uint8Array };

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseNpy(bytes: Uint8Array, where = "npy"): NpyArray {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw new Error(`${where}: not a .npy file`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined || fortran) throw new Error(`${where}: unsupported .npy header ${header}`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  // Copy: the input may be a view into a larger (pooled) buffer at an unaligned offset.
  const body = Uint8Array.prototype.slice.call(bytes, start + headerLen).buffer;
  switch (descr) {
    case "<f4": return { dtype: descr, shape, data: new Float32Array(body, 0, n) };
    case "<i4": return { dtype: descr, shape, data: new Int32Array(body, 0, n) };
    case "|u1": return { dtype: descr, shape, data: new Uint8Array(body, 0, n) };
    default: throw new Error(`${where}: unsupported dtype ${descr}`);
  }
}

/** Encodes a float32 array of the given shape as a version 1.0 .npy file. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // Pad so that the data starts on a 64-byte boundary, ending the header with a newline.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
