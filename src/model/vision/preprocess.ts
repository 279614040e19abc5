// The reference image processor (SigLIP's, as Gemma 3n configures it; spec §1.1): stretch to
// 768 × 768 with PIL's antialiased bilinear filter on 8-bit pixels, then scale to [0, 1]. No
// mean/std normalisation, no crop, no padding.
import { resampleBilinearU8, type FeatureMap } from "../../kernels/resize.js";
import type { RgbImage } from "./image-decode.js";

/** The processor's fixed input size. */
export const IMAGE_SIZE = 768;
/** The processor's rescale_factor, 1/255, applied in float64 and rounded to float32. */
const RESCALE = 0.00392156862745098;

/** Pixel values [size, size, 3] (channels last) of a decoded image. */
export function pixelValues(img: RgbImage, size = IMAGE_SIZE): FeatureMap {
  const rgb = resampleBilinearU8(img.data, img.width, img.height, 3, size, size);
  const data = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) data[i] = rgb[i]! * RESCALE;
  return { data, height: size, width: size, channels: 3 };
}
