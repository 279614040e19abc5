// Image decoding and resizing against PIL (the reference's decoder and resize): PNG (RGBA, gray,
// 1-bit, gray + alpha, palette, 16-bit gray), JPEG (baseline, progressive 4:4:4, gray), WebP (lossy, lossless with alpha),
// EXIF orientations in all three containers, and the antialiased bilinear resize to 768 × 768, all
// compared by SHA-256 of the 8-bit RGB bytes (test/fixtures/images/make.py made the expected values).
// Then bad input: not an image, truncated files, zero and gigantic sizes, malformed raw pixels.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resampleBilinearU8 } from "../src/kernels/resize.js";
import { decodeImage, MAX_IMAGE_PIXELS } from "../src/model/vision/image-decode.js";
import "../src/node/image-codecs.js";
import { fixture } from "./helpers.js";

const expected = JSON.parse(readFileSync(fixture("images", "expected.json"), "utf8")) as {
  images: Record<string, { width: number; height: number; rgb_sha256: string; resized_sha256: string }>;
};
const bytes = (name: string) => new Uint8Array(readFileSync(fixture("images", name)));
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

for (const [name, want] of Object.entries(expected.images)) {
  test(`${name} decodes and resizes to 768 × 768 exactly as PIL does`, async () => {
    const img = await decodeImage(bytes(name));
    assert.deepEqual([img.width, img.height], [want.width, want.height]);
    assert.equal(sha(img.data), want.rgb_sha256, "decoded RGB bytes differ from PIL's");
    assert.equal(sha(resampleBilinearU8(img.data, img.width, img.height, 3, 768, 768)), want.resized_sha256, "resized bytes differ from PIL's");
  });
}

test("raw RGBA and RGB pixels are accepted, alpha dropped", async () => {
  const rgba = new Uint8ClampedArray([10, 20, 30, 0, 40, 50, 60, 255]);
  assert.deepEqual(Array.from((await decodeImage({ data: rgba, width: 2, height: 1, channels: 4 })).data), [10, 20, 30, 40, 50, 60]);
  const rgb = new Uint8Array([1, 2, 3]);
  assert.deepEqual(Array.from((await decodeImage({ data: rgb, width: 1, height: 1, channels: 3 })).data), [1, 2, 3]);
});

/** A PNG signature and IHDR chunk claiming `width` × `height` (no image data). */
function pngHeader(width: number, height: number): Uint8Array {
  const b = new Uint8Array(33);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const v = new DataView(b.buffer);
  v.setUint32(16, width);
  v.setUint32(20, height);
  b.set([8, 6, 0, 0, 0], 24);
  return b;
}

test("bad images give one clear error each", async () => {
  const fails = (item: unknown, re: RegExp) => assert.rejects(decodeImage(item), re);
  await fails(new TextEncoder().encode("hello, not an image"), /not a supported image: expected PNG, JPEG or WebP/);
  await fails(new Uint8Array(0), /not a supported image/);
  await fails(bytes("rgba.png").subarray(0, 20), /PNG image is truncated or corrupt/);
  await fails(bytes("large.png").subarray(0, 5000), /PNG image could not be decoded \(truncated or corrupt\)/);
  await fails(bytes("baseline.jpg").subarray(0, 800), /JPEG image is truncated/);
  await fails(bytes("baseline.jpg").subarray(0, 10), /JPEG image is truncated or corrupt/);
  await fails(bytes("lossy.webp").subarray(0, 300), /WebP image could not be decoded/);
  await fails(bytes("lossless.webp").subarray(0, 16), /WebP image is truncated or corrupt/);
  await fails(pngHeader(0, 10), /PNG image has a zero or invalid size \(0 × 10\)/);
  await fails(pngHeader(40000, 40000), new RegExp(`PNG image is too large: 40000 × 40000 = 1600000000 pixels \\(the limit is ${MAX_IMAGE_PIXELS}\\)`));
  await fails("picture.png", /an image must be encoded file bytes/);
  await fails({ data: new Uint8Array(5), width: 2, height: 1, channels: 3 }, /needs 6 bytes, got 5/);
  await fails({ data: new Uint8Array(2), width: 1, height: 1, channels: 2 }, /3 \(RGB\) or 4 \(RGBA\) channels/);
  await fails({ data: new Uint8Array(0), width: 0, height: 0, channels: 3 }, /raw image has a zero or invalid size/);
  await fails({ data: [1, 2, 3], width: 1, height: 1, channels: 3 }, /data must be a Uint8Array/);
});
