// Keys and values of past positions, one cache per layer that computes K/V (KV-shared layers read their
// source layer's cache). Sliding-window layers only keep what a future query can still see.
import type { KeyValues } from "../../kernels/backend.js";
import { kvSourceLayers, type TextConfig } from "../config.js";

export class LayerCache implements KeyValues {
  keys: Float32Array;
  values: Float32Array;
  positions: Int32Array;
  length = 0;
  version = 0;
  constructor(private readonly width: number, private readonly window: number) {
    this.keys = new Float32Array(width * 16);
    this.values = new Float32Array(width * 16);
    this.positions = new Int32Array(16);
  }

  append(k: Float32Array, v: Float32Array, positions: Int32Array): void {
    const n = positions.length;
    if (this.length + n > this.positions.length) this.grow(this.length + n);
    this.keys.set(k, this.length * this.width);
    this.values.set(v, this.length * this.width);
    this.positions.set(positions, this.length);
    this.length += n;
  }

  /** Drops entries no query at a position after the last one can attend to (sliding layers only). */
  trim(): void {
    if (this.window === 0 || this.length <= 2 * this.window) return;
    const drop = this.length - this.window;
    this.version++;
    this.keys.copyWithin(0, drop * this.width, this.length * this.width);
    this.values.copyWithin(0, drop * this.width, this.length * this.width);
    this.positions.copyWithin(0, drop, this.length);
    this.length = this.window;
  }

  /** Whether a query at `position` would still find every key it can see, after dropping later entries. */
  canRewind(position: number): boolean {
    if (this.length === 0 || this.window === 0) return true;
    return this.positions[0]! <= Math.max(0, position - this.window + 1);
  }

  /** Drops the entries at `position` and after. */
  truncate(position: number): void {
    this.version++;
    while (this.length > 0 && this.positions[this.length - 1]! >= position) this.length--;
  }

  private grow(min: number): void {
    const cap = Math.max(min, this.positions.length * 2);
    const k = new Float32Array(cap * this.width);
    const v = new Float32Array(cap * this.width);
    const p = new Int32Array(cap);
    k.set(this.keys.subarray(0, this.length * this.width));
    v.set(this.values.subarray(0, this.length * this.width));
    p.set(this.positions.subarray(0, this.length));
    this.keys = k;
    this.values = v;
    this.positions = p;
  }
}

/** The whole model's cache: the next position, and one LayerCache per KV-computing layer. */
export class KVCache {
  /** Position of the next token to be fed. */
  position = 0;
  readonly layers: (LayerCache | undefined)[];
  /** For each layer, the index of the layer whose cache it reads. */
  readonly source: number[];
  /** `config`: the decoder config (model or MatFormer slice) the cache is laid out for, and only usable with. */
  constructor(readonly config: TextConfig) {
    const c = config;
    this.source = kvSourceLayers(c);
    const width = c.numKvHeads * c.headDim;
    this.layers = this.source.map((src, i) =>
      src === i ? new LayerCache(width, c.layerTypes[i] === "sliding" ? c.slidingWindow : 0) : undefined,
    );
  }
  of(layer: number): LayerCache {
    return this.layers[this.source[layer]!]!;
  }
  /**
   * Forgets everything from `position` on, so that a new continuation can be fed from there. Fails
   * (returns false, changing nothing) when a sliding window has already dropped keys it would need.
   */
  rewind(position: number): boolean {
    if (position > this.position) return false;
    if (!this.layers.every((l) => !l || l.canRewind(position))) return false;
    for (const l of this.layers) l?.truncate(position);
    this.position = position;
    return true;
  }

  /** Called after a forward step: advances the position and trims sliding windows. */
  commit(tokens: number): void {
    this.position += tokens;
    for (const l of this.layers) l?.trim();
  }
}
