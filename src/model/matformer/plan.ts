// What a MatFormer slice means for one model (text-decoder spec §5.3): which stored layers run, in
// order, and the decoder config of the slice — the kept layers' FFN widths, attention types and
// activation sparsity, with KV sharing re-indexed. The slice's config is exactly the config.json of the
// exported checkpoint; `layers` says where each of its layers lives in the stored one (for the weights
// and the per-layer-embedding slots).
import { ConfigError } from "../../errors.js";
import { kvSourceLayers, type TextConfig } from "../config.js";
import { E4B_FFN_WIDTH, E4B_LAYERS, officialSlice, OFFICIAL_SLICES } from "./official.js";
import type { SliceConfig } from "./slice-config.js";

export interface SlicePlan {
  name: string;
  /** The stored layer each layer of the slice runs, in order. */
  layers: readonly number[];
  /** The slice's decoder config. */
  text: TextConfig;
}

/** A slice by official name, or a slice config. */
export type SliceSpec = string | SliceConfig;

/** The whole model, as a plan: every layer at its stored width. */
export function fullPlan(c: TextConfig): SlicePlan {
  return { name: "full", layers: c.layerTypes.map((_, i) => i), text: c };
}

/** Resolves an official name to its config (with a message that lists the names when it is unknown). */
export function sliceConfigOf(spec: SliceSpec, c: TextConfig): SliceConfig {
  if (typeof spec !== "string") return spec;
  const official = officialSlice(spec);
  if (!official) {
    throw new ConfigError(`unknown MatFormer slice "${spec}" (known: full, ${OFFICIAL_SLICES.map((s) => s.name).join(", ")}; or give a slice JSON file)`);
  }
  if (c.numLayers !== E4B_LAYERS || c.intermediateSize.some((w) => w !== E4B_FFN_WIDTH)) {
    throw new ConfigError(
      `MatFormer slice ${official.name} is defined on Gemma 3n E4B (${E4B_LAYERS} layers, FFN ${E4B_FFN_WIDTH}); this model has ${c.numLayers} layers, FFN ${[...new Set(c.intermediateSize)].join("/")}`,
    );
  }
  return official.config;
}

/**
 * Checks `slice` against the model whose stored config is `c` and derives the slice's config.
 * `ffnBlock` is the block size of the FFN weights' dtype in memory (1 for float types): a width must
 * be whole blocks, since the down projection is cut inside its rows.
 */
export function planSlice(c: TextConfig, spec: SliceSpec, ffnBlock = 1): SlicePlan {
  const slice = sliceConfigOf(spec, c);
  const name = slice.name ?? (typeof spec === "string" ? spec : "custom");
  const bad = (problem: string) => new ConfigError(`MatFormer slice ${name}: ${problem}`);
  const L = c.numLayers;
  const skip = new Set<number>();
  for (const s of slice.layersToSkip ?? []) {
    if (!Number.isInteger(s) || s < 0 || s >= L) throw bad(`layers_to_skip has ${s}, but the model's layers are 0–${L - 1}`);
    if (skip.has(s)) throw bad(`layers_to_skip lists layer ${s} twice`);
    skip.add(s);
  }
  const layers = c.layerTypes.map((_, i) => i).filter((i) => !skip.has(i));
  if (layers.length === 0) throw bad("skips every layer");
  if (slice.ffnHiddenDims.length !== layers.length) {
    throw bad(`ffn_hidden_dims has ${slice.ffnHiddenDims.length} widths, but the model keeps ${layers.length} layers (${L} minus ${skip.size} skipped): give one per kept layer`);
  }
  slice.ffnHiddenDims.forEach((w, j) => {
    const stored = c.intermediateSize[layers[j]!]!;
    if (!Number.isInteger(w) || w < 1) throw bad(`ffn_hidden_dims[${j}] = ${w} is not a positive integer`);
    if (w > stored) throw bad(`ffn_hidden_dims[${j}] = ${w} exceeds the stored FFN width ${stored} of layer ${layers[j]}`);
    if (w % ffnBlock !== 0) throw bad(`ffn_hidden_dims[${j}] = ${w} is not a multiple of ${ffnBlock}, the block size of the quantized FFN weights`);
  });
  // A KV producer may go only together with every layer that reads its cache.
  const sources = kvSourceLayers(c);
  for (const i of layers) {
    if (skip.has(sources[i]!)) throw bad(`layer ${sources[i]} cannot be skipped: layer ${i} reuses its KV cache`);
  }
  const firstShared = L - c.numKvSharedLayers;
  const skippedShared = [...skip].filter((s) => s >= firstShared).length;
  const text: TextConfig = {
    ...c,
    numLayers: layers.length,
    intermediateSize: [...slice.ffnHiddenDims],
    layerTypes: layers.map((i) => c.layerTypes[i]!),
    activationSparsity: layers.map((i) => c.activationSparsity[i]!),
    numKvSharedLayers: c.numKvSharedLayers - skippedShared,
  };
  return { name, layers, text };
}
