// What an encoded image is, read from its first bytes: format and size, so that a gigantic image is
// refused before any decoder allocates its pixels, plus WebP's EXIF chunk (the EXIF library reads
// JPEG and PNG itself, but not WebP's RIFF container).
import { InputError } from "../../errors.js";

export type ImageFormat = "png" | "jpeg" | "webp";

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** The TIFF-structured EXIF payload of a WebP file, when it has one. */
  webpExif?: Uint8Array;
}

const truncated = (format: string) => new InputError(`the ${format} image is truncated or corrupt (its header ends early)`);

function startsWith(bytes: Uint8Array, sig: readonly number[], at = 0): boolean {
  return sig.every((b, i) => bytes[at + i] === b);
}

/** Format and size of an encoded image; throws InputError for anything that is not a PNG, JPEG or WebP. */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    // The IHDR chunk comes first: length, "IHDR", width, height (big-endian).
    if (bytes.length < 24 || !startsWith(bytes, [0x49, 0x48, 0x44, 0x52], 12)) throw truncated("PNG");
    return { format: "png", width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (startsWith(bytes, [0xff, 0xd8])) return jpegHeader(bytes, view);
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) return webpHeader(bytes, view);
  throw new InputError("not a supported image: expected PNG, JPEG or WebP data");
}

/** Walks the JPEG markers up to the first start-of-frame, which holds the size. */
function jpegHeader(bytes: Uint8Array, view: DataView): ImageHeader {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw new InputError("the JPEG image is corrupt (bad marker)");
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    const length = view.getUint16(at + 2);
    // SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (at + 9 > bytes.length) break;
      return { format: "jpeg", height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    }
    at += 2 + length;
  }
  throw truncated("JPEG");
}

/** RIFF chunks: VP8 (lossy), VP8L (lossless) or VP8X (extended, with the canvas size and maybe EXIF). */
function webpHeader(bytes: Uint8Array, view: DataView): ImageHeader {
  let size: { width: number; height: number } | undefined;
  let webpExif: Uint8Array | undefined;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const fourcc = String.fromCharCode(...bytes.subarray(at, at + 4));
    const length = view.getUint32(at + 4, true);
    const body = at + 8;
    if (fourcc === "VP8X" && body + 10 <= bytes.length) {
      size = { width: 1 + (view.getUint32(body + 4, true) & 0xffffff), height: 1 + (view.getUint32(body + 7, true) & 0xffffff) };
    } else if (fourcc === "VP8 " && !size && body + 10 <= bytes.length) {
      size = { width: view.getUint16(body + 6, true) & 0x3fff, height: view.getUint16(body + 8, true) & 0x3fff };
    } else if (fourcc === "VP8L" && !size && body + 5 <= bytes.length) {
      const bits = view.getUint32(body + 1, true);
      size = { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
    } else if (fourcc === "EXIF" && body + length <= bytes.length) {
      const payload = bytes.subarray(body, body + length);
      // Some writers keep JPEG's "Exif\0\0" prefix in front of the TIFF header.
      webpExif = startsWith(payload, [0x45, 0x78, 0x69, 0x66, 0, 0]) ? payload.subarray(6) : payload;
    }
    at = body + length + (length & 1);
  }
  if (!size) throw truncated("WebP");
  return { format: "webp", ...size, webpExif };
}
