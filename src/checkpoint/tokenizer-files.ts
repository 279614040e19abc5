// Tokenizer files of a model directory: tokenizer.json, tokenizer_config.json and an optional
// chat_template.jinja (which wins over the config's `chat_template`).
import { Gemma3nError } from "../errors.js";
import type { ModelFiles } from "../io/random-access.js";
import { ChatTemplate } from "../tokenizer/chat-template.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";

export interface TokenizerBundle {
  tokenizer: Tokenizer;
  chatTemplate?: ChatTemplate;
}

/** Exit code 2: the command needs text but the model has no tokenizer (token ids still work). */
export class NoTokenizerError extends Gemma3nError {
  constructor(location: string) {
    super(`${location} has no tokenizer.json, so text cannot be encoded or decoded; pass token ids with --ids instead`, 2);
  }
}

function parse(files: ModelFiles, name: string): unknown {
  try {
    return JSON.parse(files.readText(name));
  } catch (e) {
    throw new Gemma3nError(`${files.location}/${name}: not valid JSON (${(e as Error).message})`);
  }
}

export function loadTokenizerFiles(files: ModelFiles): TokenizerBundle | undefined {
  if (!files.exists("tokenizer.json")) return undefined;
  const config = files.exists("tokenizer_config.json") ? parse(files, "tokenizer_config.json") : undefined;
  const jinja = files.exists("chat_template.jinja") ? files.readText("chat_template.jinja") : undefined;
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromJSON(parse(files, "tokenizer.json"), config);
  } catch (e) {
    if (e instanceof Gemma3nError) throw e;
    throw new Gemma3nError(`${files.location}/tokenizer.json: ${(e as Error).message}`);
  }
  return { tokenizer, chatTemplate: ChatTemplate.fromTokenizerConfig(config, jinja) };
}
