// The OpenAI wire format this runtime speaks (the subset it implements), shared by the in-process API,
// the HTTP server and any future browser build. Field names are the API's own (snake_case).

export type ChatContentPart =
  | { type: "text"; text: string }
  /** `url` is a data URL (`data:image/png;base64,…`), or http(s) when the operator allows fetching. */
  | { type: "image_url"; image_url: { url: string; detail?: "auto" | "low" | "high" } }
  /** Base64 file bytes: WAV, MP3 or another format the audio decoder reads (`format` is not needed). */
  | { type: "input_audio"; input_audio: { data: string; format?: string } };

export interface ChatCompletionMessage {
  /** "developer" is treated as "system". */
  role: "system" | "developer" | "user" | "assistant";
  content: string | ChatContentPart[];
  name?: string;
}

/** Parameters shared by chat and text completions. */
export interface SamplingParams {
  model: string;
  max_tokens?: number | null;
  /** 0 decodes greedily. Absent: the checkpoint's generation_config defaults. */
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  /** Up to 4 strings; the reply is cut before the first one that appears. */
  stop?: string | string[] | null;
  /** Only 1 is supported. */
  n?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  /** Accepted when 0 (this runtime has no frequency or presence penalty). */
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  user?: string;
  // Extensions (the names vLLM uses).
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
  ignore_eos?: boolean | null;
}

export interface ChatCompletionRequest extends SamplingParams {
  messages: ChatCompletionMessage[];
  /** Wins over max_tokens when both are given. */
  max_completion_tokens?: number | null;
}

export interface CompletionRequest extends SamplingParams {
  /** Text (a one-element array is accepted too) or token ids. */
  prompt: string | [string] | number[] | [number[]];
}

export type FinishReason = "stop" | "length";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: "assistant"; content: string; refusal: null };
    finish_reason: FinishReason;
    logprobs: null;
  }[];
  usage: Usage;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string };
    finish_reason: FinishReason | null;
    logprobs: null;
  }[];
  /** Only on the last chunk, and only with `stream_options.include_usage` (then `choices` is empty). */
  usage?: Usage | null;
}

/** A text completion, and (with `stream`) each of its chunks. */
export interface Completion {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: { index: number; text: string; finish_reason: FinishReason | null; logprobs: null }[];
  usage?: Usage | null;
}

export interface ModelCard {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

export interface ModelList {
  object: "list";
  data: ModelCard[];
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
