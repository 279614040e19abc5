// A loaded Gemma 3n model: checkpoint + decoder + tokenizer, with the user-facing operations
// (logits, streaming generation, chat sessions). Platform-neutral: files come in through ModelFiles.
import type { Checkpoint } from "../checkpoint/checkpoint.js";
import { NoTokenizerError, type TokenizerBundle } from "../checkpoint/tokenizer-files.js";
import { InputError } from "../errors.js";
import { generateTokens, type GenerateOptions, type GenerationChunk, type GenerationResult, type StepModel } from "../generate/generate.js";
import type { SamplingOptions } from "../generate/sampler.js";
import type { Backend } from "../kernels/backend.js";
import { ReferenceBackend } from "../kernels/reference.js";
import type { DType } from "../kernels/dtype.js";
import type { GeluNumerics } from "../kernels/gelu-f16-table.js";
import { encodeChat, type ChatMessage } from "../tokenizer/chat-template.js";
import type { ModelConfig } from "./config.js";
import { expandPlaceholders, mediaEncoderFactories, mediaIds, mergeSoftTokens, placeholderPositions, type MediaEncoder, type MediaKind, type SoftTokens } from "./multimodal.js";
// Media encoders register themselves in mediaEncoderFactories when loaded.
import "./audio/media-encoder.js";
import "./vision/encoder.js";
import { ElasticDecoder, type SliceRequest, type SwitchOptions } from "./matformer/elastic.js";
import { FULL } from "./matformer/sizes.js";
import type { SlicePlan, SliceSpec } from "./matformer/plan.js";
import type { SliceCost } from "./matformer/cost.js";
import type { TextDecoder, ForwardOptions } from "./text/decoder.js";
import { KVCache } from "./text/kv-cache.js";

/**
 * What to generate from: a chat rendered with the model's template (content parts may hold images and
 * audio), raw text, or token ids whose media placeholders are already expanded (filled in order).
 */
export type Prompt =
  | { messages: ChatMessage[] }
  | { text: string; addBos?: boolean }
  | { ids: readonly number[]; images?: unknown[]; audio?: unknown[] };

/** A prompt as the decoder takes it. */
export interface PreparedPrompt {
  ids: number[];
  soft?: SoftTokens;
}

export { mediaEncoderFactories, type MediaEncoderFactory } from "./multimodal.js";

export interface ModelOptions {
  /** Weight dtype in memory (default: as stored). */
  dtype?: DType;
  backend?: Backend;
  /** Whether `close()` also closes the backend (set by loaders that create it). */
  ownsBackend?: boolean;
  /** Longest sequence a session may hold (default: the config's max_position_embeddings). */
  contextLength?: number;
  /** MatFormer slice to run (default: the whole model); `setSlice` changes it later. */
  matformer?: SliceRequest;
  /** GELU evaluation: "exact" (transformers; the default) or "f16-table" (llama.cpp's CPU backend; `loadModel`'s default for GGUF files). */
  gelu?: GeluNumerics;
}

export class Gemma3n implements StepModel {
  private readonly elastic: ElasticDecoder;
  private readonly ownsBackend: boolean;
  readonly contextLength: number;
  readonly eosIds: readonly number[];
  /** Sampling defaults from generation_config.json (greedy when it has none). */
  readonly generationDefaults: SamplingOptions;

  constructor(
    readonly checkpoint: Checkpoint,
    private readonly tokenizerBundle: TokenizerBundle | undefined,
    opts: ModelOptions = {},
  ) {
    const config = checkpoint.config;
    const maxCtx = config.text.maxPositionEmbeddings;
    const ctx = opts.contextLength ?? maxCtx;
    if (!Number.isInteger(ctx) || ctx < 1 || ctx > maxCtx) {
      throw new InputError(`context length must be an integer in [1, ${maxCtx}], got ${ctx}`);
    }
    this.contextLength = ctx;
    const backend = opts.backend ?? new ReferenceBackend();
    this.ownsBackend = opts.ownsBackend ?? false;
    this.elastic = new ElasticDecoder(checkpoint, backend, ctx, opts.dtype, (bytes) => backend.weightStorage(bytes), opts.gelu);
    this.elastic.setSlice(opts.matformer ?? FULL);
    const gen = checkpoint.generationConfig ?? {};
    const genEos = gen.eos_token_id;
    this.eosIds = Array.isArray(genEos) ? (genEos as number[]) : Number.isInteger(genEos) ? [genEos as number] : config.eosIds;
    this.generationDefaults = samplingFromGenerationConfig(gen);
  }

  /** The config of the active MatFormer slice (the checkpoint's own is `checkpoint.config`). */
  get config(): ModelConfig {
    return this.decoder.config;
  }
  get decoder(): TextDecoder {
    return this.elastic.decoder;
  }
  /** The active MatFormer slice: its name, the stored layers it runs and its config. */
  get slice(): SlicePlan {
    return this.elastic.plan;
  }
  /**
   * Switches the MatFormer slice without reloading: missing weights are read from the checkpoint.
   * Generations already running finish on their slice; KV caches made before the switch keep working
   * with it (a session starts a fresh cache at its next turn), never mixing two slices in one cache.
   */
  setSlice(request: SliceRequest, opts: SwitchOptions = {}): SlicePlan {
    return this.elastic.setSlice(request, opts);
  }
  /** What a slice would cost on this checkpoint: effective parameters, weight memory, KV cache, decode bytes. */
  sliceCost(spec: SliceSpec | { ratio: number }): SliceCost {
    return this.elastic.costOf(this.elastic.planOf(spec));
  }
  get tokenizer() {
    return this.tokenizerBundle?.tokenizer;
  }
  get chatTemplate() {
    return this.tokenizerBundle?.chatTemplate;
  }

  private requireTokenizer(): TokenizerBundle {
    if (!this.tokenizerBundle) throw new NoTokenizerError(this.checkpoint.location);
    return this.tokenizerBundle;
  }

  /** Token ids of a text prompt. Chat prompts carry their own `<bos>`; it is never doubled. */
  encode(prompt: Prompt): number[] {
    if ("ids" in prompt) return [...prompt.ids];
    const { tokenizer, chatTemplate } = this.requireTokenizer();
    if ("text" in prompt) return tokenizer.encode(prompt.text, { addBos: prompt.addBos });
    if (!chatTemplate) throw new InputError(`${this.checkpoint.location} has no chat template (tokenizer_config.json chat_template or chat_template.jinja)`);
    return encodeChat(tokenizer, chatTemplate, prompt.messages).ids;
  }

  /** Token ids plus the soft-token embeddings of the prompt's images and audio. */
  async prepare(prompt: Prompt): Promise<PreparedPrompt> {
    const media: Record<MediaKind, unknown[]> = { image: [], audio: [] };
    let ids: number[];
    if ("messages" in prompt) {
      for (const m of prompt.messages) {
        if (typeof m.content === "string") continue;
        for (const part of m.content) {
          if (part.type === "image" || part.type === "audio") media[part.type].push(part[part.type] ?? part);
        }
      }
      if (media.image.length + media.audio.length === 0) return { ids: this.encode(prompt) };
      const { tokenizer, chatTemplate } = this.requireTokenizer();
      if (!chatTemplate) throw new InputError(`${this.checkpoint.location} has no chat template`);
      let text = chatTemplate.render(prompt.messages);
      for (const kind of ["image", "audio"] as const) {
        if (media[kind].length === 0) continue;
        const expanded = expandPlaceholders(text, this.requireMediaIds(kind), tokenizer);
        if (expanded.count !== media[kind].length) {
          throw new InputError(`the chat template rendered ${expanded.count} ${kind} placeholders for ${media[kind].length} ${kind} parts`);
        }
        text = expanded.text;
      }
      ids = tokenizer.encode(text, { addBos: false });
      if (tokenizer.bosId !== undefined && ids[0] !== tokenizer.bosId) ids.unshift(tokenizer.bosId);
    } else {
      ids = this.encode(prompt);
      if ("ids" in prompt) {
        media.image = prompt.images ?? [];
        media.audio = prompt.audio ?? [];
      }
    }
    const parts: SoftTokens[] = [];
    for (const kind of ["image", "audio"] as const) {
      const mids = mediaIds(this.config, kind);
      // Ids with placeholders but no media would embed the placeholder token itself: refuse.
      if (mids && media[kind].length === 0 && ids.includes(mids.placeholder)) placeholderPositions(ids, mids, kind, 0);
      if (media[kind].length === 0) continue;
      const positions = placeholderPositions(ids, this.requireMediaIds(kind), kind, media[kind].length);
      const encoder = this.mediaEncoder(kind);
      const D = this.config.text.hiddenSize;
      const values = new Float32Array(positions.length * D);
      let at = 0;
      const encoded = encoder.encodeAll ? await encoder.encodeAll(media[kind]) : [];
      for (const [i, item] of media[kind].entries()) {
        const e = encoded[i] ?? (await encoder.encode(item));
        values.set(e, at);
        at += e.length;
      }
      parts.push({ positions, values });
    }
    return { ids, soft: mergeSoftTokens(parts, this.config.text.hiddenSize) };
  }

  private requireMediaIds(kind: MediaKind) {
    const ids = mediaIds(this.config, kind);
    if (!ids) throw new InputError(`${this.checkpoint.location}: config.json has no ${kind} token ids, so this model takes no ${kind} input`);
    return ids;
  }

  private readonly encoders = new Map<MediaKind, MediaEncoder>();
  /** The encoder of a media kind, loaded from the checkpoint on first use. */
  mediaEncoder(kind: MediaKind): MediaEncoder {
    let e = this.encoders.get(kind);
    if (!e) {
      const factory = mediaEncoderFactories[kind];
      if (!factory) throw new InputError(`${kind} input is not supported by this runtime yet`);
      e = factory(this);
      this.encoders.set(kind, e);
    }
    return e;
  }

  /** Logits for every position of `ids`: [ids.length, vocab]; `opts.soft` fills media positions. */
  logits(ids: readonly number[], opts: Omit<ForwardOptions, "allLogits"> = {}): Float32Array {
    if (ids.length > this.contextLength) throw new InputError(`${ids.length} ids exceed the context length ${this.contextLength}`);
    return this.decoder.forward(Int32Array.from(ids), this.newCache(), { ...opts, allLogits: true }).logits;
  }

  newCache(): KVCache {
    return new KVCache(this.config.text);
  }

  /** One forward step; returns the logits of the last position. */
  step(ids: Int32Array, cache: KVCache, soft?: SoftTokens): Float32Array {
    return this.elastic.decoderFor(cache).forward(ids, cache, { soft }).logits;
  }

  /** A conversation that keeps its KV cache between turns. */
  session(): Session {
    return new Session(this);
  }

  /** Streams a completion of `prompt` in a fresh session. */
  generate(prompt: Prompt, opts: GenerateOptions = {}): AsyncGenerator<GenerationChunk, GenerationResult> {
    return this.session().generate(prompt, opts);
  }

  /** Generates a whole completion of `prompt` in a fresh session and returns it. */
  complete(prompt: Prompt, opts: GenerateOptions = {}, onChunk?: (chunk: GenerationChunk) => void): Promise<GenerationResult> {
    return this.session().complete(prompt, opts, onChunk);
  }

  close(): void {
    this.checkpoint.close();
    if (this.ownsBackend) this.decoder.backend.close();
  }
}

/**
 * Holds a KV cache and the ids it covers. A new prompt that shares a prefix with those ids (the next
 * chat turn, re-rendered in full) only feeds the rest; the cache is rewound to the shared prefix, or
 * started over when a sliding window no longer holds what the rewind would need.
 */
export class Session {
  private cache: KVCache;
  private ids: number[] = [];
  constructor(private readonly model: Gemma3n) {
    this.cache = model.newCache();
  }

  /** Tokens the cache covers. */
  get length(): number {
    return this.ids.length;
  }

  async *generate(prompt: Prompt, opts: GenerateOptions = {}): AsyncGenerator<GenerationChunk, GenerationResult> {
    const { ids: promptIds, soft } = await this.model.prepare(prompt);
    // Media placeholders look alike whatever the media: never reuse the cache past the first one.
    const limit = Math.min(promptIds.length - 1, soft?.positions[0] ?? Infinity);
    // A cache made under another MatFormer slice is not reused (see Gemma3n.setSlice).
    if (this.cache.config !== this.model.config.text) this.reset();
    let shared = 0;
    while (shared < this.ids.length && shared < limit && this.ids[shared] === promptIds[shared]) shared++;
    if (shared === 0 || !this.cache.rewind(shared)) {
      this.cache = this.model.newCache();
      shared = 0;
    }
    const feed = promptIds.slice(shared);
    const decoder = this.model.tokenizer?.decodeStream();
    const options = resolveSampling(this.model.generationDefaults, opts);
    const history = [...promptIds];
    // Until the run ends the cache holds ids this session cannot vouch for; a failed run leaves it empty.
    this.ids = [];
    const feedSoft = soft && { positions: soft.positions.map((p) => p - shared), values: soft.values };
    const result = yield* generateTokens(this.model, this.cache, feed, history, options, decoder, feedSoft);
    // The cache now covers the prompt and every generated id but the last (which was never fed).
    this.ids = result.finishReason === "abort" ? [] : history.slice(0, this.cache.position);
    if (result.finishReason === "abort") this.cache = this.model.newCache();
    return result;
  }

  /** Runs `generate` to the end, handing each chunk to `onChunk`, and returns its result. */
  async complete(prompt: Prompt, opts: GenerateOptions = {}, onChunk?: (chunk: GenerationChunk) => void): Promise<GenerationResult> {
    const stream = this.generate(prompt, opts);
    let r = await stream.next();
    while (!r.done) {
      onChunk?.(r.value);
      r = await stream.next();
    }
    return r.value;
  }

  reset(): void {
    this.cache = this.model.newCache();
    this.ids = [];
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The caller's options over the checkpoint's defaults. Asking for any sampling control (temperature,
 * top-k, top-p, min-p) turns sampling on even when the defaults are greedy, unless `greedy` is set.
 */
export function resolveSampling(defaults: SamplingOptions, opts: GenerateOptions): GenerateOptions {
  const merged: GenerateOptions = { ...defaults, ...definedOnly(opts) };
  const asksToSample = [opts.temperature, opts.topK, opts.topP, opts.minP].some((v) => v !== undefined);
  if (opts.greedy === undefined && asksToSample && defaults.greedy) {
    merged.greedy = false;
    merged.temperature ??= 1;
  }
  return merged;
}

function samplingFromGenerationConfig(g: Record<string, unknown>): SamplingOptions {
  if (g.do_sample !== true) return { greedy: true };
  const num = (k: string) => (typeof g[k] === "number" ? (g[k] as number) : undefined);
  return {
    temperature: num("temperature") ?? 1,
    topK: num("top_k"),
    topP: num("top_p"),
    minP: num("min_p") ?? undefined,
    repetitionPenalty: num("repetition_penalty"),
  };
}
