/**
 * The parts of a `tokenizer.json` pipeline around the model: normalizer, pre-tokenizer, post-processor and decoder.
 * Only the component types Gemma's tokenizers use (plus a few trivial neighbours) are supported; anything else is a
 * TokenizerError naming the type, rather than a silent difference from HF `tokenizers`.
 */
import { TokenizerError } from "./errors.js";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  return isObject(v) && typeof v.type === "string" ? JSON.stringify(v.type) : JSON.stringify(v)?.slice(0, 80) ?? String(v);
}

/** A `{"String": "..."}` pattern; regex patterns are not supported. */
function stringPattern(p: unknown, where: string): string {
  if (isObject(p) && typeof p.String === "string") return p.String;
  if (isObject(p) && typeof p.Regex === "string") {
    throw new TokenizerError(`unsupported ${where}: regex patterns are not supported (${JSON.stringify(p.Regex)})`);
  }
  throw new TokenizerError(`malformed tokenizer.json: ${where} has no string pattern`);
}

// ---------------------------------------------------------------------------------------------------- normalizer

export type Normalizer = (text: string) => string;

export function buildNormalizer(spec: unknown): Normalizer | undefined {
  if (spec == null) return undefined;
  if (!isObject(spec)) throw new TokenizerError(`malformed tokenizer.json: normalizer is not an object`);
  switch (spec.type) {
    case "Sequence": {
      if (!Array.isArray(spec.normalizers)) {
        throw new TokenizerError(`malformed tokenizer.json: normalizer Sequence without a normalizers list`);
      }
      const parts = spec.normalizers.map((n) => buildNormalizer(n)).filter((n): n is Normalizer => !!n);
      return (t) => parts.reduce((acc, f) => f(acc), t);
    }
    case "Replace": {
      const pattern = stringPattern(spec.pattern, "normalizer Replace");
      const content = typeof spec.content === "string" ? spec.content : "";
      if (pattern === "") return (t) => t;
      return (t) => t.split(pattern).join(content);
    }
    case "Prepend": {
      const prepend = typeof spec.prepend === "string" ? spec.prepend : "";
      return (t) => (t.length > 0 ? prepend + t : t);
    }
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = spec.type;
      return (t) => t.normalize(form);
    }
    case "Lowercase":
      return (t) => t.toLowerCase();
    default:
      throw new TokenizerError(`unsupported normalizer type ${describe(spec)}`);
  }
}

// ------------------------------------------------------------------------------------------------- pre-tokenizer

export type PreTokenizer = (text: string) => string[];

type SplitBehavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

/** tokenizers' `split` with a literal delimiter and one of its SplitDelimiterBehavior values. */
function splitOn(text: string, delim: string, behavior: Exclude<SplitBehavior, "Contiguous">): string[] {
  // Alternating pieces: [text, delim, text, delim, ..., text].
  const pieces: { s: string; match: boolean }[] = [];
  let from = 0;
  for (;;) {
    const at = text.indexOf(delim, from);
    if (at < 0) break;
    if (at > from) pieces.push({ s: text.slice(from, at), match: false });
    pieces.push({ s: delim, match: true });
    from = at + delim.length;
  }
  if (from < text.length) pieces.push({ s: text.slice(from), match: false });
  const out: string[] = [];
  switch (behavior) {
    case "Removed":
      for (const p of pieces) if (!p.match) out.push(p.s);
      break;
    case "Isolated":
      for (const p of pieces) out.push(p.s);
      break;
    case "MergedWithPrevious": {
      let prevWasText = false;
      for (const p of pieces) {
        if (p.match && prevWasText) {
          out[out.length - 1] += p.s;
          prevWasText = false;
        } else {
          out.push(p.s);
          prevWasText = !p.match;
        }
      }
      break;
    }
    case "MergedWithNext": {
      let carry = "";
      for (const p of pieces) {
        if (p.match) {
          if (carry !== "") out.push(carry);
          carry = p.s;
        } else {
          out.push(carry + p.s);
          carry = "";
        }
      }
      if (carry !== "") out.push(carry);
      break;
    }
  }
  return out.filter((s) => s.length > 0);
}

/** Contiguous: runs of consecutive delimiters become one piece. */
function contiguousSplit(text: string, delim: string): string[] {
  const out: string[] = [];
  let from = 0;
  let lastMatch = false;
  for (;;) {
    const at = text.indexOf(delim, from);
    if (at < 0) break;
    if (at > from) {
      out.push(text.slice(from, at));
      lastMatch = false;
    }
    if (lastMatch) out[out.length - 1] += delim;
    else out.push(delim);
    lastMatch = true;
    from = at + delim.length;
  }
  if (from < text.length) out.push(text.slice(from));
  return out;
}

export function buildPreTokenizer(spec: unknown): PreTokenizer | undefined {
  if (spec == null) return undefined;
  if (!isObject(spec)) throw new TokenizerError(`malformed tokenizer.json: pre_tokenizer is not an object`);
  switch (spec.type) {
    case "Sequence": {
      if (!Array.isArray(spec.pretokenizers)) {
        throw new TokenizerError(`malformed tokenizer.json: pre_tokenizer Sequence without a pretokenizers list`);
      }
      const parts = spec.pretokenizers.map((p) => buildPreTokenizer(p)).filter((p): p is PreTokenizer => !!p);
      return (t) => parts.reduce<string[]>((words, f) => words.flatMap(f), [t]);
    }
    case "Split": {
      const delim = stringPattern(spec.pattern, "pre_tokenizer Split");
      if (spec.invert === true) throw new TokenizerError(`unsupported pre_tokenizer Split with invert=true`);
      const behavior = spec.behavior as SplitBehavior;
      const known: SplitBehavior[] = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"];
      if (!known.includes(behavior)) {
        throw new TokenizerError(`unsupported pre_tokenizer Split behavior ${JSON.stringify(spec.behavior)}`);
      }
      if (delim === "") return (t) => [t];
      if (behavior === "Contiguous") return (t) => contiguousSplit(t, delim);
      return (t) => splitOn(t, delim, behavior);
    }
    default:
      throw new TokenizerError(`unsupported pre_tokenizer type ${describe(spec)}`);
  }
}

// ------------------------------------------------------------------------------------------------ post-processor

/** A TemplateProcessing `single` template: literal id runs and the sequence slot (`null`). */
export type SingleTemplate = (number[] | null)[];

export function buildPostProcessor(spec: unknown): SingleTemplate | undefined {
  if (spec == null) return undefined;
  if (!isObject(spec)) throw new TokenizerError(`malformed tokenizer.json: post_processor is not an object`);
  if (spec.type !== "TemplateProcessing") {
    throw new TokenizerError(`unsupported post_processor type ${describe(spec)}`);
  }
  if (!Array.isArray(spec.single)) {
    throw new TokenizerError(`malformed tokenizer.json: TemplateProcessing without a single template`);
  }
  const specials = isObject(spec.special_tokens) ? spec.special_tokens : {};
  const out: SingleTemplate = [];
  for (const item of spec.single) {
    if (isObject(item) && isObject(item.Sequence)) {
      out.push(null);
    } else if (isObject(item) && isObject(item.SpecialToken)) {
      const name = item.SpecialToken.id;
      const entry = typeof name === "string" ? specials[name] : undefined;
      if (!isObject(entry) || !Array.isArray(entry.ids) || !entry.ids.every((x) => Number.isInteger(x))) {
        throw new TokenizerError(
          `malformed tokenizer.json: TemplateProcessing special token ${JSON.stringify(name)} has no ids`,
        );
      }
      out.push(entry.ids as number[]);
    } else {
      throw new TokenizerError(`malformed tokenizer.json: TemplateProcessing item ${JSON.stringify(item)}`);
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------------- decoder

export type DecoderStep =
  | { kind: "replace"; pattern: string; content: string }
  | { kind: "byteFallback" }
  | { kind: "fuse" };

/** The decoder as a flat list of steps; `undefined` means no decoder (tokens are joined with spaces). */
export function buildDecoder(spec: unknown): DecoderStep[] | undefined {
  if (spec == null) return undefined;
  const steps: DecoderStep[] = [];
  const add = (d: unknown): void => {
    if (!isObject(d)) throw new TokenizerError(`malformed tokenizer.json: decoder is not an object`);
    switch (d.type) {
      case "Sequence":
        if (!Array.isArray(d.decoders)) {
          throw new TokenizerError(`malformed tokenizer.json: decoder Sequence without a decoders list`);
        }
        d.decoders.forEach(add);
        return;
      case "Replace":
        steps.push({
          kind: "replace",
          pattern: stringPattern(d.pattern, "decoder Replace"),
          content: typeof d.content === "string" ? d.content : "",
        });
        return;
      case "ByteFallback":
        steps.push({ kind: "byteFallback" });
        return;
      case "Fuse":
        steps.push({ kind: "fuse" });
        return;
      default:
        throw new TokenizerError(`unsupported decoder type ${describe(d)}`);
    }
  };
  add(spec);
  return steps;
}

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
export const isByteToken = (t: string): boolean => t.length === 6 && BYTE_TOKEN.test(t);

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** tokenizers' ByteFallback: runs of byte tokens become their UTF-8 text, or one U+FFFD per byte if invalid. */
function byteFallback(tokens: string[]): string[] {
  const out: string[] = [];
  let run: number[] = [];
  const flush = (): void => {
    if (run.length === 0) return;
    let s: string | undefined;
    try {
      s = utf8.decode(Uint8Array.from(run));
    } catch {
      s = undefined;
    }
    if (s !== undefined) out.push(s);
    else for (let i = 0; i < run.length; i++) out.push("\uFFFD");
    run = [];
  };
  for (const t of tokens) {
    if (isByteToken(t)) run.push(parseInt(t.slice(3, 5), 16));
    else {
      flush();
      out.push(t);
    }
  }
  flush();
  return out;
}

/** Run the decoder steps over token strings (tokenizers' `decode_chain`, then the final join). */
export function runDecoder(steps: DecoderStep[] | undefined, tokens: string[]): string {
  if (steps === undefined) return tokens.join(" ");
  let cur = tokens;
  for (const step of steps) {
    switch (step.kind) {
      case "replace":
        if (step.pattern !== "") cur = cur.map((t) => t.split(step.pattern).join(step.content));
        break;
      case "byteFallback":
        cur = byteFallback(cur);
        break;
      case "fuse":
        cur = [cur.join("")];
        break;
    }
  }
  return cur.join("");
}
