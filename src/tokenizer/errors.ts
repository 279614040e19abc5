/**
 * Errors raised by the tokenizer: an unsupported or malformed tokenizer.json, or bad input to decode.
 * Kept free of Node-only APIs so that the tokenizer can run in a browser.
 */
export class TokenizerError extends Error {
  /** Exit code a CLI should use when it reports this error (mirrors the project's user-error convention). */
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
