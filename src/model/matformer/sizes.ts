// MatFormer slices on a given checkpoint: resolving a slice to its plan, and what each official slice
// costs there (for `gemma3n info --slices` and automatic slice choice), from the headers alone.
import type { Checkpoint } from "../../checkpoint/checkpoint.js";
import { isQuantized, QBLOCK, type DType } from "../../kernels/dtype.js";
import { Gemma3nError } from "../../errors.js";
import { sliceCost, type SliceCost } from "./cost.js";
import { OFFICIAL_SLICES } from "./official.js";
import { fullPlan, planSlice, type SlicePlan, type SliceSpec } from "./plan.js";
import { interpolateSlice } from "./slice-config.js";

/** The whole model, as a slice name. */
export const FULL = "full";

/**
 * The plan of a slice on a checkpoint, checked against its layers and widths; with block-quantized FFN
 * weights (stored, or `dtype` in memory) widths must be whole blocks.
 */
export function planOn(ck: Checkpoint, spec: SliceSpec | { ratio: number }, dtype?: DType): SlicePlan {
  const c = ck.config.text;
  const stored = ck.entry("model.language_model.layers.0.mlp.gate_proj.weight").dtype;
  // A column prefix of block-quantized rows (stored, or quantized at load) must end on a block.
  const block = isQuantized(stored) || (dtype !== undefined && isQuantized(dtype)) ? QBLOCK : 1;
  if (typeof spec === "string" && spec.toLowerCase() === FULL) return fullPlan(c);
  if (typeof spec === "object" && "ratio" in spec) spec = interpolateSlice(c, spec.ratio);
  return planSlice(c, spec, block);
}

/** What running `plan` costs, from the checkpoint's headers; the KV cache is sized for `context` tokens. */
export function costOn(ck: Checkpoint, plan: SlicePlan, dtype?: DType, context?: number): SliceCost {
  return sliceCost(ck.names().map((name) => ck.entry(name)), ck.config.text, plan, dtype, context);
}

export interface SliceSize extends Partial<SliceCost> {
  name: string;
  /** Google's name, effective parameters (B) and MMLU, for the official slices. */
  published?: { name: string; effectiveB: number; mmlu: number };
  /** Why the slice does not apply to this checkpoint. */
  error?: string;
}

/** The whole model and every official slice, with their costs on `ck` (or why they do not apply). */
export function describeSlices(ck: Checkpoint, dtype?: DType, context?: number): SliceSize[] {
  const rows: SliceSize[] = [{ name: FULL, ...costOn(ck, fullPlan(ck.config.text), dtype, context) }];
  for (const s of OFFICIAL_SLICES) {
    const published = { name: s.published, effectiveB: s.publishedEffectiveB, mmlu: s.mmlu };
    try {
      rows.push({ name: s.name, published, ...costOn(ck, planOn(ck, s.name, dtype), dtype, context) });
    } catch (e) {
      if (!(e instanceof Gemma3nError)) throw e;
      rows.push({ name: s.name, published, error: e.message });
    }
  }
  return rows;
}

/** One slice's plan and cost on `ck`. */
export function describeSlice(ck: Checkpoint, spec: SliceSpec | { ratio: number }, dtype?: DType, context?: number) {
  const plan = planOn(ck, spec, dtype);
  return { name: plan.name, storedLayers: plan.layers, ffnWidths: plan.text.intermediateSize, ...costOn(ck, plan, dtype, context) };
}
