/**
 * Chat templates: the Jinja template of tokenizer_config.json / chat_template.jinja, rendered with
 * `@huggingface/jinja` the way transformers' `apply_chat_template` does (messages, add_generation_prompt, the
 * special tokens of tokenizer_config, raise_exception). No Node-only APIs.
 */
import { Environment, Interpreter, Template } from "@huggingface/jinja";
import type { Tokenizer } from "./tokenizer.js";
import { specialTokenContent } from "./tokenizer.js";

export type ContentPart =
  | { type: "text"; text: string }
  | { type: "image"; [k: string]: unknown }
  | { type: "audio"; [k: string]: unknown };

export interface ChatMessage {
  role: string;
  content: string | ContentPart[];
}

export interface RenderOptions {
  /** Append the prompt for the model's turn (`<start_of_turn>model\n`). Default true. */
  addGenerationPrompt?: boolean;
}

/** A chat template that cannot be parsed, that fails while rendering, or that raised an exception itself. */
export class ChatTemplateError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Thrown by the template's `raise_exception(...)`; its message is the template's own text. */
class RaisedByTemplate extends ChatTemplateError {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Copy of a value with only JSON-like data (strings, numbers, booleans, null, plain arrays and objects). Content
 * parts may carry image or audio payloads (typed arrays, blobs, class instances) that the template never reads and
 * that the Jinja runtime would otherwise walk element by element.
 */
function plainData(v: unknown, depth = 0): unknown {
  if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (depth > 32) return undefined;
  if (Array.isArray(v)) return v.map((x) => plainData(x, depth + 1)).filter((x) => x !== undefined);
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return undefined;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const c = plainData(x, depth + 1);
      if (c !== undefined) out[k] = c;
    }
    return out;
  }
  return undefined;
}

/** The special tokens transformers passes to a chat template: every `*_token` entry and `extra_special_tokens`. */
function specialTokensOf(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const extra = config.extra_special_tokens;
  if (isObject(extra)) {
    for (const [k, v] of Object.entries(extra)) {
      const c = specialTokenContent(v);
      if (c !== undefined) out[k] = c;
    }
  }
  for (const [k, v] of Object.entries(config)) {
    if (!k.endsWith("_token")) continue;
    const c = specialTokenContent(v);
    if (c !== undefined) out[k] = c;
  }
  return out;
}

/** Python's range(), as @huggingface/jinja provides it. */
function pyRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (step === 0) throw new Error("range() step must not be zero");
  const out: number[] = [];
  if (step > 0) for (let i = start; i < stop; i += step) out.push(i);
  else for (let i = start; i > stop; i += step) out.push(i);
  return out;
}

/** strftime_now(format) with the codes @huggingface/jinja supports (%Y %m %d %b %B %H %M %%). */
function strftimeNow(format: string): string {
  const date = new Date();
  const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n));
  return String(format).replace(/%[YmdbBHM%]/g, (t) => {
    switch (t) {
      case "%Y":
        return String(date.getFullYear());
      case "%m":
        return pad2(date.getMonth() + 1);
      case "%d":
        return pad2(date.getDate());
      case "%b":
        return new Intl.DateTimeFormat(undefined, { month: "short" }).format(date);
      case "%B":
        return new Intl.DateTimeFormat(undefined, { month: "long" }).format(date);
      case "%H":
        return pad2(date.getHours());
      case "%M":
        return pad2(date.getMinutes());
      default:
        return "%";
    }
  });
}

export class ChatTemplate {
  readonly source: string;
  readonly specialTokens: Readonly<Record<string, string>>;
  private readonly template: Template;

  /**
   * @param template the Jinja text
   * @param specialTokens the names the template may use (`bos_token`, `eos_token`, ...), as strings
   */
  constructor(template: string, specialTokens: Record<string, string> = {}) {
    if (typeof template !== "string") throw new ChatTemplateError(`chat template must be a string`);
    this.source = template;
    this.specialTokens = { ...specialTokens };
    try {
      this.template = new Template(template);
    } catch (e) {
      throw new ChatTemplateError(`chat template syntax error: ${(e as Error).message}`);
    }
  }

  /**
   * The template of a model: `chat_template.jinja` text when given, else tokenizer_config's `chat_template` (a
   * string, or a list of `{name, template}` from which "default" is taken). Undefined when there is none.
   */
  static fromTokenizerConfig(tokenizerConfig: unknown, chatTemplateJinja?: string): ChatTemplate | undefined {
    const config = isObject(tokenizerConfig) ? tokenizerConfig : {};
    const special = specialTokensOf(config);
    if (typeof chatTemplateJinja === "string") return new ChatTemplate(chatTemplateJinja, special);
    const ct = config.chat_template;
    if (ct == null) return undefined;
    if (typeof ct === "string") return new ChatTemplate(ct, special);
    if (Array.isArray(ct)) {
      const named = ct.filter(isObject);
      const def = named.find((t) => t.name === "default");
      if (def === undefined || typeof def.template !== "string") {
        const names = named.map((t) => JSON.stringify(t.name)).join(", ");
        throw new ChatTemplateError(`tokenizer_config chat_template list has no "default" template (found ${names || "none"})`);
      }
      return new ChatTemplate(def.template, special);
    }
    throw new ChatTemplateError(`tokenizer_config chat_template must be a string or a list of {name, template}`);
  }

  render(messages: ChatMessage[], opts: RenderOptions = {}): string {
    if (!Array.isArray(messages)) throw new ChatTemplateError(`render expects a list of messages`);
    const env = new Environment();
    // The globals of @huggingface/jinja's Template.render, with our own raise_exception so that an exception the
    // template raises can be told apart from a failure of the template engine.
    const globals: Record<string, unknown> = {
      false: false,
      true: true,
      none: null,
      False: false,
      True: true,
      None: null,
      range: pyRange,
      strftime_now: strftimeNow,
      raise_exception: (message: unknown): never => {
        throw new RaisedByTemplate(typeof message === "string" ? message : String(message));
      },
      ...this.specialTokens,
      messages: plainData(messages),
      add_generation_prompt: opts.addGenerationPrompt ?? true,
    };
    try {
      for (const [k, v] of Object.entries(globals)) env.set(k, v);
      const result = new Interpreter(env).run(this.template.parsed);
      return String(result.value);
    } catch (e) {
      if (e instanceof RaisedByTemplate) throw new ChatTemplateError(e.message);
      if (e instanceof ChatTemplateError) throw e;
      throw new ChatTemplateError(`chat template rendering failed: ${(e as Error).message ?? String(e)}`);
    }
  }
}

/**
 * Render `messages` and encode the text without the post-processor's BOS: the template already emits `<bos>`.
 * If the rendering does not start with BOS (and the tokenizer adds one by default), BOS is prepended once.
 */
export function encodeChat(
  tokenizer: Tokenizer,
  template: ChatTemplate,
  messages: ChatMessage[],
  opts: RenderOptions = {},
): { text: string; ids: number[] } {
  const text = template.render(messages, opts);
  const ids = tokenizer.encode(text, { addBos: false });
  const bos = tokenizer.bosId;
  if (tokenizer.addBosByDefault && bos !== undefined && ids[0] !== bos) ids.unshift(bos);
  return { text, ids };
}
