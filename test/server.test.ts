// The OpenAI-compatible server, driven by the official `openai` client over loopback HTTP against the
// tiny model: completions plain and streamed, stop strings, seeds, cancellation, auth, limits and errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI, { APIError } from "openai";
import type { ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import { ApiError } from "../src/api/errors.js";
import type { ChatCompletion } from "../src/api/types.js";
import { base64, logLine, png, serveTiny, until, wav } from "./server-helpers.js";

const s = await serveTiny({ limits: { maxImagePixels: 1000 * 1000, maxAudioSeconds: 1, maxTokens: 5000 } }, { maxBodyBytes: 100 * 1024 });
const user = (content: string) => [{ role: "user" as const, content }];

/** The status and error body of a failed client call. */
async function apiError(call: Promise<unknown>): Promise<APIError> {
  try {
    await call;
  } catch (e) {
    if (e instanceof APIError) return e;
    throw e;
  }
  assert.fail("the call succeeded");
}

async function streamText(params: ChatCompletionCreateParamsStreaming) {
  const stream = await s.client.chat.completions.create(params);
  let text = "";
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null | undefined;
  let roleFirst: string | undefined;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    roleFirst ??= choice.delta.role;
    text += choice.delta.content ?? "";
    finish = choice.finish_reason ?? finish;
  }
  return { text, finish, usage, roleFirst };
}

test("GET /v1/models lists the model under its name; /health answers", async () => {
  const models = await s.client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ["hf-tiny"]);
  assert.equal((await s.client.models.retrieve("hf-tiny")).id, "hf-tiny");
  const missing = await apiError(s.client.models.retrieve("google/other-model"));
  assert.equal(missing.status, 404);
  assert.equal(missing.code, "model_not_found");
  const health = await (await fetch(`${s.server.url}/health`)).json();
  assert.deepEqual(health, { status: "ok", model: "hf-tiny", running: 0, waiting: 0 });
});

test("a chat completion equals the library's greedy reply, with usage", async () => {
  const messages = user("Tell me a story");
  const expected = await s.model.complete({ messages }, { greedy: true, maxTokens: 20 });
  const r = await s.client.chat.completions.create({ model: "hf-tiny", messages, temperature: 0, max_tokens: 20 });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.model, "hf-tiny");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0]!.message.role, "assistant");
  assert.equal(r.choices[0]!.message.content, expected.text);
  assert.equal(r.choices[0]!.finish_reason, expected.finishReason);
  assert.deepEqual(r.usage, { prompt_tokens: expected.promptTokens, completion_tokens: expected.ids.length, total_tokens: expected.promptTokens + expected.ids.length });
  // max_completion_tokens is the newer name of max_tokens.
  const short = await s.client.chat.completions.create({ model: "hf-tiny", messages, temperature: 0, max_completion_tokens: 3 });
  assert.equal(short.usage!.completion_tokens, 3);
  assert.equal(short.choices[0]!.finish_reason, "length");
});

test("streamed chunks join to the non-streamed text under greedy decoding", async () => {
  for (const [messages, max] of [[user("Hello there"), 40], [user("Once upon a time"), 7]] as const) {
    const plain = await s.client.chat.completions.create({ model: "hf-tiny", messages: [...messages], temperature: 0, max_tokens: max });
    const streamed = await streamText({ model: "hf-tiny", messages: [...messages], temperature: 0, max_tokens: max, stream: true, stream_options: { include_usage: true } });
    assert.equal(streamed.roleFirst, "assistant");
    assert.equal(streamed.text, plain.choices[0]!.message.content);
    assert.equal(streamed.finish, plain.choices[0]!.finish_reason);
    assert.deepEqual(streamed.usage, plain.usage);
  }
});

test("/v1/completions continues raw text and token ids, streamed or not", async () => {
  const expected = await s.model.complete({ text: "The sea is", addBos: true }, { greedy: true, maxTokens: 12, ignoreEos: true });
  const r = await s.client.completions.create({ model: "hf-tiny", prompt: "The sea is", temperature: 0, max_tokens: 12, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
  assert.equal(r.object, "text_completion");
  assert.equal(r.choices[0]!.text, expected.text);
  assert.equal(r.choices[0]!.finish_reason, "length");
  assert.equal(r.usage!.prompt_tokens, expected.promptTokens);
  const stream = await s.client.completions.create({ model: "hf-tiny", prompt: "The sea is", temperature: 0, max_tokens: 12, ignore_eos: true, stream: true } as OpenAI.CompletionCreateParamsStreaming);
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
  assert.equal(text, expected.text);
  const ids = s.model.tokenizer!.encode("The sea is");
  const byIds = await s.client.completions.create({ model: "hf-tiny", prompt: ids, temperature: 0, max_tokens: 12, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
  assert.equal(byIds.choices[0]!.text, expected.text);
});

test("stop sequences cut the reply before them, streamed or not", async () => {
  const messages = user("Hello there");
  const full = (await s.client.chat.completions.create({ model: "hf-tiny", messages, temperature: 0, max_tokens: 40 })).choices[0]!.message.content!;
  const stop = full.slice(6, 9);
  const cut = full.indexOf(stop);
  assert.ok(cut > 0 && stop.length === 3, `a stop string inside ${JSON.stringify(full)}`);
  const r = await s.client.chat.completions.create({ model: "hf-tiny", messages, temperature: 0, max_tokens: 40, stop: ["never appears", stop] });
  assert.equal(r.choices[0]!.message.content, full.slice(0, cut));
  assert.equal(r.choices[0]!.finish_reason, "stop");
  const streamed = await streamText({ model: "hf-tiny", messages, temperature: 0, max_tokens: 40, stop, stream: true });
  assert.equal(streamed.text, full.slice(0, cut));
  assert.equal(streamed.finish, "stop");
});

test("a seed makes sampling reproducible; temperature and top_p reach the sampler", async () => {
  const ask = (seed: number) =>
    s.client.chat.completions.create({ model: "hf-tiny", messages: user("Sing"), temperature: 1.5, top_p: 0.99, seed, max_tokens: 24, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  const [a, b, c] = [await ask(7), await ask(7), await ask(8)];
  assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
  assert.notEqual(a.choices[0]!.message.content, c.choices[0]!.message.content);
  const lib = await s.model.complete({ messages: user("Sing") }, { temperature: 1.5, topP: 0.99, seed: 7, maxTokens: 24, ignoreEos: true });
  assert.equal(a.choices[0]!.message.content, lib.text);
});

test("a client that disconnects mid-stream cancels its generation; the server logs it and stays healthy", async () => {
  const controller = new AbortController();
  const stream = await s.client.chat.completions.create(
    { model: "hf-tiny", messages: user("Go on forever"), temperature: 0, max_tokens: 5000, ignore_eos: true, stream: true } as ChatCompletionCreateParamsStreaming,
    { signal: controller.signal },
  );
  let chunks = 0;
  for await (const _ of stream) {
    // Chunks that arrived before the abort may still be buffered: stop reading at once.
    if (++chunks === 4) {
      controller.abort();
      break;
    }
  }
  const line = await logLine(s.logs, /cancelled.* after (\d+) tokens/);
  assert.ok(Number(/after (\d+) tokens/.exec(line)![1]) < 1000, line);
  assert.deepEqual(s.api.stats, { running: 0, waiting: 0 });
  const r = await s.client.chat.completions.create({ model: "hf-tiny", messages: user("Still there?"), max_tokens: 2 });
  assert.equal(r.usage!.completion_tokens <= 2, true);
});

test("a client that gives up on a non-streamed request cancels it too", async () => {
  s.logs.length = 0;
  const controller = new AbortController();
  const call = s.client.chat.completions.create(
    { model: "hf-tiny", messages: user("A long one"), max_tokens: 5000, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsNonStreaming,
    { signal: controller.signal },
  );
  setTimeout(() => controller.abort(), 150);
  await assert.rejects(call, OpenAI.APIUserAbortError);
  await logLine(s.logs, /cancelled by the client after \d+ tokens/);
  assert.deepEqual(s.api.stats, { running: 0, waiting: 0 });
});

test("a full queue answers 429 with Retry-After; a waiting request runs after the running one", async () => {
  const busy = await serveTiny({ maxConcurrency: 2 });
  const long = { model: "hf-tiny", messages: user("Keep going"), max_tokens: 4000, ignore_eos: true, stream: true } as ChatCompletionCreateParamsStreaming;
  const controller = new AbortController();
  const first = await busy.client.chat.completions.create(long, { signal: controller.signal });
  const waiting = busy.client.chat.completions.create({ model: "hf-tiny", messages: user("Me next"), max_tokens: 2 });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(busy.api.stats, { running: 1, waiting: 1 });
  const refused = await apiError(busy.client.chat.completions.create({ model: "hf-tiny", messages: user("And me"), max_tokens: 2 }));
  assert.equal(refused.status, 429);
  assert.equal(refused.headers?.get("retry-after"), "1");
  assert.equal(refused.code, "queue_full");
  controller.abort();
  for await (const _ of first);
  assert.equal((await waiting).choices.length, 1);
});

test("with --api-key every route but /health needs the bearer token", async () => {
  const locked = await serveTiny({}, { apiKey: "sesame" });
  assert.equal((await locked.client.models.list()).data[0]!.id, "hf-tiny");
  for (const key of ["wrong", "sesame2", "sesam"]) {
    const other = new OpenAI({ baseURL: `${locked.server.url}/v1`, apiKey: key, maxRetries: 0 });
    const e = await apiError(other.chat.completions.create({ model: "hf-tiny", messages: user("hi") }));
    assert.equal(e.status, 401);
    assert.equal(e.code, "invalid_api_key");
  }
  const bare = await fetch(`${locked.server.url}/v1/models`);
  assert.equal(bare.status, 401);
  assert.equal(((await bare.json()) as { error: { code: string } }).error.code, "invalid_api_key");
  assert.equal((await fetch(`${locked.server.url}/health`)).status, 200);
});

test("malformed requests get the right status and an OpenAI error body", async () => {
  const post = async (path: string, body: string) => {
    const res = await fetch(`${s.server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    return { status: res.status, error: ((await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } }).error };
  };
  const badJson = await post("/v1/chat/completions", '{"model": "hf-tiny", "messages": [');
  assert.equal(badJson.status, 400);
  assert.match(badJson.error.message, /not valid JSON/);
  assert.equal(badJson.error.type, "invalid_request_error");
  assert.equal((await post("/v1/chat/completions", "[1, 2]")).status, 400);
  assert.equal((await post("/v1/nothing", "{}")).status, 404);

  const chat = (extra: Record<string, unknown>) => apiError(s.client.chat.completions.create({ model: "hf-tiny", messages: user("hi"), ...extra } as never));
  const cases: [Record<string, unknown>, number, string | null, RegExp][] = [
    [{ temperature: "hot" }, 400, "temperature", /temperature must be a number in \[0, 2\]/],
    [{ temperature: 3 }, 400, "temperature", /temperature/],
    [{ max_tokens: 0 }, 400, "max_tokens", /max_tokens must be an integer in \[1, 5000\]/],
    [{ max_tokens: 5001 }, 400, "max_tokens", /5000/],
    [{ max_tokens: 2.5 }, 400, "max_tokens", /integer/],
    [{ n: 2 }, 400, "n", /n must be 1/],
    [{ stop: ["a", "b", "c", "d", "e"] }, 400, "stop", /at most 4/],
    [{ stop: 5 }, 400, "stop", /stop must be/],
    [{ seed: 1.5 }, 400, "seed", /integer/],
    [{ top_p: 0 }, 400, "top_p", /top_p/],
    [{ presence_penalty: 0.5 }, 400, "presence_penalty", /not supported/],
    [{ logprobs: true }, 400, "logprobs", /not supported/],
    [{ messages: [] }, 400, "messages", /non-empty array/],
    [{ messages: "hi" }, 400, "messages", /non-empty array/],
    [{ messages: [{ role: "tool", content: "x" }] }, 400, "messages[0].role", /role must be/],
    [{ messages: [{ role: "user", content: 5 }] }, 400, "messages[0].content", /string or an array/],
    [{ messages: [{ role: "user", content: [{ type: "video", video: {} }] }] }, 400, "messages[0].content[0].type", /text, image_url or input_audio/],
    [{ messages: [{ role: "user", content: [{ type: "text", text: 1 }] }] }, 400, "messages[0].content[0].text", /must be a string/],
    [{ messages: Array.from({ length: 257 }, () => ({ role: "user", content: "a" })) }, 400, "messages", /257 messages/],
    [{ model: "gpt-4o" }, 404, "model", /"gpt-4o" does not exist/],
    [{ model: 42 }, 400, "model", /model must be a string/],
  ];
  for (const [extra, status, param, message] of cases) {
    const e = await chat(extra);
    assert.equal(e.status, status, JSON.stringify(extra).slice(0, 80));
    assert.equal(e.param, param, JSON.stringify(extra).slice(0, 80));
    assert.match(e.message, message);
    if (status === 404) assert.equal(e.code, "model_not_found");
  }
  const promptCases: [unknown, RegExp][] = [
    ["", /prompt is empty/],
    [["a", "b"], /one prompt per request/],
    [[1, -2], /token ids/],
    [{ text: "x" }, /prompt must be/],
  ];
  for (const [prompt, message] of promptCases) {
    const e = await apiError(s.client.completions.create({ model: "hf-tiny", prompt } as never));
    assert.equal(e.status, 400);
    assert.match(e.message, message);
  }
  const outOfRange = await apiError(s.client.completions.create({ model: "hf-tiny", prompt: [2, 99999] }));
  assert.equal(outOfRange.status, 400);
  assert.match(outOfRange.message, /token id 99999 at position 1 is out of range/);
  const tooLong = await apiError(s.client.completions.create({ model: "hf-tiny", prompt: "x".repeat(40_000) }));
  assert.equal(tooLong.status, 400);
  assert.match(tooLong.message, /the prompt is 40001 tokens long but the context holds 32768/);
});

test("an oversize body is refused with 413 before it is parsed", async () => {
  const e = await apiError(s.client.chat.completions.create({ model: "hf-tiny", messages: user("x".repeat(120 * 1024)) }));
  assert.equal(e.status, 413);
  assert.equal(e.code, "request_too_large");
  // Without a content-length (chunked upload) the limit holds too.
  const body = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(`{"model":"hf-tiny","messages":[{"role":"user","content":"${"y".repeat(120 * 1024)}"}]}`));
      c.close();
    },
  });
  const res = await fetch(`${s.server.url}/v1/chat/completions`, { method: "POST", body, duplex: "half" } as RequestInit);
  assert.equal(res.status, 413);
});

test("images and audio: limits and URL policy are enforced, and the media reach the model's encoders", async () => {
  const image = (url: string) => [{ role: "user" as const, content: [{ type: "image_url" as const, image_url: { url } }, { type: "text" as const, text: "What is this?" }] }];
  const audio = (data: string) => [{ role: "user" as const, content: [{ type: "input_audio" as const, input_audio: { data, format: "wav" as const } }, { type: "text" as const, text: "And this?" }] }];
  const chat = (messages: OpenAI.ChatCompletionMessageParam[]) => s.client.chat.completions.create({ model: "hf-tiny", messages, temperature: 0, max_tokens: 2 });
  const noise = new Uint8Array(50_000).map((_, i) => (i * 7919) % 251);
  const cases: [OpenAI.ChatCompletionMessageParam[], RegExp, string?][] = [
    [image("https://example.invalid/cat.png"), /does not fetch image URLs/, "image_url_not_allowed"],
    [image("ftp://x/y.png"), /expected a data URL/],
    [image("data:text/plain;base64,aGk="), /not an image/],
    [image("data:image/png,rawbytes"), /only base64 data URLs/],
    [image("data:image/png;base64,***"), /not valid base64/],
    [image(`data:image/png;base64,${base64(new Uint8Array([1, 2, 3, 4]))}`), /not a supported image: expected PNG, JPEG or WebP/],
    [image(`data:image/png;base64,${base64(png(2000, 1000, true))}`), /2000×1000, more than the 1000000 pixels/],
    // A PNG whose header passes but whose pixels are missing: refused by the model's own image decoder.
    [image(`data:image/png;base64,${base64(png(32, 24, true))}`), /PNG image could not be decoded/],
    [audio(base64(new Uint8Array(64))), /not a recognised audio file/],
    [audio(base64(noise)), /50000 bytes of compressed audio are more than a 1 s clip needs/],
    [audio(base64(wav(1.5))), /lasts 1\.5 s, longer than the 1 s/],
    [[{ role: "assistant", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AA==" } }] } as never], /belong in user messages/],
  ];
  for (const [messages, message, code] of cases) {
    const e = await apiError(chat(messages));
    assert.equal(e.status, 400, String(message));
    assert.match(e.message, message);
    // The server's own checks name the part; the model's decoders do not know it.
    if (!/could not be decoded/.test(e.message)) assert.match(e.param ?? "", /^messages\[0\]\.content\[0\]/);
    if (code) assert.equal(e.code, code);
  }
  // A clip the limits allow is answered, like the library's reply to the same samples.
  const clip = wav(0.5);
  const r = await chat(audio(base64(clip)));
  const { decodeWav } = await import("../src/model/audio/wav.js");
  const expected = await s.model.complete({ messages: [{ role: "user", content: [{ type: "audio", audio: decodeWav(clip) }, { type: "text", text: "And this?" }] }] }, { greedy: true, maxTokens: 2 });
  assert.equal(r.choices[0]!.message.content, expected.text);
  assert.equal(r.usage!.prompt_tokens, expected.promptTokens);
});

test("http(s) image URLs are fetched when the operator allows it, within the size limit", async () => {
  const { createServer } = await import("node:http");
  const files = createServer((req, res) => {
    if (req.url === "/big.png") res.end(Buffer.alloc(5000));
    else if (req.url === "/header.png") res.end(png(8, 8, true));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
  const { httpFetchMedia } = await import("../src/server/fetch-media.js");
  const open = await serveTiny({ fetchMedia: httpFetchMedia(2000), limits: { maxImageBytes: 4000 } });
  const ask = (url: string) => open.client.chat.completions.create({ model: "hf-tiny", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }], max_tokens: 1 });
  assert.match((await apiError(ask(`${base}/missing.png`))).message, /could not fetch .*HTTP 404/);
  assert.match((await apiError(ask(`${base}/big.png`))).message, /larger than 4000 bytes/);
  // The fetched bytes reach the image decoder, which refuses this header-only PNG.
  assert.match((await apiError(ask(`${base}/header.png`))).message, /PNG image could not be decoded/);
  files.close();
});

test("the in-process API answers like the server; after close it refuses with 503", async () => {
  const req = { model: "hf-tiny", messages: user("Hello there"), temperature: 0, max_tokens: 10 };
  const local = await s.api.createChatCompletion(req);
  const remote = await s.client.chat.completions.create(req);
  assert.equal(local.choices[0]!.message.content, remote.choices[0]!.message.content);
  const chunks = await s.api.createChatCompletion({ ...req, stream: true });
  let text = "";
  for await (const c of chunks) text += c.choices[0]?.delta.content ?? "";
  assert.equal(text, local.choices[0]!.message.content);
  // Breaking out of a stream frees the queue at once.
  const again = await s.api.createChatCompletion({ ...req, max_tokens: 5000, ignore_eos: true, stream: true } as typeof req & { stream: true });
  for await (const _ of again) break;
  assert.deepEqual(s.api.stats, { running: 0, waiting: 0 });

  const other = await serveTiny();
  await other.server.close(0);
  await assert.rejects(other.api.createChatCompletion(req), (e: unknown) => e instanceof ApiError && e.status === 503);
});

test("the queue is first come, first served; a request cancelled while waiting leaves it", async () => {
  const { FairQueue } = await import("../src/api/queue.js");
  const q = new FairQueue(4);
  const order: number[] = [];
  const first = await q.acquire();
  const gone = new AbortController();
  const waiting = [1, 2, 3].map((n) =>
    q.acquire(n === 2 ? gone.signal : undefined).then((release) => {
      order.push(n);
      release();
    }),
  );
  await assert.rejects(q.acquire(), (e: unknown) => e instanceof ApiError && e.status === 429);
  gone.abort(new Error("client left"));
  await assert.rejects(waiting[1]!, /client left/);
  assert.deepEqual(q.stats, { running: 1, waiting: 2 });
  first();
  await Promise.all([waiting[0], waiting[2]]);
  assert.deepEqual(order, [1, 3]);
  assert.deepEqual(q.stats, { running: 0, waiting: 0 });
});

test("close lets running and queued requests finish within the grace period, and cancels what is left after it", async () => {
  const shutdownError = (e: unknown) => e instanceof ApiError && e.status === 503 && /shutting down/.test(e.message);
  const long = (max: number) => ({ model: "hf-tiny", messages: user("On and on"), temperature: 0, max_tokens: max, ignore_eos: true, stream: true }) as const;
  for (const grace of [30_000, 200]) {
    const { api, logs } = await serveTiny();
    const running = await api.createChatCompletion(long(grace > 1000 ? 30 : 4000));
    // Its outcome is settled (and its error caught) whenever it comes.
    const queued = api.createChatCompletion({ model: "hf-tiny", messages: user("Me next"), temperature: 0, max_tokens: 5, ignore_eos: true }).catch((e: unknown) => e);
    await until(() => api.stats.waiting === 1, () => "the second request never queued");
    // What the queued request had logged by the time close resolved.
    const closed = api.close(grace).then(() => logs.filter((l) => /\+ 5 completion tokens|waiting for its turn/.test(l)));
    await assert.rejects(api.createChatCompletion({ model: "hf-tiny", messages: user("Too late") }), shutdownError);
    const drain = async () => {
      let n = 0;
      for await (const c of running) n += c.choices[0]?.delta.content === undefined ? 0 : 1;
      return n;
    };
    if (grace > 1000) {
      await drain();
      assert.equal(((await queued) as ChatCompletion).usage.completion_tokens, 5);
    } else {
      await assert.rejects(drain(), shutdownError);
      assert.ok(shutdownError(await queued));
    }
    const queuedLog = await closed;
    assert.equal(queuedLog.length, 1, "close waits for the queued request too");
    assert.match(queuedLog[0]!, grace > 1000 ? /length: \d+ prompt \+ 5 completion tokens/ : /shutting down while waiting for its turn/);
    assert.deepEqual(api.stats, { running: 0, waiting: 0 });
  }
});
