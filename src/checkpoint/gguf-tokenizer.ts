// The tokenizer and chat template stored in a GGUF's `tokenizer.*` metadata, rebuilt as the equivalent
// Hugging Face tokenizer.json so one BPE implementation serves both formats; and the reverse, the
// `tokenizer.*` metadata llama.cpp's converter writes for a Gemma tokenizer.json.
//
// Gemma's GGUF vocabulary is SentencePiece-style (`tokenizer.ggml.model` = "llama"): tokens, scores and
// token types, no merges. SentencePiece BPE merges the adjacent pair whose concatenation has the best
// score; HF's tokenizer.json lists the same merges explicitly, in score order (transformers derives them
// exactly so: every split of a piece into two vocabulary pieces, ordered by the piece's score).
import { CheckpointError } from "../errors.js";
import { ChatTemplate } from "../tokenizer/chat-template.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";
import type { GGUFEntry, GGUFValue } from "./gguf.js";
import { GGUFType } from "./gguf.js";
import type { TokenizerBundle } from "./tokenizer-files.js";

/** llama.cpp token types. */
export const enum TokenType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

type Json = Record<string, unknown>;

const SPACE = "▁";

function isMergeable(type: number): boolean {
  return type === TokenType.Normal || type === TokenType.UserDefined;
}

/**
 * Merges in rank order, derived from SentencePiece scores as transformers derives tokenizer.json's:
 * every split of a piece into two vocabulary pieces, by the piece's score, then piece id, then the
 * halves' ids. User-defined pieces (Gemma's whitespace runs) score 0 in the SentencePiece model, above
 * every normal piece; the converter overwrites their score with −1000, so it is not read.
 */
function mergesFromScores(tokens: readonly string[], scores: ArrayLike<number>, types: ArrayLike<number>, vocab: Map<string, number>): [string, string][] {
  const found: { l: string; r: string; score: number; id: number; li: number; ri: number }[] = [];
  for (let id = 0; id < tokens.length; id++) {
    if (!isMergeable(types[id]!)) continue;
    const score = types[id] === TokenType.UserDefined ? 0 : scores[id]!;
    const chars = Array.from(tokens[id]!);
    let prefix = "";
    for (let i = 1; i < chars.length; i++) {
      prefix += chars[i - 1];
      const suffix = chars.slice(i).join("");
      const li = vocab.get(prefix);
      const ri = vocab.get(suffix);
      if (li !== undefined && ri !== undefined) found.push({ l: prefix, r: suffix, score, id, li, ri });
    }
  }
  found.sort((a, b) => b.score - a.score || a.id - b.id || a.li - b.li || a.ri - b.ri);
  return found.map((m) => [m.l, m.r]);
}

function stringList(v: GGUFValue | undefined, key: string, where: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new CheckpointError(`${where}: metadata "${key}" must be a list of strings`);
  return v as string[];
}

function numberList(v: GGUFValue | undefined, key: string, n: number, where: string): ArrayLike<number> | undefined {
  if (v === undefined) return undefined;
  if (!ArrayBuffer.isView(v) || v instanceof BigInt64Array || v instanceof BigUint64Array || (v as ArrayLike<number>).length !== n) {
    throw new CheckpointError(`${where}: metadata "${key}" must be ${n} numbers (one per token)`);
  }
  return v as ArrayLike<number>;
}

/** The tokenizer of a GGUF, or undefined when it carries none. */
export function tokenizerFromGGUF(md: ReadonlyMap<string, GGUFValue>, where: string): TokenizerBundle | undefined {
  const model = md.get("tokenizer.ggml.model");
  const tokens = stringList(md.get("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens", where);
  if (model === undefined || tokens === undefined) return undefined;
  if (model !== "llama" && model !== "gpt2") {
    throw new CheckpointError(`${where}: tokenizer.ggml.model ${JSON.stringify(model)} is not supported (Gemma uses "llama")`);
  }
  const n = tokens.length;
  const types = numberList(md.get("tokenizer.ggml.token_type"), "tokenizer.ggml.token_type", n, where) ?? new Int32Array(n).fill(TokenType.Normal);
  const vocab = new Map<string, number>();
  const hfTokens: string[] = new Array(n);
  const added: Json[] = [];
  let unk: string | undefined;
  for (let id = 0; id < n; id++) {
    const type = types[id]!;
    // llama.cpp's converter writes "▁" as " " in user-defined tokens; tokenizer.json keeps "▁".
    const tok = type === TokenType.UserDefined ? tokens[id]!.replaceAll(" ", SPACE) : tokens[id]!;
    hfTokens[id] = tok;
    if (type === TokenType.Control || type === TokenType.UserDefined) {
      // llama.cpp matches these verbatim in the raw text, as HF does with non-normalized added tokens.
      added.push({ id, content: tok, special: type === TokenType.Control, normalized: false, lstrip: false, rstrip: false, single_word: false });
    }
    if (type === TokenType.Unknown) unk = tok;
    if (!vocab.has(tok)) vocab.set(tok, id);
  }
  let merges: unknown[];
  const stored = stringList(md.get("tokenizer.ggml.merges"), "tokenizer.ggml.merges", where);
  if (stored) merges = stored;
  else {
    const scores = numberList(md.get("tokenizer.ggml.scores"), "tokenizer.ggml.scores", n, where);
    if (!scores) throw new CheckpointError(`${where}: the vocabulary has neither tokenizer.ggml.merges nor tokenizer.ggml.scores`);
    const mergeable = new Map([...vocab].filter(([, id]) => isMergeable(types[id]!)));
    merges = mergesFromScores(hfTokens, scores, types, mergeable);
  }
  const addBos = md.get("tokenizer.ggml.add_bos_token") !== false;
  const bosId = md.get("tokenizer.ggml.bos_token_id");
  const bos = typeof bosId === "number" ? tokens[bosId] : undefined;
  const spacePrefix = md.get("tokenizer.ggml.add_space_prefix") === true;
  const replace = { type: "Replace", pattern: { String: " " }, content: SPACE };
  const json: Json = {
    model: { type: "BPE", vocab: Object.fromEntries(vocab), merges, unk_token: unk ?? null, fuse_unk: true, byte_fallback: true },
    added_tokens: added,
    normalizer: spacePrefix ? { type: "Sequence", normalizers: [{ type: "Prepend", prepend: SPACE }, replace] } : replace,
    pre_tokenizer: null,
    post_processor: bos !== undefined && addBos
      ? { type: "TemplateProcessing", single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } } }
      : null,
    decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: SPACE }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }] },
  };
  const tokenName = (key: string) => {
    const id = md.get(`tokenizer.ggml.${key}_token_id`);
    return typeof id === "number" ? tokens[id] : undefined;
  };
  const config = { add_bos_token: addBos, bos_token: bos, eos_token: tokenName("eos"), pad_token: tokenName("padding"), unk_token: unk };
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromJSON(json, config);
  } catch (e) {
    throw new CheckpointError(`${where}: the GGUF vocabulary is not usable (${(e as Error).message})`);
  }
  const template = md.get("tokenizer.chat_template");
  return { tokenizer, chatTemplate: ChatTemplate.fromTokenizerConfig({ ...config, chat_template: typeof template === "string" ? template : undefined }) };
}

// ---- writing ----------------------------------------------------------------------------------

const looksSpecial = (t: string) => t === "<pad>" || t === "<mask>" || t === "<2mass>" || t === "[@BOS@]" || (t.startsWith("<unused") && t.endsWith(">")) || (t.startsWith("<|") && t.endsWith("|>"));

/**
 * `tokenizer.*` metadata for a Gemma tokenizer.json + tokenizer_config.json, in the layout llama.cpp's
 * converter writes from tokenizer.model: a "llama" vocabulary of `vocabSize` entries ([PAD{id}] where
 * the tokenizer has no token), byte pieces typed BYTE, added tokens CONTROL (special) or USER_DEFINED
 * (with "▁" written as " "). tokenizer.json has no SentencePiece scores; each piece's score is minus the
 * rank of the first merge that makes it (what llama.cpp's SentencePiece tokenizer merges by), and the
 * merges themselves are written too (as llama.cpp does for BPE vocabularies).
 */
export function ggufTokenizerEntries(tokenizerJson: Json, config: Json, vocabSize: number): GGUFEntry[] {
  const model = tokenizerJson.model as Json | undefined;
  if (!model || model.type !== "BPE" || typeof model.vocab !== "object" || !Array.isArray(model.merges)) {
    throw new CheckpointError(`tokenizer.json: only BPE tokenizers (Gemma's) can be written to GGUF`);
  }
  const tokens = Array.from({ length: vocabSize }, (_, i) => `[PAD${i}]`);
  const types = new Int32Array(vocabSize).fill(TokenType.Unused);
  const scores = new Float32Array(vocabSize).fill(-10000);
  const vocab = model.vocab as Record<string, number>;
  for (const [tok, id] of Object.entries(vocab)) {
    if (id >= vocabSize) continue;
    tokens[id] = tok;
    types[id] = /^<0x[0-9A-Fa-f]{2}>$/.test(tok) ? TokenType.Byte : tok === model.unk_token ? TokenType.Unknown : TokenType.Normal;
    scores[id] = tok.length === 1 ? 0 : -1e9; // pieces no merge makes keep the lowest score
  }
  (model.merges as unknown[]).forEach((m, rank) => {
    const [l, r] = typeof m === "string" ? (m.split(" ") as [string, string]) : (m as [string, string]);
    const id = vocab[l + r];
    if (id !== undefined && id < vocabSize && scores[id]! < -rank) scores[id] = -rank;
  });
  for (const t of (tokenizerJson.added_tokens as Json[] | undefined) ?? []) {
    const id = t.id as number;
    const content = t.content as string;
    if (id >= vocabSize) continue;
    const special = t.special === true || looksSpecial(content);
    tokens[id] = special ? content : content.replaceAll(SPACE, " ");
    types[id] = special ? TokenType.Control : TokenType.UserDefined;
    scores[id] = -1000;
  }
  const idOf = (v: unknown): number | undefined => {
    const content = typeof v === "string" ? v : (v as Json | undefined)?.content;
    const id = typeof content === "string" ? tokens.indexOf(content) : -1;
    return id >= 0 ? id : undefined;
  };
  const entries: GGUFEntry[] = [
    { key: "tokenizer.ggml.model", type: GGUFType.String, value: "llama" },
    { key: "tokenizer.ggml.pre", type: GGUFType.String, value: "default" },
    { key: "tokenizer.ggml.tokens", type: GGUFType.Array, itemType: GGUFType.String, value: tokens },
    { key: "tokenizer.ggml.scores", type: GGUFType.Array, itemType: GGUFType.F32, value: scores },
    { key: "tokenizer.ggml.token_type", type: GGUFType.Array, itemType: GGUFType.I32, value: types },
    // llama.cpp's SentencePiece tokenizer ignores merges; they make our reader's BPE exactly tokenizer.json's.
    { key: "tokenizer.ggml.merges", type: GGUFType.Array, itemType: GGUFType.String, value: (model.merges as unknown[]).map((m) => (typeof m === "string" ? m : (m as string[]).join(" "))) },
  ];
  for (const [key, field] of [["bos", "bos_token"], ["eos", "eos_token"], ["unknown", "unk_token"], ["padding", "pad_token"]] as const) {
    const id = idOf(config[field]);
    if (id !== undefined) entries.push({ key: `tokenizer.ggml.${key}_token_id`, type: GGUFType.U32, value: id });
  }
  entries.push(
    { key: "tokenizer.ggml.add_bos_token", type: GGUFType.Bool, value: config.add_bos_token !== false },
    { key: "tokenizer.ggml.add_eos_token", type: GGUFType.Bool, value: config.add_eos_token === true },
    { key: "tokenizer.ggml.add_space_prefix", type: GGUFType.Bool, value: false },
  );
  if (typeof config.chat_template === "string") entries.push({ key: "tokenizer.chat_template", type: GGUFType.String, value: config.chat_template });
  return entries;
}
