// The library API.
export { loadModel, loadTokenizer, resolveModelPath, type LoadOptions } from "./node/load.js";
export { Gemma3n, Session, type ModelOptions, type Prompt } from "./model/gemma3n.js";
export type { ModelConfig, TextConfig } from "./model/config.js";
export type { GenerateOptions, GenerationChunk, GenerationResult, FinishReason } from "./generate/generate.js";
export type { SamplingOptions } from "./generate/sampler.js";
export { Tokenizer } from "./tokenizer/tokenizer.js";
export { ChatTemplate, type ChatMessage, type ContentPart } from "./tokenizer/chat-template.js";
export { Gemma3nError, CheckpointError, ConfigError, InputError } from "./errors.js";
export type { DType } from "./kernels/dtype.js";
export type { Backend } from "./kernels/backend.js";
export { ReferenceBackend } from "./kernels/reference.js";
// The OpenAI-compatible API: in process (any JavaScript runtime) and over HTTP (Node).
export { OpenAIApi, type OpenAIApiOptions, type CallOptions } from "./api/openai.js";
export { ApiError } from "./api/errors.js";
export { defaultLimits, type ApiLimits } from "./api/request.js";
export type { ChatCompletionRequest, ChatCompletion, ChatCompletionChunk, ChatCompletionMessage, ChatContentPart, CompletionRequest, Completion, ModelList } from "./api/types.js";
export { startServer, type ServeOptions, type RunningServer } from "./server/serve.js";
