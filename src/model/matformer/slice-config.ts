// A MatFormer slice as a user writes it: one FFN width per kept layer and the original indices of the
// layers to skip (the MatFormer Lab's `ffn_hidden_dims` / `layers_to_skip`, the CSV's "FFN Hidden
// Dims" / "Layers Skipped"). What it means for a given model is worked out in plan.ts.
import { ConfigError, InputError } from "../../errors.js";
import type { TextConfig } from "../config.js";

export interface SliceConfig {
  /** Shown in messages and by `model.slice`. */
  name?: string;
  /** FFN hidden width of each kept layer, in order: the first k units of the stored FFN. */
  ffnHiddenDims: readonly number[];
  /** Original indices of the layers to drop (default none). */
  layersToSkip?: readonly number[];
}

const KEYS = ["ffn_hidden_dims", "layers_to_skip", "name"];

/** A slice file's JSON: `{"ffn_hidden_dims": [...], "layers_to_skip": [...], "name": "..."}`. */
export function parseSliceConfig(json: unknown, where: string): SliceConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ConfigError(`${where}: a MatFormer slice must be a JSON object`);
  const o = json as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0) throw new ConfigError(`${where}: unknown key ${unknown.map((k) => JSON.stringify(k)).join(", ")} (a slice has ${KEYS.join(", ")})`);
  const ints = (key: string, min: number): number[] => {
    const v = o[key];
    if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && x >= min)) {
      throw new ConfigError(`${where}: "${key}" must be a list of integers ≥ ${min}, got ${JSON.stringify(v)}`);
    }
    return v as number[];
  };
  if (o.ffn_hidden_dims === undefined) throw new ConfigError(`${where}: "ffn_hidden_dims" is missing (one FFN width per kept layer)`);
  if (o.name !== undefined && (typeof o.name !== "string" || o.name === "")) throw new ConfigError(`${where}: "name" must be a non-empty string`);
  return {
    name: o.name as string | undefined,
    ffnHiddenDims: ints("ffn_hidden_dims", 1),
    layersToSkip: o.layers_to_skip === undefined || o.layers_to_skip === null ? [] : ints("layers_to_skip", 0),
  };
}

/** The JSON a slice file holds (inverse of parseSliceConfig). */
export function sliceConfigJson(s: SliceConfig): Record<string, unknown> {
  return { ...(s.name ? { name: s.name } : {}), ffn_hidden_dims: [...s.ffnHiddenDims], layers_to_skip: [...(s.layersToSkip ?? [])] };
}

/**
 * A size between E2B and E4B as per-layer widths: `ratio` 0 gives every layer half its stored width
 * (E2B's 8192 of E4B's 16384), 1 the full stored width, and values between interpolate linearly,
 * rounded down to a multiple of `multipleOf` (32 = the block size of the quantized formats). No layer
 * is skipped.
 */
export function interpolateSlice(c: TextConfig, ratio: number, multipleOf = 32): SliceConfig {
  if (!(ratio >= 0 && ratio <= 1)) throw new InputError(`a MatFormer size ratio must be between 0 (E2B widths) and 1 (the full model), got ${ratio}`);
  const ffnHiddenDims = c.intermediateSize.map((full, i) => {
    const width = Math.floor((full / 2 + (full / 2) * ratio) / multipleOf) * multipleOf;
    if (width < multipleOf) throw new InputError(`layer ${i}'s FFN (${full} wide) is too narrow to slice in steps of ${multipleOf}`);
    return Math.min(width, full);
  });
  return { name: `ratio-${ratio}`, ffnHiddenDims, layersToSkip: [] };
}
