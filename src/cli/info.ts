// gemma3n info: architecture, parameter counts, dtypes and memory needs, read from the headers only.
import { Command } from "commander";
import { openHFCheckpoint } from "../checkpoint/hf.js";
import { formatBytes } from "../hub/index.js";
import { describeCheckpoint } from "../model/info.js";
import { NodeModelFiles } from "../node/fs.js";
import { resolveModelPath } from "../node/load.js";
import { modelOptions, writeJson, type ModelFlags } from "./common.js";

const billions = (n: number) => `${(n / 1e9).toFixed(3)} B (${n.toLocaleString("en-US")})`;

export function registerInfo(program: Command): void {
  modelOptions(program.command("info").description("architecture, parameter counts, dtypes and memory needs"))
    .option("--json", "print JSON")
    .action(async (f: ModelFlags & { json?: boolean }) => {
      const dir = await resolveModelPath(f.model, { progress: true });
      const ck = openHFCheckpoint(new NodeModelFiles(dir), { weights: f.weights });
      try {
        const info = describeCheckpoint(ck, f.dtype);
        if (f.json) return writeJson(info);
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
            "",
          ].join("\n"),
        );
      } finally {
        ck.close();
      }
    });
}
