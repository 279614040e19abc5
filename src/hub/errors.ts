/** Error type for everything that goes wrong while resolving a model from the Hugging Face Hub. */

export type HubErrorCode =
  | "invalid" // bad repo id / revision / unsafe file name
  | "unauthorized" // 401/403: private or gated repo, missing or insufficient token
  | "not_found" // 404: repo, revision or file not found
  | "network" // endpoint unreachable, connection reset, timeout
  | "offline" // offline mode and the cache lacks what is needed
  | "integrity" // size or etag (sha256 / git sha1) mismatch after download
  | "http" // any other HTTP failure (429, 5xx, malformed answers)
  | "no_files"; // the repo has no file that the include filter accepts

export class HubError extends Error {
  readonly code: HubErrorCode;
  /** HTTP status, where the error came from an HTTP answer. */
  readonly status?: number;

  constructor(message: string, options: { code: HubErrorCode; status?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HubError";
    this.code = options.code;
    if (options.status !== undefined) this.status = options.status;
  }
}

/** True for the rejection an aborted AbortSignal causes (its reason, or a DOMException "AbortError"). */
export function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === "AbortError";
}
