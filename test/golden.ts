// Reading golden .npy arrays and comparing against them.
import { readFileSync } from "node:fs";
import { parseNpy, type NpyArray } from "../src/io/npy.js";
import type { Gemma3n } from "../src/model/gemma3n.js";
import { fixture } from "./helpers.js";

export function golden(...parts: string[]): NpyArray {
  return parseNpy(readFileSync(fixture(...parts)), parts.join("/"));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d; // NaN propagates as the max
  }
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Feeds `ids`, then each of `expected` in turn, through one KV cache: the largest error against the golden step logits. */
export function cachedStepError(model: Gemma3n, ids: readonly number[], expected: readonly number[], stepLogits: NpyArray["data"]): number {
  const V = model.config.text.vocabSize;
  const cache = model.newCache();
  let next = Int32Array.from(ids);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, maxAbsDiff(model.step(next, cache), stepLogits.subarray(i * V, (i + 1) * V)));
    next = Int32Array.of(expected[i]!);
  }
  return worst;
}
