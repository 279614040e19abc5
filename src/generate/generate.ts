// The generation loop: prefill the prompt in one batched pass, then decode token by token, streaming
// each token as it comes. Stops on eos ids, a stop string, max tokens, the context end, or an abort.
import { InputError } from "../errors.js";
import type { SoftTokens } from "../model/multimodal.js";
import type { KVCache } from "../model/text/kv-cache.js";
import type { DecodeStream } from "../tokenizer/tokenizer.js";
import { Sampler, type SamplingOptions } from "./sampler.js";

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default 256). */
  maxTokens?: number;
  /** Keep going past eos ids (the golden greedy runs do). */
  ignoreEos?: boolean;
  /** Ids that end generation (default: the config's eos ids). */
  stopIds?: readonly number[];
  /** Texts that end generation; the reply is cut before them. Needs a tokenizer. */
  stopStrings?: readonly string[];
  signal?: AbortSignal;
}

export type FinishReason = "stop" | "length" | "abort";

export interface GenerationChunk {
  id: number;
  /** Text completed by this token (may be "" inside a multi-byte character; undefined without a tokenizer). */
  text?: string;
}

export interface GenerationResult {
  ids: number[];
  text?: string;
  finishReason: FinishReason;
  promptTokens: number;
}

/** What the loop needs from a model: a forward step that returns the last position's logits. */
export interface StepModel {
  readonly contextLength: number;
  readonly eosIds: readonly number[];
  step(ids: Int32Array, cache: KVCache, soft?: SoftTokens): Float32Array;
}

/** Lets timers, I/O and abort events run between tokens (works in browsers too). */
const breathe = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export async function* generateTokens(
  model: StepModel,
  cache: KVCache,
  /** Ids to feed now (the part of the prompt not already in the cache). */
  feed: readonly number[],
  /** Every id in the sequence so far including `feed`, for the repetition penalty. */
  history: number[],
  opts: GenerateOptions,
  decoder?: DecodeStream,
  /** Soft-token embeddings at positions of `feed`. */
  soft?: SoftTokens,
): AsyncGenerator<GenerationChunk, GenerationResult> {
  const maxTokens = opts.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new InputError(`max tokens must be an integer ≥ 0, got ${maxTokens}`);
  if (feed.length === 0) throw new InputError("the prompt is empty");
  const promptTokens = history.length;
  if (cache.position + feed.length > model.contextLength) {
    throw new InputError(`the prompt is ${cache.position + feed.length} tokens long but the context holds ${model.contextLength}`);
  }
  const sampler = new Sampler(opts);
  const stopIds = new Set(opts.ignoreEos ? [] : opts.stopIds ?? model.eosIds);
  const stopStrings = (opts.stopStrings ?? []).filter((s) => s.length > 0);
  if (stopStrings.length > 0 && !decoder) throw new InputError("stop strings need a tokenizer");
  const ids: number[] = [];
  let text = "";
  let emitted = 0; // chars of `text` already streamed (held back while they might start a stop string)
  let finishReason: FinishReason = "length";
  let next = Int32Array.from(feed);
  const aborted = () => opts.signal?.aborted === true;

  while (ids.length < maxTokens) {
    if (aborted()) {
      finishReason = "abort";
      break;
    }
    if (cache.position + next.length > model.contextLength) break; // context full: finish as "length"
    const logits = model.step(next, cache, ids.length === 0 ? soft : undefined);
    const id = sampler.sample(logits, history);
    if (stopIds.has(id)) {
      finishReason = "stop";
      break;
    }
    ids.push(id);
    history.push(id);
    next = Int32Array.of(id);
    if (!decoder) {
      yield { id };
    } else {
      text += decoder.push(id);
      const cut = firstStop(text, stopStrings);
      if (cut >= 0) {
        text = text.slice(0, cut);
        finishReason = "stop";
        if (cut > emitted) yield { id, text: text.slice(emitted) };
        emitted = text.length;
        break;
      }
      // Hold back a tail that could still grow into a stop string.
      const safe = text.length - partialStopTail(text, stopStrings);
      yield { id, text: text.slice(emitted, Math.max(safe, emitted)) };
      emitted = Math.max(safe, emitted);
    }
    await breathe();
  }
  if (decoder && finishReason !== "stop") {
    text += decoder.flush();
    const cut = firstStop(text, stopStrings);
    if (cut >= 0) text = text.slice(0, cut);
  }
  if (decoder && text.length > emitted) yield { id: -1, text: text.slice(emitted) };
  return { ids, text: decoder ? text : undefined, finishReason, promptTokens };
}

function firstStop(text: string, stops: readonly string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** Length of the longest suffix of `text` that is a proper prefix of a stop string. */
function partialStopTail(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > best; n--) {
      if (text.endsWith(s.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}
