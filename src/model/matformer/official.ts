// Google's 16 Mix-n-Match configurations of Gemma 3n E4B (text-decoder spec §5.4, the dataset
// google/gemma3n-slicing-configs). Widths are per kept layer in multiples of 2048 (4 = 8192, the E2B
// width; 8 = 16384, the full E4B width). Published names collide twice (E2.98B, E3.79B exist at layer
// and block level), so each gets a short unique name.
import type { SliceConfig } from "./slice-config.js";

export interface OfficialSlice {
  /** Short unique name: what `--matformer` takes. */
  name: string;
  /** The name in Google's table. */
  published: string;
  layers: number;
  /** Effective parameters as Google published them, in billions. */
  publishedEffectiveB: number;
  /** MMLU accuracy of the pre-trained model, percent. */
  mmlu: number;
  config: SliceConfig;
}

/** The model Google's configurations slice: Gemma 3n E4B's layer count and FFN width. */
export const E4B_LAYERS = 35;
export const E4B_FFN_WIDTH = 16384;

const E2B_SKIP = [20, 21, 22, 23, 24];
// name, published name, effective params (B), MMLU, widths / 2048, skipped layers
const TABLE: [string, string, number, number, string, number[]][] = [
  ["E4B", "Main model", 3.98, 62.3, "88888888888888888888888888888888888", []],
  ["E2B", "Config for official E2B Model", 1.91, 50.9, "444444444444444444444444444444", E2B_SKIP],
  ["E1.96B", "Config for E1.96B (layer-level)", 1.96, 53.4, "444484444444444444444444444444", E2B_SKIP],
  ["E2.54B", "Config for E2.54B (layer-level)", 2.54, 55.4, "44448444444444444444888884444444444", []],
  ["E2.69B", "Config for E2.69B (layer-level)", 2.69, 57.7, "44448444484444844448888884444444444", []],
  ["E2.98B-layer", "Config for E2.98B (layer-level)", 2.98, 59.5, "44444444444444488888888884444488888", []],
  ["E3.18B", "Config for E3.18B (layer-level)", 3.18, 61.8, "44448444488888888888888884444844448", []],
  ["E3.39B", "Config for E3.39B (layer-level)", 3.39, 63.0, "44448444488888888888888888888844448", []],
  ["E3.59B", "Config for E3.59B (layer-level)", 3.59, 63.4, "44448888888888888888888888888844448", []],
  ["E3.79B-layer", "Config for E3.79B (layer-level)", 3.79, 63.4, "44448888888888888888888888888888888", []],
  ["E2.49B", "Config for E2.49B (block-level)", 2.49, 54.5, "44444444444444444444888884444444444", []],
  ["E2.73B", "Config for E2.73B (block-level)", 2.73, 57.1, "44444444444444488888888884444444444", []],
  ["E2.98B-block", "Config for E2.98B (block-level)", 2.98, 59.5, "44444444448888888888888884444444444", []],
  ["E3.24B", "Config for E3.24B (block-level)", 3.24, 60.7, "44444444448888888888888888888844444", []],
  ["E3.49B", "Config for E3.49B (block-level)", 3.49, 61.4, "44444888888888888888888888888844444", []],
  // Google publishes 3.74 B for the configuration it names E3.79B (block-level).
  ["E3.79B-block", "Config for E3.79B (block-level)", 3.74, 62.0, "44444888888888888888888888888888888", []],
];

export const OFFICIAL_SLICES: readonly OfficialSlice[] = TABLE.map(([name, published, eff, mmlu, widths, skip]) => ({
  name,
  published,
  layers: widths.length,
  publishedEffectiveB: eff,
  mmlu,
  config: { name, ffnHiddenDims: [...widths].map((d) => Number(d) * 2048), layersToSkip: skip },
}));

/** The official configuration called `name` (case-insensitive), if there is one. */
export function officialSlice(name: string): OfficialSlice | undefined {
  const key = name.toLowerCase();
  return OFFICIAL_SLICES.find((s) => s.name.toLowerCase() === key);
}
