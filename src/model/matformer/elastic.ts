// One loaded model that changes its MatFormer slice while it runs (elastic inference). Weights are a
// view: the layers the active slice runs are resident, each with at least the FFN prefix it needs;
// switching loads what is missing from the (still open) checkpoint and, when asked, frees what the
// new slice does not use. A KV cache belongs to the slice it was made under: a step with a cache made
// under an earlier slice runs on that slice's decoder, so a generation in flight finishes on the
// slice it started with, while new caches (sessions, requests) get the new slice.
import type { Checkpoint } from "../../checkpoint/checkpoint.js";
import { InputError } from "../../errors.js";
import type { Backend } from "../../kernels/backend.js";
import { heapStorage, type DType, type Storage } from "../../kernels/dtype.js";
import type { GeluNumerics } from "../../kernels/gelu-f16-table.js";
import type { TextConfig } from "../config.js";
import { TextDecoder } from "../text/decoder.js";
import { KVCache } from "../text/kv-cache.js";
import { loadLayerWeights, loadSharedWeights, type LayerWeights, type TextWeights } from "../text/weights.js";
import type { SliceCost } from "./cost.js";
import { E4B_FFN_WIDTH, E4B_LAYERS, OFFICIAL_SLICES } from "./official.js";
import { fullPlan, type SlicePlan, type SliceSpec } from "./plan.js";
import { costOn, planOn } from "./sizes.js";

/** Picks the largest slice (by effective parameters) within the budgets given. */
export interface AutoSlice {
  /** Most bytes the text weights plus a full-context KV cache may take. */
  memoryBytes?: number;
  /** Longest a decode step may take, in milliseconds, as measured on this machine. */
  msPerToken?: number;
  /** Slices to choose from (default: the whole model and the official slices that fit it). */
  candidates?: readonly SliceSpec[];
}

/**
 * A slice to run: "full", an official name, a slice config, a size ratio between E2B (0) and E4B (1),
 * or a budget.
 */
export type SliceRequest = SliceSpec | { ratio: number } | { auto: AutoSlice };

export interface SwitchOptions {
  /** Free the weights the new slice does not use (they are read from disk again if needed later). */
  releaseUnused?: boolean;
}

export class ElasticDecoder {
  private readonly shared: Omit<TextWeights, "layers" | "perLayerSlots">;
  /** Resident stored layers and the FFN width each holds. */
  private readonly resident = new Map<number, { weights: LayerWeights; width: number }>();
  /** The decoder of every slice whose caches may still be in use. */
  private readonly decoders = new WeakMap<TextConfig, TextDecoder>();
  private current!: TextDecoder;
  private currentPlan!: SlicePlan;

  constructor(
    private readonly ck: Checkpoint,
    private readonly backend: Backend,
    /** Tokens a KV cache is sized for, for memory budgets. */
    private readonly contextLength: number,
    private readonly dtype?: DType,
    private readonly storage: Storage = heapStorage,
    private readonly gelu: GeluNumerics = "exact",
  ) {
    this.shared = loadSharedWeights(ck, ck.config, dtype, storage);
  }

  get decoder(): TextDecoder {
    return this.current;
  }
  get plan(): SlicePlan {
    return this.currentPlan;
  }
  private get stored(): TextConfig {
    return this.ck.config.text;
  }

  planOf(spec: SliceSpec | { ratio: number }): SlicePlan {
    return planOn(this.ck, spec, this.dtype);
  }

  costOf(plan: SlicePlan): SliceCost {
    return costOn(this.ck, plan, this.dtype, this.contextLength);
  }

  /** Makes `request` the active slice; returns its plan. */
  setSlice(request: SliceRequest, opts: SwitchOptions = {}): SlicePlan {
    const auto = typeof request === "object" && "auto" in request ? request.auto : undefined;
    const plan = auto ? this.choose(auto) : this.planOf(request as SliceSpec | { ratio: number });
    // A memory budget is only met if what the slice does not use goes.
    if (opts.releaseUnused || auto?.memoryBytes !== undefined) this.release(plan);
    this.activate(plan);
    return plan;
  }

  private activate(plan: SlicePlan): void {
    this.current = this.decoderOf(plan);
    this.currentPlan = plan;
    this.decoders.set(plan.text, this.current);
  }

  private decoderOf(plan: SlicePlan): TextDecoder {
    return new TextDecoder({ ...this.ck.config, text: plan.text }, this.view(plan), this.backend, this.gelu);
  }

  /** The decoder a cache was made for: the active one, or the one of the slice that was active then. */
  decoderFor(cache: KVCache): TextDecoder {
    return this.decoders.get(cache.config) ?? this.current;
  }

  /** Milliseconds of one decode step of `plan` (median of three, after a warm-up step). */
  private measureMsPerToken(plan: SlicePlan): number {
    const decoder = this.decoderOf(plan);
    const cache = new KVCache(plan.text);
    const bos = Int32Array.of(this.ck.config.bosId);
    decoder.forward(bos, cache);
    const times = [0, 1, 2].map(() => {
      const t0 = performance.now();
      decoder.forward(bos, cache);
      return performance.now() - t0;
    });
    return times.sort((a, b) => a - b)[1]!;
  }

  /** The weights `plan` runs on, loading stored layers (or wider FFN prefixes) it lacks. */
  private view(plan: SlicePlan): TextWeights {
    const layers = plan.layers.map((i, l) => {
      const width = plan.text.intermediateSize[l]!;
      let r = this.resident.get(i);
      if (!r || r.width < width) {
        r = { weights: loadLayerWeights(this.ck, this.stored, i, width, this.dtype, this.storage), width };
        this.resident.set(i, r);
      }
      return r.weights;
    });
    return { ...this.shared, layers, perLayerSlots: plan.layers };
  }

  /** Drops the stored layers `plan` does not run, and FFN units beyond its widths. */
  private release(plan: SlicePlan): void {
    const keep = new Map(plan.layers.map((i, l) => [i, plan.text.intermediateSize[l]!]));
    for (const [i, r] of this.resident) {
      const width = keep.get(i);
      if (width === undefined) this.resident.delete(i);
      else if (r.width > width) this.resident.delete(i); // reloaded at the narrower width by view()
    }
  }

  private choose(auto: AutoSlice): SlicePlan {
    const plans: SlicePlan[] = [];
    if (auto.candidates) for (const spec of auto.candidates) plans.push(this.planOf(spec));
    else {
      plans.push(fullPlan(this.stored));
      const e4b = this.stored.numLayers === E4B_LAYERS && this.stored.intermediateSize.every((w) => w === E4B_FFN_WIDTH);
      if (e4b) for (const s of OFFICIAL_SLICES) plans.push(this.planOf(s.name));
    }
    if (plans.length === 0) throw new InputError("automatic MatFormer slice: no candidates given");
    const costs = new Map(plans.map((p) => [p, this.costOf(p)]));
    const cost = (p: SlicePlan) => costs.get(p)!;
    const smallest = (by: (c: SliceCost) => number) => plans.reduce((a, b) => (by(cost(b)) < by(cost(a)) ? b : a));
    let fitting = plans;
    if (auto.memoryBytes !== undefined) {
      const need = (c: SliceCost) => c.weightsBytes + c.kvCacheBytes;
      fitting = fitting.filter((p) => need(cost(p)) <= auto.memoryBytes!);
      if (fitting.length === 0) {
        const s = smallest(need);
        throw new InputError(`no MatFormer slice fits in ${auto.memoryBytes} bytes: the smallest, ${s.name}, needs ${need(cost(s))} (weights and a ${this.contextLength}-token KV cache)`);
      }
    }
    if (auto.msPerToken !== undefined) {
      // Decode is bound by the weight bytes it reads: scale a measurement of the lightest slice by
      // them (which overestimates the others a little, as fixed costs scale too).
      const probe = fitting.reduce((a, b) => (cost(b).decodeBytes < cost(a).decodeBytes ? b : a));
      const perByte = this.measureMsPerToken(probe) / cost(probe).decodeBytes;
      fitting = fitting.filter((p) => cost(p).decodeBytes * perByte <= auto.msPerToken!);
      if (fitting.length === 0) {
        throw new InputError(`no MatFormer slice decodes within ${auto.msPerToken} ms per token here: the fastest, ${probe.name}, took ${(cost(probe).decodeBytes * perByte).toFixed(1)} ms`);
      }
    }
    return fitting.reduce((best, p) => (cost(p).effectiveParams > cost(best).effectiveParams ? p : best));
  }
}
