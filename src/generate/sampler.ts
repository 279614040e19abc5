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

const BINS = 1024;

/**
 * The bin of a candidate v ≥ floor: bin 0 holds the best logits, and the bin is monotone in the logit,
 * so bins in order are the order. `| 0` is the floor of a number ≥ 0. The passes over the logits call
 * this with floor and scale in locals: read through `this`, they ran 3× slower.
 */
const binOf = (v: number, floor: number, scale: number) => Math.max(0, BINS - 1 - (((v - floor) * scale) | 0));

/**
 * The candidates (logits at or above `floor`) in the order the sampler walks them, logit high to low and
 * ties by id, found only as far as they are read. A counting pass sorts the logits into bins, best
 * first; a read past what is collected gathers the next bins (as many candidates again as it has, or
 * 64) in one more pass and sorts just those. Sampling reads a few dozen candidates of the 262k: sorting
 * them all took 130–230 ms a token, more than the forward pass.
 */
class RankedCandidates {
  private readonly counts = new Int32Array(BINS);
  private ids = new Int32Array(0);
  private x: Float32Array = new Float32Array(0);
  private floor = 0;
  private scale = 0;
  /** Bins [0, collectedBins) are collected, in order, into the first `collected` entries of `ids`. */
  private collectedBins = 0;
  private collected = 0;
  length = 0;

  rank(x: Float32Array, floor: number, best: number): void {
    const scale = best > floor ? BINS / (best - floor) : 0;
    this.x = x;
    this.floor = floor;
    this.scale = scale;
    const counts = this.counts.fill(0);
    let n = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v >= floor) {
        counts[binOf(v, floor, scale)]!++;
        n++;
      }
    }
    this.length = n;
    this.collectedBins = 0;
    this.collected = 0;
  }

  /** The id at position `i` (< length) of the order. */
  at(i: number): number {
    if (i >= this.collected) this.collectThrough(i);
    return this.ids[i]!;
  }

  private collectThrough(i: number): void {
    const want = Math.max(i + 1, 2 * this.collected, 64);
    const first = this.collectedBins;
    let end = first;
    let total = this.collected;
    while (total < want && end < BINS) total += this.counts[end++]!;
    if (this.ids.length < total) {
      const grown = new Int32Array(Math.max(total, 2 * this.ids.length));
      grown.set(this.ids.subarray(0, this.collected));
      this.ids = grown;
    }
    const { x, floor, scale, ids } = this;
    // Logits below `low` (≥ floor) fall in bin `end` or later whatever the rounding: one comparison
    // rejects them.
    const low = end < BINS && scale > 0 ? floor + (BINS - 1 - end) / scale : floor;
    let at = this.collected;
    for (let id = 0; id < x.length; id++) {
      const v = x[id]!;
      if (v >= low) {
        const b = binOf(v, floor, scale);
        if (b >= first && b < end) ids[at++] = id;
      }
    }
    this.ids.subarray(this.collected, at).sort((p, q) => x[q]! - x[p]! || p - q);
    this.collectedBins = end;
    this.collected = at;
  }

  /** Σ f(logit) over every candidate, in id order. */
  sum(f: (v: number) => number): number {
    let total = 0;
    const { x, floor } = this;
    for (let i = 0; i < x.length; i++) if (x[i]! >= floor) total += f(x[i]!);
    return total;
  }

  /** How many positions of the order are known without another pass. */
  get known(): number {
    return this.collected;
  }

  /**
   * The draw's walk past the known positions, over the others in id order (any fixed order draws from
   * the same distribution): the first candidate at which `r` minus the weights f(logit) walked goes
   * below 0, or the last one should rounding leave it above.
   */
  walkRest(r: number, f: (v: number) => number): number {
    const { x, floor, scale, collectedBins } = this;
    let last = -1;
    for (let id = 0; id < x.length; id++) {
      const v = x[id]!;
      if (v >= floor && binOf(v, floor, scale) >= collectedBins) {
        last = id;
        r -= f(v);
        if (r < 0) break;
      }
    }
    return last;
  }
}

export class Sampler {
  private readonly rng: Rng;
  private readonly ranked = new RankedCandidates();
  constructor(private readonly o: SamplingOptions = {}) {
    validateSampling(o);
    this.rng = new Rng(o.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  get isGreedy(): boolean {
    return this.o.greedy === true || this.o.temperature === undefined || this.o.temperature === 0;
  }

  /** Picks a token id; `history` is every id seen so far (prompt and generated), for the repetition penalty. */
  sample(logits: Float32Array, history: readonly number[]): number {
    const penalty = this.o.repetitionPenalty ?? 1;
    const x = penalty === 1 ? logits : Float32Array.from(logits);
    if (penalty !== 1) {
      for (const id of new Set(history)) {
        if (id >= 0 && id < x.length) x[id] = x[id]! > 0 ? x[id]! / penalty : x[id]! * penalty;
      }
    }
    if (this.isGreedy) return argmax(x);
    const t = this.o.temperature!;
    let best = -Infinity;
    for (let i = 0; i < x.length; i++) if (x[i]! > best) best = x[i]!;
    if (!Number.isFinite(best)) throw new Error(`cannot sample: the largest logit is ${best}`);
    // Candidates: tokens whose probability relative to the best one is at least e^-40 (4e-18); the
    // others cannot be drawn in float64 anyway. Top-k keeps the first k of them, best first.
    const ranked = this.ranked;
    ranked.rank(x, best - 40 * t, best);
    const k = this.o.topK ?? 0;
    const n = k > 0 && k < ranked.length ? k : ranked.length;
    const max = best / t;
    const weight = (v: number) => Math.exp(v / t - max);
    let total = 0;
    if (n === ranked.length) total = ranked.sum(weight);
    else for (let i = 0; i < n; i++) total += weight(x[ranked.at(i)]!);
    // Probabilities of the first positions of the order, as far as read.
    const probs: number[] = [];
    const prob = (i: number) => probs[i] ?? (probs[i] = weight(x[ranked.at(i)]!) / total);
    // Top-p: the shortest head of the order whose mass reaches p; min-p: the part of that head at least
    // min-p times as likely as the best token.
    let keep = n;
    const topP = this.o.topP ?? 1;
    if (topP < 1) {
      let cum = 0;
      keep = 0;
      while (keep < n && cum < topP) cum += prob(keep++);
      keep = Math.max(keep, 1);
    }
    const minP = this.o.minP ?? 0;
    if (minP > 0) {
      const floor = prob(0) * minP;
      let count = 1;
      while (count < keep && prob(count) >= floor) count++;
      keep = count;
    }
    let sum = 1;
    if (keep < n) {
      sum = 0;
      for (let i = 0; i < keep; i++) sum += prob(i);
    }
    // The draw walks the known head of the order first: most draws end there. Past it only when nothing
    // was cut (every cut reads the order through `keep`), so the rest is every other candidate.
    let r = this.rng.next() * sum;
    const head = Math.min(keep, ranked.known);
    for (let i = 0; i < head; i++) {
      r -= prob(i);
      if (r < 0) return ranked.at(i);
    }
    if (keep > head) {
      const id = ranked.walkRest(r, (v) => weight(v) / total);
      if (id >= 0) return id;
    }
    return ranked.at(keep - 1);
  }
}
