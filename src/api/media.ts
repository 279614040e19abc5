// Media in API requests: image URLs become the file bytes the image encoder takes, once the header
// shows a size the operator allows (nothing is decoded before that); base64 audio is decoded here, so
// that its length is checked before the request waits for the model.
import { Gemma3nError } from "../errors.js";
import { SAMPLE_RATE } from "../model/audio/features.js";
import { audioToPcm16k } from "../model/audio/input.js";
import { isWav, type PcmAudio } from "../model/audio/wav.js";
import { readImageHeader } from "../model/vision/image-header.js";
import { badRequest } from "./errors.js";

export interface MediaLimits {
  /** Most bytes of one image file. */
  maxImageBytes: number;
  /** Most pixels (width × height) of one image. */
  maxImagePixels: number;
  /** Longest audio clip in seconds (the feature extractor keeps the first 30 s). */
  maxAudioSeconds: number;
}

/** Fetches an http(s) image URL (given by the operator when remote images are allowed). */
export type FetchMedia = (url: string, maxBytes: number, signal?: AbortSignal) => Promise<Uint8Array>;

/** The bytes of an `image_url` part, checked against the limits. */
export async function imageBytes(url: string, param: string, limits: MediaLimits, fetchMedia?: FetchMedia, signal?: AbortSignal): Promise<Uint8Array> {
  let bytes: Uint8Array;
  if (/^data:/i.test(url)) {
    const { mime, data } = parseDataUrl(url, param);
    if (!mime.startsWith("image/")) throw badRequest(`${param}: a data URL of type ${mime || "(none)"} is not an image`, param);
    if (data.length * 0.75 > limits.maxImageBytes + 3) throw tooLarge(param, limits.maxImageBytes);
    bytes = decodeBase64(data, param);
  } else if (/^https?:\/\//i.test(url)) {
    if (!fetchMedia) {
      throw badRequest(`${param}: this server does not fetch image URLs (the operator can allow it); send the image as a data URL`, param, "image_url_not_allowed");
    }
    try {
      bytes = await fetchMedia(url, limits.maxImageBytes, signal);
    } catch (e) {
      signal?.throwIfAborted();
      throw badRequest(`${param}: could not fetch ${url}: ${(e as Error).message}`, param);
    }
  } else {
    throw badRequest(`${param}: expected a data URL (data:image/png;base64,…) or an http(s) URL`, param);
  }
  if (bytes.length > limits.maxImageBytes) throw tooLarge(param, limits.maxImageBytes);
  let size: { width: number; height: number };
  try {
    size = readImageHeader(bytes);
  } catch (e) {
    throw inputError(e, param);
  }
  if (size.width * size.height > limits.maxImagePixels) {
    throw badRequest(`${param}: the image is ${size.width}×${size.height}, more than the ${limits.maxImagePixels} pixels this server accepts`, param);
  }
  return bytes;
}

/**
 * The samples of an `input_audio` part (WAV, MP3 or any format the audio decoder reads, whatever
 * `format` says), checked against the limits.
 */
export async function audioSamples(data: string, param: string, limits: MediaLimits): Promise<PcmAudio> {
  const bytes = decodeBase64(data, `${param}.data`);
  // Compressed audio is checked by size first (no codec needs more than 40 kB per second), so that a
  // small request cannot decode into hours of samples.
  if (!isWav(bytes) && bytes.length > limits.maxAudioSeconds * 40_000 + 4096) {
    throw badRequest(`${param}: ${bytes.length} bytes of compressed audio are more than a ${limits.maxAudioSeconds} s clip needs`, param);
  }
  let pcm: Float32Array;
  try {
    pcm = await audioToPcm16k(bytes);
  } catch (e) {
    throw inputError(e, param);
  }
  const seconds = pcm.length / SAMPLE_RATE;
  if (seconds > limits.maxAudioSeconds) {
    throw badRequest(`${param}: the audio lasts ${seconds.toFixed(1)} s, longer than the ${limits.maxAudioSeconds} s this server accepts`, param);
  }
  return { pcm, sampleRate: SAMPLE_RATE };
}

/** A decoder's complaint about the user's file, as a 400 that names the part. */
function inputError(e: unknown, param: string): unknown {
  return e instanceof Gemma3nError ? badRequest(`${param}: ${e.message}`, param) : e;
}

function parseDataUrl(url: string, param: string): { mime: string; data: string } {
  const comma = url.indexOf(",");
  const header = comma < 0 ? "" : url.slice(5, comma);
  if (comma < 0 || !/;base64$/i.test(header)) throw badRequest(`${param}: only base64 data URLs are supported (data:<type>;base64,<data>)`, param);
  return { mime: header.slice(0, -";base64".length).toLowerCase(), data: url.slice(comma + 1) };
}

function decodeBase64(data: string, param: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(data);
  } catch {
    throw badRequest(`${param}: not valid base64`, param);
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const tooLarge = (param: string, max: number) => badRequest(`${param}: the image is larger than the ${max} bytes this server accepts`, param);
