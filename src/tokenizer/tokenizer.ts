/**
 * A tokenizer for HF `tokenizer.json` files as Gemma uses them (BPE with byte fallback), written to give exactly the
 * ids of HF `tokenizers`. No Node-only APIs: this file must also run in a browser.
 *
 * Encoding: added tokens are matched verbatim in the raw text (leftmost, longest first); each text piece between
 * them is normalized (Gemma: " " -> "▁"), pre-tokenized (Gemma: Split(" "), which then finds nothing, so the whole
 * piece is one BPE word), and run through BPE. The TemplateProcessing post-processor adds `<bos>`.
 * Decoding: token strings go through the decoder chain (Gemma: Replace "▁" -> " ", ByteFallback, Fuse).
 */
import { AddedTokenMatcher, type AddedToken } from "./added-tokens.js";
import { BpeModel } from "./bpe.js";
import { TokenizerError } from "./errors.js";
import {
  buildDecoder,
  buildNormalizer,
  buildPostProcessor,
  buildPreTokenizer,
  isByteToken,
  runDecoder,
  type DecoderStep,
  type Normalizer,
  type PreTokenizer,
  type SingleTemplate,
} from "./pipeline.js";

export { TokenizerError } from "./errors.js";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A special-token entry of tokenizer_config.json: a string or an AddedToken-like `{content}` object. */
export function specialTokenContent(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (isObject(v) && typeof v.content === "string") return v.content;
  return undefined;
}

export interface EncodeOptions {
  /** Apply the post-processor (Gemma: prepend `<bos>`). Default: tokenizer_config `add_bos_token`, else true. */
  addBos?: boolean;
}

export interface DecodeOptions {
  /** Drop added tokens marked `special` (`<bos>`, `<start_of_turn>`, ...). Default false. */
  skipSpecialTokens?: boolean;
}

/** Incremental detokenizer: the concatenation of everything `push` and `flush` return equals `decode(ids)`. */
export interface DecodeStream {
  /** Add one id; returns the text completed by it ("" while a run of byte tokens is still open). */
  push(id: number): string;
  /** End of stream: returns any text still held back (an unfinished byte run) and resets the stream. */
  flush(): string;
}

function parseAddedTokens(raw: unknown): AddedToken[] {
  if (raw == null) return [];
  if (!Array.isArray(raw)) throw new TokenizerError(`malformed tokenizer.json: added_tokens is not a list`);
  return raw.map((t, i): AddedToken => {
    if (!isObject(t) || typeof t.content !== "string" || !Number.isInteger(t.id) || (t.id as number) < 0) {
      throw new TokenizerError(`malformed tokenizer.json: added_tokens[${i}] needs a string content and an integer id`);
    }
    const special = t.special === true;
    return {
      id: t.id as number,
      content: t.content,
      special,
      normalized: typeof t.normalized === "boolean" ? t.normalized : !special,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      singleWord: t.single_word === true,
    };
  });
}

export class Tokenizer {
  /** Max id + 1 over the model vocabulary and the added tokens. */
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  /** Whether `encode` applies the post-processor (adds `<bos>`) when not told: tokenizer_config `add_bos_token` ?? true. */
  readonly addBosByDefault: boolean;

  private readonly bpe: BpeModel;
  private readonly vocab: Map<string, number>;
  private readonly idToTok: (string | undefined)[];
  private readonly added: Map<string, number>;
  private readonly special: Uint8Array;
  private readonly rawMatcher: AddedTokenMatcher;
  private readonly normalizedMatcher: AddedTokenMatcher | undefined;
  private readonly normalizer: Normalizer | undefined;
  private readonly preTokenizer: PreTokenizer | undefined;
  private readonly postTemplate: SingleTemplate | undefined;
  private readonly decoder: DecoderStep[] | undefined;
  private readonly decoderHasByteFallback: boolean;

  private constructor(json: Json, config: Json) {
    const model = json.model;
    if (!isObject(model)) throw new TokenizerError(`malformed tokenizer.json: missing model`);
    const type = model.type ?? (isObject(model.vocab) && Array.isArray(model.merges) ? "BPE" : undefined);
    if (type !== "BPE") {
      throw new TokenizerError(
        type === undefined
          ? `malformed tokenizer.json: model has no type`
          : `unsupported model type ${JSON.stringify(type)} (only BPE tokenizers are supported)`,
      );
    }
    if (!isObject(model.vocab)) throw new TokenizerError(`malformed tokenizer.json: missing model.vocab`);
    if (!Array.isArray(model.merges)) throw new TokenizerError(`malformed tokenizer.json: missing model.merges`);
    for (const k of ["continuing_subword_prefix", "end_of_word_suffix"] as const) {
      if (model[k] != null && model[k] !== "") {
        throw new TokenizerError(`unsupported BPE option ${k}=${JSON.stringify(model[k])}`);
      }
    }
    const vocab = new Map<string, number>();
    const rawVocab = model.vocab;
    let maxId = -1;
    const keys = Object.keys(rawVocab);
    for (let i = 0; i < keys.length; i++) {
      const tok = keys[i]!;
      const id = rawVocab[tok];
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
        throw new TokenizerError(`malformed tokenizer.json: model.vocab[${JSON.stringify(tok)}] is not an id`);
      }
      vocab.set(tok, id);
      if (id > maxId) maxId = id;
    }
    this.vocab = vocab;
    this.bpe = new BpeModel({
      vocab,
      merges: model.merges,
      unkToken: typeof model.unk_token === "string" ? model.unk_token : null,
      fuseUnk: model.fuse_unk === true,
      byteFallback: model.byte_fallback === true,
      ignoreMerges: model.ignore_merges === true,
    });

    const addedTokens = parseAddedTokens(json.added_tokens);
    for (const t of addedTokens) if (t.id > maxId) maxId = t.id;
    this.vocabSize = maxId + 1;
    this.idToTok = new Array<string | undefined>(this.vocabSize);
    for (const [tok, id] of vocab) this.idToTok[id] = tok;
    this.added = new Map();
    this.special = new Uint8Array(this.vocabSize);
    for (const t of addedTokens) {
      this.idToTok[t.id] = t.content;
      if (!this.added.has(t.content)) this.added.set(t.content, t.id);
      if (t.special) this.special[t.id] = 1;
    }
    this.rawMatcher = new AddedTokenMatcher(addedTokens.filter((t) => !t.normalized));
    const normalizedTokens = addedTokens.filter((t) => t.normalized);
    this.normalizedMatcher = normalizedTokens.length > 0 ? new AddedTokenMatcher(normalizedTokens) : undefined;

    this.normalizer = buildNormalizer(json.normalizer);
    this.preTokenizer = buildPreTokenizer(json.pre_tokenizer);
    this.postTemplate = buildPostProcessor(json.post_processor);
    this.decoder = buildDecoder(json.decoder);
    this.decoderHasByteFallback = this.decoder?.some((s) => s.kind === "byteFallback") ?? false;

    const lookup = (key: string, fallback: string): number | undefined => {
      const content = specialTokenContent(config[key]);
      return (content !== undefined ? this.tokenToId(content) : undefined) ?? this.tokenToId(fallback);
    };
    this.bosId = lookup("bos_token", "<bos>");
    this.eosId = lookup("eos_token", "<eos>");
    this.padId = lookup("pad_token", "<pad>");
    this.addBosByDefault = typeof config.add_bos_token === "boolean" ? config.add_bos_token : true;
  }

  /**
   * Build from the parsed `tokenizer.json` (a JSON string is accepted too) and optionally `tokenizer_config.json`.
   */
  static fromJSON(tokenizerJson: unknown, tokenizerConfig?: unknown): Tokenizer {
    let json = tokenizerJson;
    if (typeof json === "string") {
      try {
        json = JSON.parse(json) as unknown;
      } catch (e) {
        throw new TokenizerError(`malformed tokenizer.json: ${(e as Error).message}`);
      }
    }
    if (!isObject(json)) throw new TokenizerError(`malformed tokenizer.json: expected a JSON object`);
    if (tokenizerConfig != null && !isObject(tokenizerConfig)) {
      throw new TokenizerError(`malformed tokenizer_config.json: expected a JSON object`);
    }
    return new Tokenizer(json, (tokenizerConfig ?? {}) as Json);
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.idToTok[id] : undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.added.get(token) ?? this.vocab.get(token);
  }

  /** Whether `id` is an added token marked special (skipped by `skipSpecialTokens`). */
  isSpecial(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize && this.special[id] === 1;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new TokenizerError(`encode expects a string, got ${typeof text}`);
    const ids: number[] = [];
    for (const seg of this.rawMatcher.split(text)) {
      if (seg.id !== undefined) ids.push(seg.id);
      else this.encodePiece(seg.text, ids);
    }
    const addBos = opts.addBos ?? this.addBosByDefault;
    if (!addBos) return ids;
    if (this.postTemplate !== undefined) {
      const out: number[] = [];
      for (const part of this.postTemplate) {
        if (part === null) for (const id of ids) out.push(id);
        else for (const id of part) out.push(id);
      }
      return out;
    }
    return this.bosId !== undefined ? [this.bosId, ...ids] : ids;
  }

  /** Token strings of `ids` (throws on unknown ids). */
  idsToTokens(ids: readonly number[]): string[] {
    return ids.map((id) => this.tokenOf(id));
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens === true;
    const tokens: string[] = [];
    for (const id of ids) {
      const tok = this.tokenOf(id);
      if (skip && this.special[id] === 1) continue;
      tokens.push(tok);
    }
    return runDecoder(this.decoder, tokens);
  }

  decodeStream(opts: DecodeOptions = {}): DecodeStream {
    const skip = opts.skipSpecialTokens === true;
    const decoder = this.decoder;
    const holdBytes = this.decoderHasByteFallback;
    let pending: string[] = [];
    let started = false; // for the no-decoder case, where tokens are joined with " "
    return {
      push: (id: number): string => {
        const tok = this.tokenOf(id);
        if (skip && this.special[id] === 1) return "";
        if (decoder === undefined) {
          const out = started ? " " + tok : tok;
          started = true;
          return out;
        }
        if (holdBytes && isByteToken(tok)) {
          pending.push(tok);
          return "";
        }
        pending.push(tok);
        const out = runDecoder(decoder, pending);
        pending = [];
        return out;
      },
      flush: (): string => {
        started = false;
        if (pending.length === 0) return "";
        const out = runDecoder(decoder, pending);
        pending = [];
        return out;
      },
    };
  }

  private encodePiece(text: string, ids: number[]): void {
    const normalized = this.normalizer ? this.normalizer(text) : text;
    if (this.normalizedMatcher === undefined) {
      this.encodeNormalized(normalized, ids);
      return;
    }
    for (const seg of this.normalizedMatcher.split(normalized)) {
      if (seg.id !== undefined) ids.push(seg.id);
      else this.encodeNormalized(seg.text, ids);
    }
  }

  private encodeNormalized(text: string, ids: number[]): void {
    if (this.preTokenizer === undefined) {
      this.bpe.encodeWord(text, ids);
      return;
    }
    for (const word of this.preTokenizer(text)) this.bpe.encodeWord(word, ids);
  }

  private tokenOf(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`token id ${id} is out of range for a vocabulary of ${this.vocabSize}`);
    }
    const tok = this.idToTok[id];
    if (tok === undefined) throw new TokenizerError(`token id ${id} has no token in this vocabulary`);
    return tok;
  }
}
