// gemma3n tokenize / detokenize: the model's tokenizer and chat template on their own.
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { NoTokenizerError, type TokenizerBundle } from "../checkpoint/tokenizer-files.js";
import { InputError } from "../errors.js";
import { resolveModelPath, loadTokenizer } from "../node/load.js";
import { encodeChat, type ChatMessage } from "../tokenizer/chat-template.js";
import { parseIds } from "./args.js";
import { modelOptions, writeJson } from "./common.js";

async function openTokenizer(model: string): Promise<TokenizerBundle> {
  const bundle = await loadTokenizer(model, { progress: true });
  if (!bundle) throw new NoTokenizerError(await resolveModelPath(model));
  return bundle;
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

function checkMessages(m: unknown, where: string): ChatMessage[] {
  const ok = Array.isArray(m) && m.length > 0 && m.every((x) => typeof x === "object" && x !== null && typeof x.role === "string" && (typeof x.content === "string" || Array.isArray(x.content)));
  if (!ok) throw new InputError(`${where}: messages must be a non-empty JSON array of {"role": string, "content": string | parts}`);
  return m as ChatMessage[];
}

type Request = { text: string; bos?: boolean } | { messages: ChatMessage[] };

function run(b: TokenizerBundle, r: Request): { ids: number[]; text: string } {
  if ("messages" in r) {
    if (!b.chatTemplate) throw new InputError("this tokenizer has no chat template");
    return encodeChat(b.tokenizer, b.chatTemplate, r.messages);
  }
  return { ids: b.tokenizer.encode(r.text, { addBos: r.bos ?? true }), text: r.text };
}

function parseRequest(line: string, n: number, path: string): Request {
  let r: unknown;
  try {
    r = JSON.parse(line);
  } catch (e) {
    throw new InputError(`${path}:${n}: not valid JSON (${(e as Error).message})`);
  }
  const o = r as Record<string, unknown>;
  if (typeof o !== "object" || o === null) throw new InputError(`${path}:${n}: expected an object with "text" or "messages"`);
  if (o.messages !== undefined) return { messages: checkMessages(o.messages, `${path}:${n}`) };
  if (typeof o.text !== "string") throw new InputError(`${path}:${n}: expected "text" (a string) or "messages"`);
  if (o.bos !== undefined && typeof o.bos !== "boolean") throw new InputError(`${path}:${n}: "bos" must be true or false`);
  return { text: o.text, bos: o.bos as boolean | undefined };
}

export function registerTokenize(program: Command): void {
  // --weights and --dtype are accepted as on every command; the tokenizer does not read weights.
  modelOptions(program.command("tokenize").description("encode text, or a chat rendered with the model's template, into token ids"))
    .option("--text <text>", "text to encode (a <bos> is added unless --no-bos)")
    .option("--no-bos", "do not add <bos> to --text")
    .option("--messages <file.json>", "a JSON array of {role, content} rendered with the chat template")
    .option("--batch <file.jsonl>", 'one request per line: {"text": ..., "bos": true|false} or {"messages": [...]}')
    .option("--json", 'print {"ids": [...], "text": "..."}')
    .action(async (f: { model: string; text?: string; bos: boolean; messages?: string; batch?: string; json?: boolean }) => {
      const given = [f.text, f.messages, f.batch].filter((x) => x !== undefined).length;
      if (given !== 1) throw new InputError("give exactly one of --text, --messages and --batch");
      if (f.batch !== undefined) {
        let lines: string[];
        try {
          lines = readFileSync(f.batch, "utf8").split("\n");
        } catch (e) {
          throw new InputError(`cannot read batch file ${f.batch}: ${(e as Error).message}`);
        }
        const requests = lines.map((l, i) => [l, i + 1] as const).filter(([l]) => l.trim() !== "").map(([l, n]) => parseRequest(l, n, f.batch!));
        const b = await openTokenizer(f.model);
        for (const r of requests) writeJson(run(b, r));
        return;
      }
      const request: Request = f.text !== undefined ? { text: f.text, bos: f.bos } : { messages: checkMessages(readJsonFile(f.messages!, "messages file"), f.messages!) };
      const result = run(await openTokenizer(f.model), request);
      if (f.json) writeJson(result);
      else process.stdout.write(result.ids.join(",") + "\n");
    });

  modelOptions(program.command("detokenize").description("decode token ids to text (special tokens kept)"))
    .requiredOption("--ids <ids>", "comma-separated token ids")
    .option("--json", 'print {"text": "..."}')
    .action(async (f: { model: string; ids: string; json?: boolean }) => {
      const ids = parseIds(f.ids);
      const { tokenizer } = await openTokenizer(f.model);
      const text = tokenizer.decode(ids);
      if (f.json) writeJson({ text });
      else process.stdout.write(text + "\n");
    });
}
