// Chat template rendering with @huggingface/jinja: errors, template precedence, special tokens, BOS handling.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tinyModelDir } from "./helpers.js";
import { ChatTemplate, ChatTemplateError, encodeChat, Tokenizer, type ChatMessage } from "../src/tokenizer/index.js";

const tinyConfig = JSON.parse(readFileSync(join(tinyModelDir, "tokenizer_config.json"), "utf8")) as Record<
  string,
  unknown
>;
const tinyJson = JSON.parse(readFileSync(join(tinyModelDir, "tokenizer.json"), "utf8")) as unknown;
const tiny = Tokenizer.fromJSON(tinyJson, tinyConfig);

const expectError = (fn: () => unknown, message: RegExp | string): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ChatTemplateError, `expected a ChatTemplateError, got ${String(e)}`);
    assert.equal(e.name, "ChatTemplateError");
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
};

test("roles that do not alternate: the template's raise_exception becomes a ChatTemplateError", () => {
  const template = ChatTemplate.fromTokenizerConfig(tinyConfig)!;
  const twoUsers: ChatMessage[] = [
    { role: "user", content: "a" },
    { role: "user", content: "b" },
  ];
  expectError(() => template.render(twoUsers), "Conversation roles must alternate user/assistant/user/assistant/...");
  expectError(() => template.render([{ role: "assistant", content: "first" }]), /roles must alternate/);
  expectError(() => template.render([{ role: "user", content: 42 as unknown as string }]), "Invalid content type");
});

test("jinja syntax and runtime errors are ChatTemplateErrors with a clear prefix", () => {
  expectError(() => new ChatTemplate("{% if %}"), /^chat template syntax error: /);
  expectError(() => new ChatTemplate("{% for m in messages %}no end"), /^chat template syntax error: /);
  const t = new ChatTemplate("{{ messages | no_such_filter }}");
  expectError(() => t.render([{ role: "user", content: "x" }]), /^chat template rendering failed: .*no_such_filter/);
});

test("chat_template.jinja wins over tokenizer_config.chat_template", () => {
  const jinja = "{{ bos_token }}JINJA{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}";
  const fromJinja = ChatTemplate.fromTokenizerConfig(tinyConfig, jinja)!;
  assert.equal(fromJinja.render([{ role: "user", content: "hi" }]), "<bos>JINJA[user:hi]");
  const fromConfig = ChatTemplate.fromTokenizerConfig(tinyConfig)!;
  assert.equal(
    fromConfig.render([{ role: "user", content: "hi" }]),
    "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n",
  );
  // A jinja file without any config still renders, without special tokens.
  assert.equal(ChatTemplate.fromTokenizerConfig(undefined, "X{{ bos_token }}Y")!.render([]), "XY");
});

test("tokenizer_config chat_template as a list of {name, template}: take default", () => {
  const config = {
    bos_token: { content: "<s>", lstrip: false },
    chat_template: [
      { name: "tool_use", template: "TOOLS" },
      { name: "default", template: "{{ bos_token }}DEFAULT{{ add_generation_prompt }}" },
    ],
  };
  assert.equal(ChatTemplate.fromTokenizerConfig(config)!.render([]), "<s>DEFAULTtrue");
  assert.equal(ChatTemplate.fromTokenizerConfig(config)!.render([], { addGenerationPrompt: false }), "<s>DEFAULTfalse");
  expectError(
    () => ChatTemplate.fromTokenizerConfig({ chat_template: [{ name: "tool_use", template: "T" }] }),
    /no "default" template \(found "tool_use"\)/,
  );
  assert.equal(ChatTemplate.fromTokenizerConfig({ bos_token: "<bos>" }), undefined);
  assert.equal(ChatTemplate.fromTokenizerConfig(undefined), undefined);
});

test("special tokens of tokenizer_config (strings, {content}, extra_special_tokens) reach the template", () => {
  const t = ChatTemplate.fromTokenizerConfig(
    tinyConfig,
    "{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{{ image_token }}|{{ audio_token }}|{{ boi_token }}",
  )!;
  assert.equal(t.render([]), "<bos>|<eos>|<pad>|<image_soft_token>|<audio_soft_token>|<start_of_image>");
  const direct = new ChatTemplate("{{ bos_token }}{{ messages[0].content }}", { bos_token: "<B>" });
  assert.equal(direct.render([{ role: "user", content: "q" }]), "<B>q");
});

test("add_generation_prompt defaults to true and can be turned off", () => {
  const t = ChatTemplate.fromTokenizerConfig(tinyConfig)!;
  const m: ChatMessage[] = [{ role: "user", content: "Hi" }];
  assert.ok(t.render(m).endsWith("<end_of_turn>\n<start_of_turn>model\n"));
  assert.ok(t.render(m, { addGenerationPrompt: false }).endsWith("Hi<end_of_turn>\n"));
});

test("binary payloads in content parts are not walked by the template engine", () => {
  const t = ChatTemplate.fromTokenizerConfig(tinyConfig)!;
  const big = new Float32Array(5_000_000);
  const messages: ChatMessage[] = [
    { role: "user", content: [{ type: "audio", samples: big }, { type: "image", pixels: new Uint8Array(10) }, { type: "text", text: "Hi" }] },
  ];
  const t0 = performance.now();
  assert.equal(
    t.render(messages),
    "<bos><start_of_turn>user\n<audio_soft_token><image_soft_token>Hi<end_of_turn>\n<start_of_turn>model\n",
  );
  assert.ok(performance.now() - t0 < 500);
});

test("encodeChat: the template's <bos> is not doubled; a template without it gets exactly one", () => {
  const withBos = ChatTemplate.fromTokenizerConfig(tinyConfig)!;
  const m: ChatMessage[] = [{ role: "user", content: "Hi" }];
  const a = encodeChat(tiny, withBos, m);
  assert.equal(a.ids[0], 2);
  assert.notEqual(a.ids[1], 2);
  assert.deepEqual(a.ids, tiny.encode(a.text, { addBos: false }));

  const noBos = new ChatTemplate("{% for m in messages %}<start_of_turn>{{ m.role }}\n{{ m.content }}<end_of_turn>\n{% endfor %}");
  const b = encodeChat(tiny, noBos, m);
  assert.equal(b.text, "<start_of_turn>user\nHi<end_of_turn>\n");
  assert.deepEqual(b.ids, [2, ...tiny.encode(b.text, { addBos: false })]);
  assert.deepEqual(b.ids.slice(0, 2), [2, 105]);
});
