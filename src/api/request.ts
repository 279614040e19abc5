// Checking API requests and turning them into a prompt and generation options. Every refusal names
// the parameter at fault, as OpenAI's errors do. Requests are JSON of unknown shape until checked here.
import type { GenerateOptions } from "../generate/generate.js";
import type { Prompt } from "../model/gemma3n.js";
import type { ChatMessage, ContentPart } from "../tokenizer/chat-template.js";
import { badRequest } from "./errors.js";
import { audioSamples, imageBytes, type FetchMedia, type MediaLimits } from "./media.js";

export interface ApiLimits extends MediaLimits {
  maxMessages: number;
  /** Most image and audio parts in one request. */
  maxMediaParts: number;
  /** Largest max_tokens a request may ask for; also the default. */
  maxTokens: number;
}

export const defaultLimits: ApiLimits = {
  maxMessages: 256,
  maxMediaParts: 16,
  maxTokens: 4096,
  maxImageBytes: 20 * 1024 * 1024,
  maxImagePixels: 4096 * 4096,
  maxAudioSeconds: 30,
};

/** A checked request. */
export interface ParsedRequest {
  model: string;
  prompt: Prompt;
  options: GenerateOptions;
  stream: boolean;
  includeUsage: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);

function body(v: unknown): Json {
  if (!isObject(v)) throw badRequest(`the request body must be a JSON object, got ${describe(v)}`);
  return v;
}

/** o[key] as a number (null and absent are undefined), checked by `valid` which describes the allowed values. */
function num(o: Json, key: string, valid: (n: number) => boolean, allowed: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || !valid(v)) throw badRequest(`${key} must be ${allowed}, got ${JSON.stringify(v)}`, key);
  return v;
}

function bool(o: Json, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw badRequest(`${key} must be a boolean, got ${describe(v)}`, key);
  return v;
}

function str(o: Json, key: string, param = key): string {
  const v = o[key];
  if (typeof v !== "string") throw badRequest(`${param} must be a string, got ${describe(v)}`, param);
  return v;
}

/** Parameters this runtime does not implement: refused unless they ask for the default. */
function refuseUnsupported(o: Json, keys: Record<string, (v: unknown) => boolean>): void {
  for (const [key, isDefault] of Object.entries(keys)) {
    const v = o[key];
    if (v !== undefined && v !== null && !isDefault(v)) throw badRequest(`${key} is not supported by this server`, key);
  }
}

const isInt = Number.isSafeInteger;

/** The parameters shared by chat and text completions. */
function samplingParams(o: Json, limits: ApiLimits, maxTokensKeys: string[]): Omit<ParsedRequest, "prompt"> {
  const model = str(o, "model");
  num(o, "n", (x) => x === 1, "1 (one choice per request)");
  refuseUnsupported(o, {
    frequency_penalty: (v) => v === 0,
    presence_penalty: (v) => v === 0,
    logprobs: (v) => v === false,
    top_logprobs: (v) => v === 0,
    logit_bias: (v) => isObject(v) && Object.keys(v).length === 0,
    tools: (v) => Array.isArray(v) && v.length === 0,
    functions: (v) => Array.isArray(v) && v.length === 0,
    response_format: (v) => isObject(v) && v.type === "text",
  });
  let maxTokens: number | undefined;
  for (const key of maxTokensKeys) {
    maxTokens ??= num(o, key, (x) => isInt(x) && x >= 1 && x <= limits.maxTokens, `an integer in [1, ${limits.maxTokens}]`);
  }
  const temperature = num(o, "temperature", (x) => x >= 0 && x <= 2, "a number in [0, 2]");
  const stop = o.stop;
  let stopStrings: string[] | undefined;
  if (typeof stop === "string") stopStrings = [stop];
  else if (Array.isArray(stop)) {
    if (stop.length > 4 || !stop.every((s) => typeof s === "string")) throw badRequest("stop must be a string or an array of at most 4 strings", "stop");
    stopStrings = stop as string[];
  } else if (stop !== undefined && stop !== null) throw badRequest(`stop must be a string or an array of strings, got ${describe(stop)}`, "stop");
  const streamOptions = o.stream_options;
  if (streamOptions !== undefined && streamOptions !== null && !isObject(streamOptions)) throw badRequest("stream_options must be an object", "stream_options");
  const options: GenerateOptions = {
    maxTokens: maxTokens ?? limits.maxTokens,
    temperature,
    greedy: temperature === 0 ? true : undefined,
    topP: num(o, "top_p", (x) => x > 0 && x <= 1, "a number in (0, 1]"),
    topK: num(o, "top_k", (x) => isInt(x) && x >= 0, "an integer ≥ 0"),
    minP: num(o, "min_p", (x) => x >= 0 && x <= 1, "a number in [0, 1]"),
    repetitionPenalty: num(o, "repetition_penalty", (x) => x > 0, "a number > 0"),
    seed: num(o, "seed", isInt, "an integer"),
    stopStrings,
    ignoreEos: bool(o, "ignore_eos"),
  };
  return {
    model,
    options,
    stream: bool(o, "stream") ?? false,
    includeUsage: (streamOptions && bool(streamOptions, "include_usage")) ?? false,
  };
}

export interface MediaContext {
  limits: ApiLimits;
  /** Present when the operator allows http(s) image URLs. */
  fetchMedia?: FetchMedia;
  signal?: AbortSignal;
}

export async function parseChatRequest(input: unknown, ctx: MediaContext): Promise<ParsedRequest> {
  const o = body(input);
  const params = samplingParams(o, ctx.limits, ["max_completion_tokens", "max_tokens"]);
  const raw = o.messages;
  if (!Array.isArray(raw) || raw.length === 0) throw badRequest("messages must be a non-empty array", "messages");
  if (raw.length > ctx.limits.maxMessages) throw badRequest(`${raw.length} messages are more than the ${ctx.limits.maxMessages} this server accepts`, "messages");
  let mediaParts = 0;
  const messages: ChatMessage[] = [];
  for (const [i, m] of raw.entries()) {
    const at = `messages[${i}]`;
    if (!isObject(m)) throw badRequest(`${at} must be an object`, at);
    const role = m.role;
    if (role !== "system" && role !== "developer" && role !== "user" && role !== "assistant") {
      throw badRequest(`${at}.role must be system, developer, user or assistant, got ${JSON.stringify(role)}`, `${at}.role`);
    }
    const content = m.content;
    if (typeof content === "string") {
      messages.push({ role: role === "developer" ? "system" : role, content });
      continue;
    }
    if (!Array.isArray(content)) throw badRequest(`${at}.content must be a string or an array of content parts, got ${describe(content)}`, `${at}.content`);
    const parts: ContentPart[] = [];
    for (const [j, part] of content.entries()) {
      const p = `${at}.content[${j}]`;
      if (!isObject(part)) throw badRequest(`${p} must be an object`, p);
      if (part.type === "text") {
        parts.push({ type: "text", text: str(part, "text", `${p}.text`) });
        continue;
      }
      if (part.type !== "image_url" && part.type !== "input_audio") {
        throw badRequest(`${p}.type must be text, image_url or input_audio, got ${JSON.stringify(part.type)}`, `${p}.type`);
      }
      if (role !== "user") throw badRequest(`${p}: ${part.type} parts belong in user messages`, p);
      if (++mediaParts > ctx.limits.maxMediaParts) throw badRequest(`more than ${ctx.limits.maxMediaParts} image and audio parts in one request`, p);
      const payload = part[part.type];
      if (!isObject(payload)) throw badRequest(`${p}.${part.type} must be an object`, `${p}.${part.type}`);
      if (part.type === "image_url") {
        const url = str(payload, "url", `${p}.image_url.url`);
        parts.push({ type: "image", image: await imageBytes(url, `${p}.image_url`, ctx.limits, ctx.fetchMedia, ctx.signal) });
      } else {
        parts.push({ type: "audio", audio: await audioSamples(str(payload, "data", `${p}.input_audio.data`), `${p}.input_audio`, ctx.limits) });
      }
    }
    messages.push({ role: role === "developer" ? "system" : role, content: parts });
  }
  return { ...params, prompt: { messages } };
}

export function parseCompletionRequest(input: unknown, limits: ApiLimits): ParsedRequest {
  const o = body(input);
  const params = samplingParams(o, limits, ["max_tokens"]);
  refuseUnsupported(o, {
    echo: (v) => v === false,
    suffix: (v) => v === "",
    best_of: (v) => v === 1,
  });
  let prompt = o.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === "string" || Array.isArray(prompt[0]))) prompt = prompt[0];
  if (typeof prompt === "string") {
    if (prompt.length === 0) throw badRequest("prompt is empty", "prompt");
    return { ...params, prompt: { text: prompt, addBos: true } };
  }
  if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((id) => isInt(id) && (id as number) >= 0)) {
    return { ...params, prompt: { ids: prompt as number[] } };
  }
  throw badRequest("prompt must be a non-empty string or a non-empty array of token ids (one prompt per request)", "prompt");
}
