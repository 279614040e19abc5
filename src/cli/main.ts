#!/usr/bin/env node
// The gemma3n command line. Each command is a thin layer over the library API.
import { Command, CommanderError } from "commander";
import { ChatTemplateError } from "../tokenizer/chat-template.js";
import { TokenizerError } from "../tokenizer/errors.js";
import { HubError } from "../hub/index.js";
import { Gemma3nError } from "../errors.js";
import { registerGenerate } from "./generate.js";
import { registerLogits } from "./logits.js";
import { registerTokenize } from "./tokenize.js";
import { registerChat } from "./chat.js";
import { registerInfo } from "./info.js";
import { registerSlice } from "./slice.js";
import { registerConvert } from "./convert.js";
import { registerServe } from "./serve.js";
import { registerBench } from "./bench.js";

/** Errors the user caused: print the message alone, no stack trace. */
function userMessage(e: unknown): { message: string; code: number } | undefined {
  if (e instanceof Gemma3nError) return { message: e.message, code: e.exitCode };
  if (e instanceof TokenizerError || e instanceof ChatTemplateError || e instanceof HubError) return { message: e.message, code: 1 };
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command("gemma3n")
    .description("Gemma 3n runtime: run Google's Gemma 3n checkpoints from Node.js")
    .showHelpAfterError()
    .exitOverride();
  registerGenerate(program);
  registerLogits(program);
  registerTokenize(program);
  registerChat(program);
  registerInfo(program);
  registerSlice(program);
  registerConvert(program);
  registerServe(program);
  registerBench(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    const user = userMessage(e);
    if (user) {
      process.stderr.write(`gemma3n: ${user.message}\n`);
      return user.code;
    }
    throw e;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`gemma3n: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
