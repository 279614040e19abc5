// A MatFormer slice as a standalone Hugging Face checkpoint (MatFormer Lab's procedure, spec §5.3):
// the config.json of the slice, and for every kept tensor where its bytes come from — skipped layers
// dropped and the rest renumbered, FFN prefixes cut, per-layer-embedding slots of the kept layers
// picked out of the table and its projection, everything else copied. Dtypes stay as stored.
import type { TensorEntry } from "../../checkpoint/safetensors.js";
import type { TextConfig } from "../config.js";
import type { SlicePlan } from "./plan.js";

/** Index ranges [start, end) along one axis. */
export type Ranges = [number, number][];

export interface ExportTensor {
  /** Canonical name in the slice (layers renumbered). */
  name: string;
  shape: number[];
  source: TensorEntry;
  /** Rows and columns of the stored matrix to keep (all, when absent). */
  rows?: Ranges;
  cols?: Ranges;
}

const TEXT = "model.language_model.";
const LAYER = /^model\.language_model\.layers\.(\d+)\.(.+)$/;

/** The slice's config.json: the parent's, with the text config's per-layer fields replaced. */
export function slicedConfigJson(raw: Record<string, unknown>, plan: SlicePlan): Record<string, unknown> {
  const out = structuredClone(raw);
  const text = (out.model_type === "gemma3n" ? out.text_config : out) as Record<string, unknown>;
  const t = plan.text;
  text.num_hidden_layers = t.numLayers;
  text.intermediate_size = [...t.intermediateSize];
  text.layer_types = t.layerTypes.map((type) => (type === "full" ? "full_attention" : "sliding_attention"));
  text.activation_sparsity_pattern = [...t.activationSparsity];
  text.num_kv_shared_layers = t.numKvSharedLayers;
  return out;
}

/** Every tensor of the slice, in the order of `entries`. */
export function sliceTensors(entries: readonly TensorEntry[], stored: TextConfig, plan: SlicePlan): ExportTensor[] {
  const newIndex = new Map(plan.layers.map((i, j) => [i, j]));
  const P = stored.hiddenSizePerLayerInput;
  const slots: Ranges = plan.layers.map((i) => [i * P, (i + 1) * P]);
  const out: ExportTensor[] = [];
  for (const e of entries) {
    const [r, c] = e.shape as number[];
    if (e.name === TEXT + "embed_tokens_per_layer.weight") {
      out.push({ name: e.name, shape: [r!, slots.length * P], source: e, cols: slots });
    } else if (e.name === TEXT + "per_layer_model_projection.weight") {
      out.push({ name: e.name, shape: [slots.length * P, c!], source: e, rows: slots });
    } else {
      const m = LAYER.exec(e.name);
      if (!m) {
        out.push({ name: e.name, shape: [...e.shape], source: e });
        continue;
      }
      const j = newIndex.get(Number(m[1]));
      if (j === undefined) continue;
      const name = `${TEXT}layers.${j}.${m[2]}`;
      const width = plan.text.intermediateSize[j]!;
      if (m[2] === "mlp.gate_proj.weight" || m[2] === "mlp.up_proj.weight") out.push({ name, shape: [width, c!], source: e, rows: [[0, width]] });
      else if (m[2] === "mlp.down_proj.weight") out.push({ name, shape: [r!, width], source: e, cols: [[0, width]] });
      else out.push({ name, shape: [...e.shape], source: e });
    }
  }
  return out;
}
