// gemma3n logits: float32 logits for every position of a token-id prompt, as a .npy [1, n, vocab].
import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { encodeNpy } from "../io/npy.js";
import { collect, parseIds } from "./args.js";
import { modelOptions, openModel, readMediaFile, type ModelFlags } from "./common.js";

export function registerLogits(program: Command): void {
  modelOptions(program.command("logits").description("write the logits of every position of --ids to a .npy file"))
    .requiredOption("--ids <ids>", "comma-separated token ids")
    .requiredOption("--out <file.npy>", "output file")
    .option("--audio <file>", "an audio clip for the expanded audio placeholders of --ids, in order; repeatable", collect, [])
    .option("--image <file>", "an image for the expanded image placeholders of --ids, in order; repeatable", collect, [])
    .action(async (f: ModelFlags & { ids: string; out: string; audio: string[]; image: string[] }) => {
      const ids = parseIds(f.ids);
      const audio = f.audio.map((p) => readMediaFile(p, "--audio"));
      const images = f.image.map((p) => readMediaFile(p, "--image"));
      const model = await openModel(f);
      try {
        const prepared = await model.prepare({ ids, audio, images });
        const logits = model.logits(prepared.ids, { soft: prepared.soft });
        writeFileSync(f.out, encodeNpy(logits, [1, ids.length, model.config.text.vocabSize]));
      } finally {
        model.close();
      }
    });
}
