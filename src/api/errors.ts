// Errors of the OpenAI-compatible API: an HTTP status plus the OpenAI error body.
import { Gemma3nError } from "../errors.js";
import { ChatTemplateError } from "../tokenizer/chat-template.js";
import { TokenizerError } from "../tokenizer/errors.js";
import type { ErrorBody } from "./types.js";

export class ApiError extends Gemma3nError {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Seconds after which a retry may succeed (429 and 503). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }

  get body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A request that is malformed or asks for something this runtime cannot do (400). */
export const badRequest = (message: string, param: string | null = null, code: string | null = null) => new ApiError(400, message, "invalid_request_error", code, param);

/** The error a request gets for a failure inside the model: the user's input errors are 400s, the rest are bugs. */
export function toApiError(e: unknown): ApiError | undefined {
  if (e instanceof ApiError) return e;
  if (e instanceof Gemma3nError || e instanceof TokenizerError || e instanceof ChatTemplateError) return badRequest(e.message);
  return undefined;
}
