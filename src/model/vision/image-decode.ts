// Encoded image bytes (PNG, JPEG, WebP) or raw pixels → 8-bit RGB, as the reference's loader does it:
// the EXIF orientation applied, then PIL's convert("RGB") (alpha dropped, gray replicated, 16-bit
// samples cut to their high byte). PNG goes through a pure-JS decoder; JPEG and WebP through
// WebAssembly builds of mozjpeg and libwebp, which decode bit-for-bit like PIL's libjpeg-turbo and libwebp.
import exifr from "exifr";
import { convertIndexedToRgb, decode as decodePng } from "fast-png";
import decodeJpeg, { init as initJpeg } from "@jsquash/jpeg/decode.js";
import decodeWebp, { init as initWebp } from "@jsquash/webp/decode.js";
import { InputError } from "../../errors.js";
import { readImageHeader, type ImageFormat } from "./image-header.js";

/** 8-bit RGB pixels, row-major, 3 bytes a pixel. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Raw pixels as callers may pass them instead of file bytes. */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Images above this many pixels are refused before decoding (a 10000 × 10000 photo still passes). */
export const MAX_IMAGE_PIXELS = 100_000_000;

export type WasmCodec = "jpeg" | "webp";
/** A compiled WebAssembly.Module (typed loosely: the project's TypeScript lib has no WebAssembly types). */
export type WasmModule = object;
/**
 * Where the JPEG and WebP decoders get their WebAssembly. Without a loader the codec packages fetch
 * the .wasm beside their script (browsers, bundlers); Node cannot fetch files, so src/node/ sets one.
 */
let codecLoader: ((codec: WasmCodec) => Promise<WasmModule>) | undefined;
export function setCodecLoader(load: (codec: WasmCodec) => Promise<WasmModule>): void {
  codecLoader = load;
}

type CodecInit = (module?: WasmModule) => Promise<void>;
const ready: Partial<Record<WasmCodec, Promise<void>>> = {};
function codecReady(codec: WasmCodec): Promise<void> {
  const init = (codec === "jpeg" ? initJpeg : initWebp) as unknown as CodecInit;
  return (ready[codec] ??= (async () => init(codecLoader ? await codecLoader(codec) : undefined))());
}

function checkSize(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InputError(`${what} has a zero or invalid size (${width} × ${height})`);
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new InputError(`${what} is too large: ${width} × ${height} = ${width * height} pixels (the limit is ${MAX_IMAGE_PIXELS})`);
  }
}

/** An image item (file bytes or raw pixels) as 8-bit RGB. */
export async function decodeImage(item: unknown): Promise<RgbImage> {
  if (item instanceof Uint8Array) return decodeEncoded(item);
  if (isRawImage(item)) return fromRaw(item);
  throw new InputError("an image must be encoded file bytes (a Uint8Array of PNG, JPEG or WebP) or raw pixels {data, width, height, channels: 3 | 4}");
}

function isRawImage(x: unknown): x is RawImage {
  return typeof x === "object" && x !== null && "data" in x && "width" in x && "height" in x && "channels" in x;
}

function fromRaw(raw: RawImage): RgbImage {
  const { width, height, channels, data } = raw;
  checkSize(width, height, "the raw image");
  if (channels !== 3 && channels !== 4) throw new InputError(`a raw image must have 3 (RGB) or 4 (RGBA) channels, got ${String(channels)}`);
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) throw new InputError("a raw image's data must be a Uint8Array or Uint8ClampedArray");
  if (data.length !== width * height * channels) {
    throw new InputError(`a ${width} × ${height} raw image with ${channels} channels needs ${width * height * channels} bytes, got ${data.length}`);
  }
  return { data: toRgb(data, width * height, channels, 8), width, height };
}

const FORMAT_NAMES: Record<ImageFormat, string> = { png: "PNG", jpeg: "JPEG", webp: "WebP" };

async function decodeEncoded(bytes: Uint8Array): Promise<RgbImage> {
  const header = readImageHeader(bytes);
  const what = `the ${FORMAT_NAMES[header.format]} image`;
  checkSize(header.width, header.height, what);
  let image: RgbImage;
  try {
    image = header.format === "png" ? decodePngRgb(bytes) : await decodeWasm(header.format, bytes);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${what} could not be decoded (truncated or corrupt): ${e instanceof Error ? e.message : String(e)}`);
  }
  if (image.width !== header.width || image.height !== header.height) throw new InputError(`${what} could not be decoded (its size does not match its header)`);
  const orientation = await readOrientation(header.format === "webp" ? header.webpExif : bytes);
  return orient(image, orientation);
}

function decodePngRgb(bytes: Uint8Array): RgbImage {
  const png = decodePng(bytes, { checkCrc: true });
  const n = png.width * png.height;
  if (png.palette) return { data: toRgb(convertIndexedToRgb(png), n, png.palette[0]!.length, 8), width: png.width, height: png.height };
  const samples = png.depth < 8 ? unpackGray(png.data, png.width, png.height, png.depth) : png.data;
  return { data: toRgb(samples, n, png.channels, png.depth), width: png.width, height: png.height };
}

/** 1-, 2- and 4-bit gray samples, packed most significant first with each row starting on a byte. */
function unpackGray(packed: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (packed[y * rowBytes + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

async function decodeWasm(format: Exclude<ImageFormat, "png">, bytes: Uint8Array): Promise<RgbImage> {
  if (format === "jpeg" && !hasEndOfImage(bytes)) throw new InputError("the JPEG image is truncated (no end-of-image marker)");
  await codecReady(format);
  const buffer = bytes.slice().buffer;
  const decoded = (format === "jpeg" ? await decodeJpeg(buffer) : await decodeWebp(buffer)) as { data: Uint8ClampedArray; width: number; height: number };
  return { data: toRgb(decoded.data, decoded.width * decoded.height, 4, 8), width: decoded.width, height: decoded.height };
}

/** libjpeg fills a cut-off scan with gray and carries on; the reference (PIL) refuses such a file. */
function hasEndOfImage(bytes: Uint8Array): boolean {
  for (let i = bytes.length - 2; i >= 2; i--) if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  return false;
}

/**
 * PIL's convert("RGB"): gray is replicated, alpha dropped. 16-bit samples keep their high byte
 * (how PIL unpacks 16-bit RGB); 16-bit gray is clipped at 255, as PIL's I;16 → RGB conversion does.
 * Sub-byte gray samples are scaled to 0…255.
 */
function toRgb(src: ArrayLike<number>, pixels: number, channels: number, depth: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  const gray = channels <= 2;
  const sample = depth === 16 ? (gray ? (v: number) => Math.min(v, 255) : (v: number) => v >> 8) : depth < 8 ? (v: number) => (v * 255) / ((1 << depth) - 1) : (v: number) => v;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = sample(src[p * channels + (gray ? 0 : c)]!);
  }
  return out;
}

async function readOrientation(source: Uint8Array | undefined): Promise<number> {
  if (!source) return 1;
  try {
    const o = await exifr.orientation(source);
    return typeof o === "number" && o >= 1 && o <= 8 ? o : 1;
  } catch {
    return 1; // unreadable EXIF: PIL's exif_transpose leaves such an image as it is
  }
}

/**
 * Applies an EXIF orientation (1–8): the stored pixels are turned so the image appears upright,
 * as PIL's ImageOps.exif_transpose does.
 */
export function orient(img: RgbImage, orientation: number): RgbImage {
  if (orientation === 1) return img;
  const { width: W, height: H, data } = img;
  const swap = orientation >= 5;
  const width = swap ? H : W;
  const height = swap ? W : H;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // The stored pixel (sx, sy) that lands at (x, y) of the upright image.
      let sx: number, sy: number;
      switch (orientation) {
        case 2: [sx, sy] = [W - 1 - x, y]; break; // mirrored
        case 3: [sx, sy] = [W - 1 - x, H - 1 - y]; break; // rotated 180°
        case 4: [sx, sy] = [x, H - 1 - y]; break; // flipped
        case 5: [sx, sy] = [y, x]; break; // transposed
        case 6: [sx, sy] = [y, H - 1 - x]; break; // rotated 90° clockwise to view
        case 7: [sx, sy] = [W - 1 - y, H - 1 - x]; break; // transversed
        default: [sx, sy] = [W - 1 - y, x]; break; // 8: rotated 90° counter-clockwise to view
      }
      const s = (sy * W + sx) * 3;
      const d = (y * width + x) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { data: out, width, height };
}
