// A bounded load test: 50 concurrent streaming requests, each with its own seed, against a server that
// admits 32, plus 5 long ones whose clients hang up after two chunks. Every request completes or is
// refused with 429/503 (the hung-up ones are cancelled); the completed ones equal the same requests
// run one by one; memory returns to its baseline. Prints throughput and latency percentiles.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { APIError } from "openai";
import type { ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import type { ChatCompletionRequest } from "../src/api/types.js";
import { serveTiny, until } from "./server-helpers.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const memory = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

const REQUESTS = 50;
const ADMITTED = 32;
const MAX_TOKENS = 12;
const HANG_UPS = 5;

test(`${REQUESTS} concurrent streams: each completes as if alone or is refused with 429/503, and memory returns to baseline`, async (t) => {
  const s = await serveTiny({ maxConcurrency: ADMITTED });
  const request = (i: number): ChatCompletionRequest & { stream?: false } => ({
    model: "hf-tiny",
    messages: [{ role: "user", content: `Request ${i}: tell me something` }],
    temperature: 1,
    top_p: 0.95,
    seed: 1000 + i,
    max_tokens: MAX_TOKENS,
    ignore_eos: true,
  });
  // The same requests one at a time, through the in-process API (this also warms the model up).
  const alone: string[] = [];
  for (let i = 0; i < REQUESTS; i++) alone.push((await s.api.createChatCompletion(request(i))).choices[0]!.message.content);
  const baseline = memory();

  // Long requests whose clients leave after two chunks: their generations must stop and free their caches.
  const hangUps = Array.from({ length: HANG_UPS }, async (_, i) => {
    const controller = new AbortController();
    try {
      const params = { ...request(100 + i), max_tokens: 4000, stream: true } as unknown as ChatCompletionCreateParamsStreaming;
      const stream = await s.client.chat.completions.create(params, { signal: controller.signal });
      let chunks = 0;
      for await (const _ of stream) if (++chunks === 2) controller.abort();
      return "cancelled";
    } catch (e) {
      if (e instanceof APIError && e.status === 429) return "refused";
      throw e;
    }
  });
  const t0 = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: REQUESTS }, async (_, i) => {
      const start = performance.now();
      try {
        // ignore_eos is an extension that the client's types do not know.
        const stream = await s.client.chat.completions.create({ ...request(i), stream: true } as unknown as ChatCompletionCreateParamsStreaming);
        let text = "";
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
        return { i, text, ms: performance.now() - start };
      } catch (e) {
        if (e instanceof APIError && (e.status === 429 || e.status === 503)) {
          assert.ok(Number(e.headers?.get("retry-after")) > 0, "a refusal says when to retry");
          return { i, refused: e.status };
        }
        throw e;
      }
    }),
  );
  const wall = performance.now() - t0;
  const hungUp = (await Promise.all(hangUps)).filter((o) => o === "cancelled").length;
  const cancelled = () => s.logs.filter((l) => /cancelled( by the client|: the caller stopped reading) after \d+ tokens/.test(l)).length;
  await until(() => cancelled() === hungUp, () => `${cancelled()} cancellations logged for ${hungUp} hang-ups`);

  const done = outcomes.filter((o) => o.text !== undefined);
  const refused = outcomes.filter((o) => o.refused !== undefined);
  assert.equal(done.length + refused.length, REQUESTS);
  assert.ok(done.length >= 1);
  for (const o of done) assert.equal(o.text, alone[o.i], `request ${o.i} under load`);
  assert.deepEqual(s.api.stats, { running: 0, waiting: 0 });

  const grown = memory() - baseline;
  assert.ok(grown < 8 * 1024 * 1024, `memory grew by ${(grown / 1048576).toFixed(1)} MiB`);

  const ms = done.map((o) => o.ms!).sort((a, b) => a - b);
  const pct = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!.toFixed(0);
  t.diagnostic(
    JSON.stringify({
      completed: done.length,
      refused: refused.length,
      wall_ms: Math.round(wall),
      requests_per_s: +((done.length / wall) * 1000).toFixed(2),
      tokens_per_s: +(((done.length * MAX_TOKENS) / wall) * 1000).toFixed(1),
      latency_p50_ms: +pct(50),
      latency_p99_ms: +pct(99),
      cancelled_by_client: hungUp,
      memory_growth_kib: Math.round(grown / 1024),
    }),
  );
});
