// `gemma3n serve` as a user runs it: the model's name, a clean shutdown on SIGTERM (in-flight requests
// finish within the grace period or are cancelled with an error event), and one-line errors for bad flags.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import OpenAI, { APIError } from "openai";
import type { ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import { servedModelName } from "../src/cli/serve.js";
import { cli } from "./cli-helpers.js";
import { fixture, repoRoot, tinyModelDir } from "./helpers.js";

interface Serving {
  url: string;
  client: OpenAI;
  stderr: () => string;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

async function serveCli(...flags: string[]): Promise<Serving> {
  const child = spawn(process.execPath, [join(repoRoot, "dist", "src", "cli", "main.js"), "serve", "--model", tinyModelDir, "--port", "0", ...flags], {
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 60_000,
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = / at (http:\/\/\S+)\/v1\n/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
  });
  return { url, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 }), stderr: () => stderr, exited, kill: (s) => child.kill(s) };
}

const long = (maxTokens: number) =>
  ({ model: "model", messages: [{ role: "user", content: "Go on" }], temperature: 0, max_tokens: maxTokens, ignore_eos: true, stream: true }) as unknown as ChatCompletionCreateParamsStreaming;

test("SIGTERM lets a running request finish within the grace period, then exits 0", async () => {
  const s = await serveCli("--shutdown-grace", "30");
  assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/, "loopback by default");
  assert.deepEqual((await s.client.models.list()).data.map((m) => m.id), ["model"]);
  const stream = await s.client.chat.completions.create(long(40));
  let finish: string | null = null;
  let chunks = 0;
  for await (const chunk of stream) {
    // Once: a second SIGTERM means "quit now" (and, before the server's handler for it is in place, kills it).
    if (++chunks === 1) s.kill("SIGTERM");
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, "length");
  assert.equal(await s.exited, 0);
  assert.match(s.stderr(), /SIGTERM: shutting down/);
  assert.match(s.stderr(), /length: \d+ prompt \+ 40 completion tokens/);
  assert.match(s.stderr(), /stopped\n$/);
});

test("SIGTERM cancels a request still running after the grace period with an error event", async () => {
  const s = await serveCli("--shutdown-grace", "0.2");
  const stream = await s.client.chat.completions.create(long(4000));
  let chunks = 0;
  await assert.rejects(
    async () => {
      for await (const _ of stream) if (++chunks === 2) s.kill("SIGTERM");
    },
    (e: unknown) => e instanceof APIError && /shutting down/.test(e.message),
  );
  assert.equal(await s.exited, 0);
  assert.match(s.stderr(), /cancelled: the server is shutting down after \d+ tokens/);
});

test("the served name is the repo id a model was loaded by, or its directory's name", () => {
  assert.equal(servedModelName("google/gemma-3n-E2B-it"), "google/gemma-3n-E2B-it");
  assert.equal(servedModelName(tinyModelDir), "model");
  assert.equal(servedModelName(`${tinyModelDir}/`), "model");
});

test("serve refuses bad flags and a busy port with one line", async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
  const port = String((busy.address() as { port: number }).port);
  const cases: [string[], RegExp][] = [
    [["--port", "70000"], /--port must be at most 65535/],
    [["--port", "x"], /--port must be an integer/],
    [["--max-concurrency", "0"], /--max-concurrency must be an integer ≥ 1/],
    [["--max-body-mb", "0"], /--max-body-mb must be > 0/],
    [["--port", port], new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`)],
  ];
  for (const [flags, message] of cases) {
    const r = cli(["serve", "--model", tinyModelDir, ...flags]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  busy.close();
});

test("--matformer serves the slice: completions equal `generate --matformer` and differ from the full model", async () => {
  const sliceFile = fixture("hf-tiny", "matformer", "slice.json");
  const ids = [2, 105, 300, 301, 302];
  const ask = (c: OpenAI) =>
    c.completions.create({ model: "model", prompt: ids, temperature: 0, max_tokens: 12, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
  const expected = cli(["generate", "--model", tinyModelDir, "--matformer", sliceFile, "--ids", ids.join(","), "--max-tokens", "12", "--greedy", "--ignore-eos", "--json"]);
  assert.equal(expected.code, 0, expected.stderr);
  const sliced = await serveCli("--matformer", sliceFile);
  const full = await serveCli();
  const [a, b] = [await ask(sliced.client), await ask(full.client)];
  assert.equal(a.choices[0]!.text, JSON.parse(expected.stdout).text);
  assert.notEqual(a.choices[0]!.text, b.choices[0]!.text);
  for (const s of [sliced, full]) {
    s.kill("SIGTERM");
    assert.equal(await s.exited, 0);
  }
});
