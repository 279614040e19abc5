// gemma3n info: architecture, parameter counts, dtypes and memory needs, read from the headers only.
import { Command } from "commander";
import { formatBytes } from "../hub/index.js";
import { describeCheckpoint } from "../model/info.js";
import type { SliceSpec } from "../model/matformer/plan.js";
import { describeSlice, describeSlices, type SliceSize } from "../model/matformer/sizes.js";
import { openCheckpoint, resolveModelPath } from "../node/load.js";
import { modelOptions, sliceArg, writeJson, type ModelFlags } from "./common.js";

const billions = (n: number) => `${(n / 1e9).toFixed(3)} B (${n.toLocaleString("en-US")})`;

export function registerInfo(program: Command): void {
  modelOptions(program.command("info").description("architecture, parameter counts, dtypes and memory needs"))
    .option("--json", "print JSON")
    .option("--slices", "list the MatFormer slices (the whole model and Google's official ones) with their size and memory on this checkpoint")
    .action(async (f: ModelFlags & { json?: boolean; slices?: boolean }) => {
      const dir = await resolveModelPath(f.model, { progress: true });
      const ck = openCheckpoint(dir, f.weights).checkpoint;
      try {
        const info = describeCheckpoint(ck, f.dtype);
        if (f.slices) return printSlices(describeSlices(ck, f.dtype), f.json);
        const request = sliceArg(f.matformer) as SliceSpec | { ratio: number } | undefined;
        const slice = request === undefined ? undefined : describeSlice(ck, request, f.dtype);
        if (f.json) return writeJson(slice ? { ...info, slice } : info);
        const a = info.architecture;
        const p = info.parameters;
        const m = info.memory;
        const widths = [...new Set(a.ffnWidths)].join("/");
        process.stdout.write(
          [
            `model: ${dir}`,
            `architecture: Gemma 3n, ${a.layers} layers, hidden ${a.hiddenSize}, FFN ${widths}, ${a.heads} query / ${a.kvHeads} KV heads × ${a.headDim}, vocab ${a.vocabSize}`,
            `  sliding window ${a.slidingWindow}, last ${a.kvSharedLayers} layers share KV, context ${a.contextLength}`,
            `parameters:`,
            `  effective (text, no embeddings): ${billions(p.effective)}`,
            `  token embedding:                 ${billions(p.embedding)}`,
            `  per-layer embeddings (PLE):      ${billions(p.perLayerEmbedding)}`,
            `  vision:                          ${billions(p.vision)}`,
            `  audio:                           ${billions(p.audio)}`,
            `  total:                           ${billions(p.total)}`,
            `dtypes: ${Object.entries(info.dtypes).map(([d, n]) => `${n} × ${d}`).join(", ")}`,
            `memory (${m.dtype}): text weights ${formatBytes(m.weightsBytes)} in RAM, PLE table ${formatBytes(m.perLayerEmbeddingDiskBytes)} read from disk, KV cache ${formatBytes(m.kvCacheBytes)} at full context`,
            ...(slice
              ? [
                  `MatFormer slice ${slice.name}: ${slice.layers} layers (stored ${slice.storedLayers.join(",")}), FFN ${slice.ffnWidths.join(",")}`,
                  `  effective ${billions(slice.effectiveParams)}, text weights ${formatBytes(slice.weightsBytes)} in RAM, KV cache ${formatBytes(slice.kvCacheBytes)} at full context`,
                ]
              : []),
            "",
          ].join("\n"),
        );
      } finally {
        ck.close();
      }
    });
}

function printSlices(rows: SliceSize[], json?: boolean): void {
  if (json) return writeJson({ slices: rows });
  const out = [`${"name".padEnd(14)} ${"layers".padStart(6)}  ${"effective params".padStart(16)}${"Google".padStart(7)}${"MMLU".padStart(7)}  ${"weights in RAM".padStart(14)}  KV cache (full context)`];
  for (const r of rows) {
    const google = r.published ? `${r.published.effectiveB.toFixed(2)} B`.padStart(7) + `${r.published.mmlu.toFixed(1)}%`.padStart(7) : " ".repeat(14);
    if (r.error) out.push(`${r.name.padEnd(14)} ${"-".padStart(6)}  ${"-".padStart(16)}${google}  does not apply: ${r.error}`);
    else out.push(`${r.name.padEnd(14)} ${String(r.layers).padStart(6)}  ${r.effectiveParams!.toLocaleString("en-US").padStart(16)}${google}  ${formatBytes(r.weightsBytes!).padStart(14)}  ${formatBytes(r.kvCacheBytes!)}`);
  }
  process.stdout.write(out.join("\n") + "\n");
}
