// The library's generation API: streaming, sessions that reuse their KV cache, cancellation,
// stop strings, and the samplers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadModel } from "../src/node/load.js";
import { Rng, Sampler, argmax } from "../src/generate/sampler.js";
import type { GenerationChunk, GenerationResult } from "../src/generate/generate.js";
import { resolveSampling } from "../src/model/gemma3n.js";
import { tinyModelDir } from "./helpers.js";

async function drain(stream: AsyncGenerator<GenerationChunk, GenerationResult>): Promise<{ chunks: GenerationChunk[]; result: GenerationResult }> {
  const chunks: GenerationChunk[] = [];
  let r = await stream.next();
  while (!r.done) {
    chunks.push(r.value);
    r = await stream.next();
  }
  return { chunks, result: r.value };
}

test("streamed chunks join to the final text, and the text decodes the ids", async () => {
  const model = await loadModel(tinyModelDir);
  const prompt = { messages: [{ role: "user", content: "Tell me a story" }] };
  const { chunks, result } = await drain(model.generate(prompt, { greedy: true, maxTokens: 15 }));
  assert.deepEqual(await model.complete(prompt, { greedy: true, maxTokens: 15 }), result);
  assert.equal(chunks.map((c) => c.text).join(""), result.text);
  assert.equal(result.text, model.tokenizer!.decode(result.ids));
  assert.ok(result.promptTokens > 5);
  model.close();
});

test("a session feeds only the new tokens of the next turn, with the same result as starting over", async () => {
  const model = await loadModel(tinyModelDir);
  let fed = 0;
  const step = model.step.bind(model);
  model.step = (ids, cache) => {
    fed += ids.length;
    return step(ids, cache);
  };
  const session = model.session();
  const messages = [{ role: "user", content: "Hello there" }];
  const first = await drain(session.generate({ messages }, { greedy: true, maxTokens: 6 }));
  messages.push({ role: "assistant", content: first.result.text! }, { role: "user", content: "And then?" });
  fed = 0;
  const second = await drain(session.generate({ messages }, { greedy: true, maxTokens: 6 }));
  const reused = fed;
  fed = 0;
  const fresh = await drain(model.generate({ messages }, { greedy: true, maxTokens: 6 }));
  assert.ok(reused < fed, `the second turn fed ${reused} tokens, a fresh session ${fed}`);
  assert.deepEqual(second.result.ids, fresh.result.ids);
  model.close();
});

test("an AbortSignal stops generation between tokens with finish reason abort", async () => {
  const model = await loadModel(tinyModelDir);
  const ctrl = new AbortController();
  const stream = model.generate({ ids: [2, 105] }, { greedy: true, maxTokens: 200, ignoreEos: true, signal: ctrl.signal });
  let n = 0;
  let r = await stream.next();
  while (!r.done) {
    if (++n === 3) ctrl.abort();
    r = await stream.next();
  }
  assert.equal(r.value.finishReason, "abort");
  assert.equal(r.value.ids.length, 3);
  model.close();
});

test("stop strings cut the reply before them and never stream a part of them", async () => {
  const model = await loadModel(tinyModelDir);
  const full = await drain(model.generate({ ids: [2, 105] }, { greedy: true, maxTokens: 30, ignoreEos: true }));
  const text = full.result.text!;
  // Pick a stop string from the middle of the greedy reply.
  const at = Math.floor(text.length / 2);
  const stop = text.slice(at, at + 3);
  const cut = text.indexOf(stop);
  const stopped = await drain(model.generate({ ids: [2, 105] }, { greedy: true, maxTokens: 30, ignoreEos: true, stopStrings: [stop] }));
  assert.equal(stopped.result.finishReason, "stop");
  assert.equal(stopped.result.text, text.slice(0, cut));
  assert.equal(stopped.chunks.map((c) => c.text).join(""), text.slice(0, cut));
  model.close();
});

test("the sampler: greedy, top-k 1, seeds, and the distribution it draws from", () => {
  const logits = Float32Array.from([1, 3, 2, 0.5, 2.9]);
  assert.equal(new Sampler({ greedy: true }).sample(logits, []), 1);
  assert.equal(new Sampler({ temperature: 0 }).sample(logits, []), 1);
  assert.equal(new Sampler({ temperature: 5, topK: 1, seed: 1 }).sample(logits, []), 1);
  // Repetition penalty turns greedy away from a seen token.
  assert.equal(new Sampler({ greedy: true, repetitionPenalty: 2 }).sample(logits, [1]), 4);
  // Seeded draws repeat.
  const draw = (seed: number) => Array.from({ length: 20 }, ((s) => () => s.sample(logits, []))(new Sampler({ temperature: 1, seed })));
  assert.deepEqual(draw(3), draw(3));
  // Frequencies follow softmax(logits / T) within sampling noise.
  const s = new Sampler({ temperature: 1, seed: 42 });
  const counts = new Array(5).fill(0);
  const N = 20000;
  for (let i = 0; i < N; i++) counts[s.sample(logits, [])]++;
  const z = Array.from(logits, (x) => Math.exp(x));
  const sum = z.reduce((a, b) => a + b, 0);
  z.forEach((p, i) => assert.ok(Math.abs(counts[i] / N - p / sum) < 0.015, `token ${i}: ${counts[i] / N} vs ${p / sum}`));
  // top-p 0.5 keeps only the tokens that reach half the mass: 1 (0.40) and 4 (0.37).
  const topP = new Sampler({ temperature: 1, topP: 0.5, seed: 5 });
  for (let i = 0; i < 200; i++) assert.ok([1, 4].includes(topP.sample(logits, [])));
  // min-p 0.5 keeps tokens at least half as likely as the best: 1, 4 and 2 (0.15 / 0.40 < 0.5 drops 2).
  const minP = new Sampler({ temperature: 1, minP: 0.5, seed: 6 });
  for (let i = 0; i < 200; i++) assert.ok([1, 4].includes(minP.sample(logits, [])));
  assert.equal(argmax(logits), 1);
});

/** What the sampler draws from, the plain way: every candidate sorted, then top-k, top-p and min-p. */
function fullSortSupport(logits: Float32Array, t: number, topK = 0, topP = 1, minP = 0): { ids: number[]; probs: number[] } {
  const best = logits.reduce((a, v) => (v > a ? v : a), -Infinity);
  let ids = [...logits.keys()].filter((i) => logits[i]! >= best - 40 * t).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (topK > 0) ids = ids.slice(0, topK);
  const w = ids.map((i) => Math.exp(logits[i]! / t - best / t));
  const total = w.reduce((a, b) => a + b, 0);
  let probs = w.map((v) => v / total);
  let keep = probs.length;
  if (topP < 1) {
    let cum = 0;
    keep = 0;
    while (keep < probs.length && cum < topP) cum += probs[keep++]!;
  }
  if (minP > 0) keep = Math.max(1, probs.slice(0, keep).filter((p) => p >= probs[0]! * minP).length);
  ids = ids.slice(0, keep);
  probs = probs.slice(0, keep);
  return { ids, probs };
}

/** A vocabulary shaped like a language model's: a softcapped bulk and a few clear favourites. */
function vocabularyLogits(seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: 65536 }, () => 30 * Math.tanh(((rng.next() + rng.next() + rng.next() - 1.5) * 8) / 30));
  [21, 20.5, 20, 19, 18.7, 17].forEach((v, i) => (x[1000 + i * 7919] = v));
  return x;
}

test("the sampler draws what sorting every candidate would, without sorting them", () => {
  const logits = vocabularyLogits(7);
  for (const o of [{ topK: 64 }, { topK: 3 }, { topP: 0.8 }, { topK: 64, topP: 0.95 }, { minP: 0.05 }, { topK: 40, topP: 0.99, minP: 0.01 }]) {
    // At T 20 the top-k candidates are nearly equally likely: one missed or misplaced shows in the draws.
    for (const t of o.topK ? [1, 0.7, 20] : [1, 0.7]) {
      const { ids, probs } = fullSortSupport(logits, t, o.topK, o.topP, o.minP);
      // The same uniform numbers walk the same sorted support: the same draws.
      const rng = new Rng(11);
      const expected = Array.from({ length: 100 }, () => {
        let r = rng.next() * probs.reduce((a, b) => a + b, 0);
        const i = probs.findIndex((p) => (r -= p) < 0);
        return ids[i < 0 ? ids.length - 1 : i];
      });
      const sampler = new Sampler({ temperature: t, ...o, seed: 11 });
      const drawn = Array.from({ length: 100 }, () => sampler.sample(logits, []));
      assert.deepEqual(drawn, expected, `${JSON.stringify(o)} at temperature ${t}`);
    }
  }
});

test("sampling with no cut draws the tail of a large vocabulary as often as softmax says", () => {
  // Five favourites hold ~88 % of the mass at T = 1 (~6 % at T = 2); 10k others the rest, which the draw
  // walks in id order.
  const rng = new Rng(3);
  const logits = Float32Array.from({ length: 10000 }, () => 4 * rng.next() - 2);
  [11, 10.5, 10, 9.5, 9].forEach((v, i) => (logits[100 + i * 1900] = v));
  for (const t of [1, 2]) {
    const { ids, probs } = fullSortSupport(logits, t);
    assert.equal(ids.length, 10000);
    const sampler = new Sampler({ temperature: t, seed: 5 });
    const N = 4000;
    const counts = new Map<number, number>();
    for (let i = 0; i < N; i++) {
      const id = sampler.sample(logits, []);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const freq = (pick: (id: number) => boolean) => [...counts].filter(([id]) => pick(id)).reduce((a, [, c]) => a + c, 0) / N;
    const mass = (pick: (id: number) => boolean) => ids.reduce((a, id, i) => a + (pick(id) ? probs[i]! : 0), 0);
    const head = new Set(ids.slice(0, 5));
    const groups: [string, (id: number) => boolean][] = [
      ...ids.slice(0, 5).map((h): [string, (id: number) => boolean] => [`token ${h}`, (id) => id === h]),
      ["tail below 5000", (id) => !head.has(id) && id < 5000],
      ["tail from 5000", (id) => !head.has(id) && id >= 5000],
    ];
    // 4000 draws: a frequency's standard error is at most 0.008.
    for (const [name, pick] of groups) assert.ok(Math.abs(freq(pick) - mass(pick)) < 0.03, `T ${t}, ${name}: ${freq(pick)} vs ${mass(pick)}`);
    assert.ok(mass((id) => !head.has(id)) > 0.1, "the tail carries real mass");
  }
});

test("the sampler refuses logits with no finite maximum, and skips -Infinity", () => {
  assert.throws(() => new Sampler({ temperature: 1, seed: 1 }).sample(Float32Array.of(NaN, NaN), []), /largest logit is -Infinity/);
  assert.throws(() => new Sampler({ temperature: 1, seed: 1 }).sample(Float32Array.of(1, Infinity), []), /largest logit is Infinity/);
  const masked = Float32Array.of(-Infinity, 2, -Infinity, NaN);
  const s = new Sampler({ temperature: 1, topP: 0.9, seed: 2 });
  for (let i = 0; i < 20; i++) assert.equal(s.sample(masked, []), 1);
});

test("the RNG is uniform enough and platform independent", () => {
  const r = new Rng(0);
  const first = [r.next(), r.next(), r.next()];
  assert.deepEqual(first, ((g) => [g.next(), g.next(), g.next()])(new Rng(0)));
  let mean = 0;
  for (let i = 0; i < 10000; i++) mean += r.next();
  assert.ok(Math.abs(mean / 10000 - 0.5) < 0.02);
});

test("sampling flags turn sampling on over greedy defaults; greedy wins when asked", () => {
  assert.equal(resolveSampling({ greedy: true }, { topK: 40 }).greedy, false);
  assert.equal(resolveSampling({ greedy: true }, { temperature: 0.7 }).temperature, 0.7);
  assert.equal(resolveSampling({ greedy: true }, {}).greedy, true);
  assert.equal(resolveSampling({ temperature: 1, topK: 64 }, { greedy: true }).greedy, true);
  assert.equal(resolveSampling({ temperature: 1, topK: 64 }, { topP: 0.9 }).topK, 64);
});

test("a session rewinds to a shared prefix, or starts over when the sliding window has moved past it", async () => {
  const model = await loadModel(tinyModelDir);
  const session = model.session();
  const prompt = Array.from({ length: 20 }, (_, i) => 3 + i);
  const opts = { greedy: true, maxTokens: 4, ignoreEos: true } as const;
  await drain(session.generate({ ids: prompt }, opts));
  // Near the end: the window (8 in the tiny model) still holds what is needed.
  for (const ids of [[...prompt.slice(0, 18), 40, 41], [...prompt.slice(0, 4), 50, 51]]) {
    const viaSession = await drain(session.generate({ ids }, opts));
    const fresh = await drain(model.generate({ ids }, opts));
    assert.deepEqual(viaSession.result.ids, fresh.result.ids);
  }
  model.close();
});
