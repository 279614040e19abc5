// The OpenAI-compatible API as an in-process call: the same requests and responses as the HTTP server
// (which is a thin layer over this class), usable without a network in any JavaScript runtime.
// Requests run one at a time through a fair queue; cancellation (the caller's AbortSignal, or shutdown)
// reaches the generation loop, which stops within a token and drops the request's KV cache.
import { InputError } from "../errors.js";
import type { Gemma3n } from "../model/gemma3n.js";
import { ApiError, toApiError } from "./errors.js";
import type { FetchMedia } from "./media.js";
import { FairQueue } from "./queue.js";
import { defaultLimits, parseChatRequest, parseCompletionRequest, type ApiLimits, type ParsedRequest } from "./request.js";
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Completion, CompletionRequest, FinishReason, ModelCard, ModelList, Usage } from "./types.js";

export interface OpenAIApiOptions {
  /** The name clients use for the model: its repo id or directory name. */
  modelName: string;
  limits?: Partial<ApiLimits>;
  /** Most requests admitted at once, running and queued (default 16); more are refused with 429. */
  maxConcurrency?: number;
  /** Fetches http(s) image URLs; without it they are refused. */
  fetchMedia?: FetchMedia;
  /** One line per finished, cancelled or failed request. */
  log?: (line: string) => void;
}

export interface CallOptions {
  /** Cancels the request: it leaves the queue, or its generation stops within a token. */
  signal?: AbortSignal;
}

/** How a generation ended. */
interface Outcome {
  finishReason: FinishReason;
  usage: Usage;
}

export class OpenAIApi {
  readonly limits: ApiLimits;
  private readonly queue: FairQueue;
  private readonly created = Math.floor(Date.now() / 1000);
  /** Aborted when shutdown stops waiting for requests to finish. */
  private readonly shutdown = new AbortController();
  private closing = false;
  /** Admitted requests (waiting or running) not yet finished, and the callers waiting for none to be left. */
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private requestCount = 0;

  constructor(
    readonly model: Gemma3n,
    private readonly opts: OpenAIApiOptions,
  ) {
    if (!model.tokenizer) throw new InputError(`${model.checkpoint.location} has no tokenizer (tokenizer.json), which the API needs`);
    this.limits = { ...defaultLimits, ...opts.limits };
    this.queue = new FairQueue(opts.maxConcurrency ?? 16);
  }

  get modelName(): string {
    return this.opts.modelName;
  }

  /** Requests running and waiting. */
  get stats(): { running: number; waiting: number } {
    return this.queue.stats;
  }

  listModels(): ModelList {
    return { object: "list", data: [this.modelCard()] };
  }

  retrieveModel(id: string): ModelCard {
    this.checkModel(id, "model");
    return this.modelCard();
  }

  /** A chat reply; with `stream: true`, an iterable of chunks that resolves once generation has started. */
  createChatCompletion(req: ChatCompletionRequest & { stream: true }, call?: CallOptions): Promise<AsyncIterableIterator<ChatCompletionChunk>>;
  createChatCompletion(req: ChatCompletionRequest & { stream?: false | null }, call?: CallOptions): Promise<ChatCompletion>;
  createChatCompletion(req: ChatCompletionRequest, call?: CallOptions): Promise<ChatCompletion | AsyncIterableIterator<ChatCompletionChunk>>;
  async createChatCompletion(req: ChatCompletionRequest, call: CallOptions = {}): Promise<ChatCompletion | AsyncIterableIterator<ChatCompletionChunk>> {
    const parsed = await parseChatRequest(req, { limits: this.limits, fetchMedia: this.opts.fetchMedia, signal: call.signal });
    const meta = this.meta("chatcmpl");
    const pieces = this.pieces(parsed, call.signal, meta.id);
    if (parsed.stream) return started(chatChunks(pieces, meta, parsed.includeUsage));
    const { text, outcome } = await drain(pieces);
    return {
      ...meta,
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null }, finish_reason: outcome.finishReason, logprobs: null }],
      usage: outcome.usage,
    };
  }

  /** A text completion of a raw prompt; with `stream: true`, an iterable of chunks. */
  createCompletion(req: CompletionRequest & { stream: true }, call?: CallOptions): Promise<AsyncIterableIterator<Completion>>;
  createCompletion(req: CompletionRequest & { stream?: false | null }, call?: CallOptions): Promise<Completion>;
  createCompletion(req: CompletionRequest, call?: CallOptions): Promise<Completion | AsyncIterableIterator<Completion>>;
  async createCompletion(req: CompletionRequest, call: CallOptions = {}): Promise<Completion | AsyncIterableIterator<Completion>> {
    const parsed = parseCompletionRequest(req, this.limits);
    const meta = this.meta("cmpl");
    const pieces = this.pieces(parsed, call.signal, meta.id);
    if (parsed.stream) return started(completionChunks(pieces, meta, parsed.includeUsage));
    const { text, outcome } = await drain(pieces);
    return { ...meta, object: "text_completion", choices: [{ index: 0, text, finish_reason: outcome.finishReason, logprobs: null }], usage: outcome.usage };
  }

  /**
   * Stops admitting requests (503) and waits for those admitted to finish; after `graceMs` the rest
   * are cancelled. Resolves when none is left.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.closing = true;
    const timer = setTimeout(() => this.shutdown.abort(), graceMs);
    await this.idle();
    clearTimeout(timer);
  }

  private idle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private finished(): void {
    if (--this.inFlight > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private modelCard(): ModelCard {
    return { id: this.modelName, object: "model", created: this.created, owned_by: "gemma3n" };
  }

  private checkModel(id: string, param: string): void {
    if (id !== this.modelName) {
      throw new ApiError(404, `the model ${JSON.stringify(id)} does not exist; this server has ${JSON.stringify(this.modelName)}`, "invalid_request_error", "model_not_found", param);
    }
  }

  private meta(prefix: string) {
    return { id: `${prefix}-${crypto.randomUUID()}`, created: Math.floor(Date.now() / 1000), model: this.modelName };
  }

  /**
   * The text pieces of a reply. Its first step admits the request, waits for its turn and starts the
   * generation, so a bad prompt or a full queue throws before anything is streamed.
   */
  private async *pieces(parsed: ParsedRequest, signal: AbortSignal | undefined, id: string): AsyncGenerator<string, Outcome> {
    this.checkModel(parsed.model, "model");
    if (this.closing) throw new ApiError(503, "the server is shutting down", "server_error", "shutting_down", null, 5);
    const cancel = signal ? AbortSignal.any([signal, this.shutdown.signal]) : this.shutdown.signal;
    this.inFlight++;
    const release = await this.queue.acquire(cancel).catch((e: unknown) => {
      this.finished();
      const err = this.cancelled(cancel);
      if (err) this.log(`${id} ${err.message} while waiting for its turn`);
      throw err ?? e;
    });
    const n = ++this.requestCount;
    const t0 = Date.now();
    const stream = this.model.generate(parsed.prompt, { ...parsed.options, signal: cancel });
    let tokens = 0;
    let done = false;
    try {
      let r = await stream.next().catch((e: unknown) => {
        done = true;
        const err = toApiError(e);
        this.log(`#${n} ${id} refused: ${err?.message ?? (e as Error).message}`);
        throw err ?? e;
      });
      while (!r.done) {
        tokens++;
        if (r.value.text) yield r.value.text;
        r = await stream.next();
      }
      done = true;
      const result = r.value;
      if (result.finishReason === "abort") {
        const err = this.cancelled(cancel)!;
        this.log(`#${n} ${id} ${err.message} after ${result.ids.length} tokens`);
        throw err;
      }
      const usage = { prompt_tokens: result.promptTokens, completion_tokens: result.ids.length, total_tokens: result.promptTokens + result.ids.length };
      this.log(`#${n} ${id} ${result.finishReason}: ${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens in ${Date.now() - t0} ms`);
      return { finishReason: result.finishReason, usage };
    } finally {
      if (!done) {
        // The caller stopped reading: end the generation now rather than at its next token.
        await stream.return(undefined as never);
        this.log(`#${n} ${id} cancelled: the caller stopped reading after ${tokens} tokens`);
      }
      release();
      this.finished();
    }
  }

  /** The error of a request cancelled through `signal`, if it was. */
  private cancelled(signal: AbortSignal): ApiError | undefined {
    if (this.shutdown.signal.aborted) return new ApiError(503, "cancelled: the server is shutting down", "server_error", "shutting_down", null, 5);
    if (signal.aborted) return new ApiError(499, "cancelled by the client", "invalid_request_error", "cancelled");
    return undefined;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }
}

async function drain(pieces: AsyncGenerator<string, Outcome>): Promise<{ text: string; outcome: Outcome }> {
  let text = "";
  let r = await pieces.next();
  while (!r.done) {
    text += r.value;
    r = await pieces.next();
  }
  return { text, outcome: r.value };
}

interface Meta {
  id: string;
  created: number;
  model: string;
}

/**
 * Runs `gen` to its first value, so that what fails before it throws here, and returns the iterator
 * (first value included). From then on, breaking out of a loop over it ends the run and frees its slot.
 */
async function started<T>(gen: AsyncGenerator<T>): Promise<AsyncIterableIterator<T>> {
  let first: IteratorResult<T> | undefined = await gen.next();
  const it: AsyncIterableIterator<T> = {
    next: () => {
      const r = first;
      first = undefined;
      return r ? Promise.resolve(r) : gen.next();
    },
    return: (value?: unknown) => {
      first = undefined;
      return gen.return(value);
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}

/** How one kind of completion streams: its chunk around some choices, and the choice for each event. */
interface StreamShape<Chunk, Choice> {
  chunk(choices: Choice[], usage?: Usage | null): Chunk;
  /** Sent before the first text (the chat stream announces the assistant's role). */
  start?: Choice;
  text(text: string): Choice;
  end(finish: FinishReason): Choice;
}

/** The chunks of a streamed reply; with `includeUsage`, a last chunk with no choices holds the usage. */
async function* streamChunks<Chunk, Choice>(pieces: AsyncGenerator<string, Outcome>, includeUsage: boolean, shape: StreamShape<Chunk, Choice>): AsyncGenerator<Chunk> {
  const usage = includeUsage ? null : undefined;
  try {
    let r = await pieces.next();
    if (shape.start) yield shape.chunk([shape.start], usage);
    while (!r.done) {
      yield shape.chunk([shape.text(r.value)], usage);
      r = await pieces.next();
    }
    yield shape.chunk([shape.end(r.value.finishReason)], usage);
    if (includeUsage) yield shape.chunk([], r.value.usage);
  } finally {
    await pieces.return(undefined as never);
  }
}

const withUsage = (usage: Usage | null | undefined) => (usage === undefined ? {} : { usage });

function chatChunks(pieces: AsyncGenerator<string, Outcome>, meta: Meta, includeUsage: boolean): AsyncGenerator<ChatCompletionChunk> {
  type Choice = ChatCompletionChunk["choices"][number];
  const choice = (delta: Choice["delta"], finish: FinishReason | null): Choice => ({ index: 0, delta, finish_reason: finish, logprobs: null });
  return streamChunks<ChatCompletionChunk, Choice>(pieces, includeUsage, {
    chunk: (choices, usage) => ({ ...meta, object: "chat.completion.chunk", choices, ...withUsage(usage) }),
    start: choice({ role: "assistant", content: "" }, null),
    text: (content) => choice({ content }, null),
    end: (finish) => choice({}, finish),
  });
}

function completionChunks(pieces: AsyncGenerator<string, Outcome>, meta: Meta, includeUsage: boolean): AsyncGenerator<Completion> {
  type Choice = Completion["choices"][number];
  const choice = (text: string, finish: FinishReason | null): Choice => ({ index: 0, text, finish_reason: finish, logprobs: null });
  return streamChunks<Completion, Choice>(pieces, includeUsage, {
    chunk: (choices, usage) => ({ ...meta, object: "text_completion", choices, ...withUsage(usage) }),
    text: (text) => choice(text, null),
    end: (finish) => choice("", finish),
  });
}
