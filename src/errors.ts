/**
 * Errors caused by the user's input (files, config, arguments, prompts), as opposed to bugs.
 * The CLI prints their message without a stack trace and exits with `exitCode`.
 */
export class Gemma3nError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = new.target.name;
  }
}
/** A checkpoint file that is missing, truncated, corrupt or holds the wrong tensors. */
export class CheckpointError extends Gemma3nError {}
/** A config.json that is not Gemma 3n or lacks a field the architecture needs. */
export class ConfigError extends Gemma3nError {}
/** Bad input to a run: token ids out of range, a prompt longer than the context, bad options. */
export class InputError extends Gemma3nError {}
