// gemma3n convert: write a Hugging Face checkpoint's text model as a GGUF file llama.cpp loads.
import { Command, Option } from "commander";
import { EXPORT_DTYPES, type ExportDType } from "../checkpoint/gguf-export.js";
import { formatBytes } from "../hub/index.js";
import { convertToGGUF } from "../node/convert.js";
import { resolveModelPath } from "../node/load.js";

export function registerConvert(program: Command): void {
  program
    .command("convert")
    .description("convert a Hugging Face checkpoint's text model to GGUF (llama.cpp's names, metadata and vocabulary layout)")
    .requiredOption("--model <dir|repo>", "model directory, or a Hugging Face repo id")
    .requiredOption("--out <file.gguf>", "output file")
    .addOption(new Option("--dtype <type>", "tensor type of the matrices (1-D tensors stay f32; rows that are not whole blocks fall back)").choices(EXPORT_DTYPES).default("f16"))
    .action(async (f: { model: string; out: string; dtype: ExportDType }) => {
      const dir = await resolveModelPath(f.model, { progress: true });
      const result = convertToGGUF(dir, f.out, { dtype: f.dtype, progress: process.stderr.isTTY });
      for (const w of result.warnings) process.stderr.write(`gemma3n: warning: llama.cpp would misread this model: ${w}\n`);
      if (!result.tokenizer) process.stderr.write(`gemma3n: warning: ${dir} has no tokenizer.json, so the GGUF has no vocabulary (llama.cpp needs one)\n`);
      process.stderr.write(`wrote ${f.out}: ${result.tensors} tensors, ${formatBytes(result.bytes)} (text model only; vision and audio are not converted)\n`);
    });
}
