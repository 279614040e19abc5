// Images and audio in a prompt. The chat template renders one placeholder token per media part; the
// processor expands it into begin-of-media, N soft-token placeholders and end-of-media (wrapped in
// blank lines), the text is tokenized, and the encoder's output embeddings replace the placeholders'
// token embeddings in order. Spec: vision-audio.md §3, text-decoder.md §4.2.
import { InputError } from "../errors.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import type { ModelConfig } from "./config.js";
import type { Gemma3n } from "./gemma3n.js";

export type MediaKind = "image" | "audio";

/** Embeddings that replace token embeddings at some positions of a sequence. */
export interface SoftTokens {
  positions: number[];
  /** [positions.length, hidden] */
  values: Float32Array;
}

/** Turns one media item into language-model input embeddings. */
export interface MediaEncoder {
  readonly kind: MediaKind;
  /** Embeddings for one item: [tokensPerItem, hidden] (fewer rows are padded by the encoder itself). */
  encode(item: unknown): Promise<Float32Array>;
  /** All items of one prompt at once, for encoders whose reference batches them (audio pads clips to the longest). */
  encodeAll?(items: unknown[]): Promise<Float32Array[]>;
}

/** Builds the encoder of a media kind from the checkpoint, when a prompt first needs it. */
export type MediaEncoderFactory = (model: Gemma3n) => MediaEncoder;
/** The media encoders this runtime has (each encoder module registers itself here). */
export const mediaEncoderFactories: Partial<Record<MediaKind, MediaEncoderFactory>> = {};

/** The ids a media kind uses, from the config. */
export interface MediaIds {
  placeholder: number;
  begin: number;
  end: number;
  tokensPerItem: number;
}

export function mediaIds(config: ModelConfig, kind: MediaKind): MediaIds | undefined {
  const t = config.tokens;
  const [placeholder, begin, end, n] = kind === "image"
    ? [t.image, t.boi, t.eoi, config.visionSoftTokensPerImage ?? 256]
    : [t.audio, t.boa, t.eoa, config.audioSoftTokensPerImage];
  if (placeholder === undefined || begin === undefined || end === undefined || n === undefined) return undefined;
  return { placeholder, begin, end, tokensPerItem: n };
}

/**
 * The processor's text expansion: every placeholder token in `text` becomes
 * "\n\n" + begin + N × placeholder + end + "\n\n". Returns the new text and how many were expanded.
 */
export function expandPlaceholders(text: string, ids: MediaIds, tokenizer: Tokenizer): { text: string; count: number } {
  const tok = (id: number) => {
    const s = tokenizer.idToToken(id);
    if (s === undefined) throw new InputError(`the tokenizer has no token for media id ${id}`);
    return s;
  };
  const placeholder = tok(ids.placeholder);
  const block = `\n\n${tok(ids.begin)}${placeholder.repeat(ids.tokensPerItem)}${tok(ids.end)}\n\n`;
  const pieces = text.split(placeholder);
  return { text: pieces.join(block), count: pieces.length - 1 };
}

/** Positions of the placeholder id in `ids`, checked to be `items` whole blocks. */
export function placeholderPositions(ids: readonly number[], m: MediaIds, kind: MediaKind, items: number): number[] {
  const positions: number[] = [];
  ids.forEach((id, i) => {
    if (id === m.placeholder) positions.push(i);
  });
  if (positions.length !== items * m.tokensPerItem) {
    throw new InputError(
      `the prompt has ${positions.length} ${kind} placeholder tokens (id ${m.placeholder}) but ${items} ${kind}${items === 1 ? "" : "s"} need ${items * m.tokensPerItem} (${m.tokensPerItem} each)`,
    );
  }
  return positions;
}

/** Joins per-kind soft tokens into one position-sorted set. */
export function mergeSoftTokens(parts: SoftTokens[], hidden: number): SoftTokens | undefined {
  const rows = parts.flatMap((p) => p.positions.map((pos, k) => ({ pos, p, k })));
  if (rows.length === 0) return undefined;
  rows.sort((a, b) => a.pos - b.pos);
  const values = new Float32Array(rows.length * hidden);
  rows.forEach((r, i) => values.set(r.p.values.subarray(r.k * hidden, (r.k + 1) * hidden), i * hidden));
  return { positions: rows.map((r) => r.pos), values };
}
