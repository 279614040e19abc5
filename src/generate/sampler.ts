// Choosing the next token from logits: repetition penalty, then temperature, top-k, top-p and min-p
// (the order of the reference's logits processors), then a draw from a seeded generator. Greedy when
// temperature is 0 or `greedy` is set.
import { InputError } from "../errors.js";

export interface SamplingOptions {
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  /** Makes sampling reproducible; default: a random seed. */
  seed?: number;
}

/** xoshiro128** seeded through splitmix32: small, fast and the same on every platform. */
export class Rng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  /** Uniform in [0, 1). */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result / 4294967296;
  }
}
const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

export function validateSampling(o: SamplingOptions): void {
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new InputError(what);
  };
  if (o.temperature !== undefined) check(Number.isFinite(o.temperature) && o.temperature >= 0, `temperature must be ≥ 0, got ${o.temperature}`);
  if (o.topK !== undefined) check(Number.isInteger(o.topK) && o.topK >= 0, `top-k must be an integer ≥ 0, got ${o.topK}`);
  if (o.topP !== undefined) check(o.topP > 0 && o.topP <= 1, `top-p must be in (0, 1], got ${o.topP}`);
  if (o.minP !== undefined) check(o.minP >= 0 && o.minP <= 1, `min-p must be in [0, 1], got ${o.minP}`);
  if (o.repetitionPenalty !== undefined) check(Number.isFinite(o.repetitionPenalty) && o.repetitionPenalty > 0, `repetition penalty must be > 0, got ${o.repetitionPenalty}`);
  if (o.seed !== undefined) check(Number.isInteger(o.seed), `seed must be an integer, got ${o.seed}`);
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

export class Sampler {
  private readonly rng: Rng;
  constructor(private readonly o: SamplingOptions = {}) {
    validateSampling(o);
    this.rng = new Rng(o.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  get isGreedy(): boolean {
    return this.o.greedy === true || this.o.temperature === undefined || this.o.temperature === 0;
  }

  /** Picks a token id; `history` is every id seen so far (prompt and generated), for the repetition penalty. */
  sample(logits: Float32Array, history: readonly number[]): number {
    const x = Float32Array.from(logits);
    const penalty = this.o.repetitionPenalty ?? 1;
    if (penalty !== 1) {
      for (const id of new Set(history)) {
        if (id >= 0 && id < x.length) x[id] = x[id]! > 0 ? x[id]! / penalty : x[id]! * penalty;
      }
    }
    if (this.isGreedy) return argmax(x);
    const t = this.o.temperature!;
    // Candidates sorted by logit, best first; cut by top-k, then turned into probabilities. Tokens whose
    // probability relative to the best one is below e^-40 (4e-18) cannot be drawn in float64 anyway:
    // leaving them out spares sorting the whole 262k vocabulary every step.
    let best = -Infinity;
    for (let i = 0; i < x.length; i++) if (x[i]! > best) best = x[i]!;
    const floor = best - 40 * t;
    let order: number[] = [];
    for (let i = 0; i < x.length; i++) if (x[i]! >= floor) order.push(i);
    order.sort((a, b) => x[b]! - x[a]!);
    const k = this.o.topK ?? 0;
    if (k > 0 && k < order.length) order = order.slice(0, k);
    const max = best / t;
    let probs = order.map((id) => Math.exp(x[id]! / t - max));
    let sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / sum);
    const topP = this.o.topP ?? 1;
    if (topP < 1) {
      let cum = 0;
      let keep = 0;
      while (keep < probs.length && cum < topP) cum += probs[keep++]!;
      order = order.slice(0, Math.max(keep, 1));
      probs = probs.slice(0, order.length);
    }
    const minP = this.o.minP ?? 0;
    if (minP > 0) {
      const floor = probs[0]! * minP;
      const keep = Math.max(1, probs.filter((p) => p >= floor).length);
      order = order.slice(0, keep);
      probs = probs.slice(0, keep);
    }
    sum = probs.reduce((a, b) => a + b, 0);
    let r = this.rng.next() * sum;
    for (let i = 0; i < order.length; i++) {
      r -= probs[i]!;
      if (r < 0) return order[i]!;
    }
    return order[order.length - 1]!;
  }
}
