// gemma3n generate: one reply to a prompt (through the chat template) or a continuation of raw ids.
import { Command } from "commander";
import { InputError } from "../errors.js";
import type { GenerateOptions } from "../generate/generate.js";
import type { Prompt } from "../model/gemma3n.js";
import type { ChatMessage } from "../tokenizer/chat-template.js";
import { collect, intOption, numOption, parseIds } from "./args.js";
import { modelOptions, openModel, readMediaFile, writeJson, type ModelFlags } from "./common.js";

interface Flags extends ModelFlags {
  prompt?: string;
  system?: string;
  ids?: string;
  maxTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  seed?: number;
  greedy?: boolean;
  ignoreEos?: boolean;
  json?: boolean;
  audio: string[];
  image: string[];
}

/** The sampling flags shared by generate and chat. */
export function samplingOptions(cmd: Command): Command {
  return cmd
    .option("--max-tokens <n>", "most tokens to generate", intOption("--max-tokens"), 256)
    .option("--temperature <t>", "sampling temperature (0 = greedy)", numOption("--temperature"))
    .option("--top-k <k>", "sample among the k most likely tokens", intOption("--top-k"))
    .option("--top-p <p>", "nucleus sampling: smallest set with probability ≥ p", numOption("--top-p"))
    .option("--min-p <p>", "drop tokens less likely than p × the top token", numOption("--min-p"))
    .option("--repeat-penalty <r>", "repetition penalty (1 = none)", numOption("--repeat-penalty"))
    .option("--seed <s>", "random seed, for reproducible sampling", intOption("--seed"))
    .option("--greedy", "always pick the most likely token");
}

export function generateOptions(f: Flags): GenerateOptions {
  return {
    maxTokens: f.maxTokens,
    greedy: f.greedy,
    temperature: f.temperature,
    topK: f.topK,
    topP: f.topP,
    minP: f.minP,
    repetitionPenalty: f.repeatPenalty,
    seed: f.seed,
    ignoreEos: f.ignoreEos,
  };
}

export function registerGenerate(program: Command): void {
  samplingOptions(modelOptions(program.command("generate").description("generate a reply to a prompt, streamed to stdout")))
    .option("--prompt <text>", "the user message (goes through the chat template)")
    .option("--system <text>", "a system prompt")
    .option("--ids <ids>", "comma-separated prompt token ids, used as they are (no tokenizer needed)")
    .option("--ignore-eos", "keep generating past end-of-sequence ids")
    .option("--json", 'print one JSON object {"ids", "text", "finish_reason"} instead of streaming')
    .option("--audio <file>", "an audio clip (WAV, MP3, FLAC, Ogg, …) before the prompt text, or for the placeholders of --ids; repeatable", collect, [])
    .option("--image <file>", "an image (PNG, JPEG, WebP) before the prompt text, or for the placeholders of --ids; repeatable", collect, [])
    .action(async (f: Flags) => {
      if ((f.prompt === undefined) === (f.ids === undefined)) throw new InputError("give exactly one of --prompt and --ids");
      if (f.system !== undefined && f.ids !== undefined) throw new InputError("--system goes with --prompt, not --ids");
      const audio = f.audio.map((p) => readMediaFile(p, "--audio"));
      const images = f.image.map((p) => readMediaFile(p, "--image"));
      let prompt: Prompt;
      if (f.ids !== undefined) prompt = { ids: parseIds(f.ids), audio, images };
      else {
        const messages: ChatMessage[] = [];
        if (f.system !== undefined) messages.push({ role: "system", content: f.system });
        const media = [...images.map((image) => ({ type: "image" as const, image })), ...audio.map((a) => ({ type: "audio" as const, audio: a }))];
        messages.push({ role: "user", content: media.length ? [...media, { type: "text", text: f.prompt! }] : f.prompt! });
        prompt = { messages };
      }
      const model = await openModel(f);
      try {
        const result = await model.complete(prompt, generateOptions(f), (chunk) => {
          if (!f.json && chunk.text !== undefined) process.stdout.write(chunk.text);
        });
        if (f.json) writeJson({ ids: result.ids, text: result.text ?? null, finish_reason: result.finishReason });
        else if (result.text === undefined) process.stdout.write(result.ids.join(",") + "\n");
        else process.stdout.write("\n");
      } finally {
        model.close();
      }
    });
}
