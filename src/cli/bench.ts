// gemma3n bench: prefill and decode speed, time to first token and peak memory of the text decoder, as
// one JSON object of medians over the runs — on a real checkpoint, or on random weights with the real
// E2B/E4B dimensions built in memory (no download, no file).
import { Command, Option } from "commander";
import { InputError } from "../errors.js";
import { argmax, Sampler } from "../generate/sampler.js";
import { DTYPES, type DType } from "../kernels/dtype.js";
import { Gemma3n } from "../model/gemma3n.js";
import type { AudioEncoder } from "../model/audio/media-encoder.js";
import type { VisionEncoder } from "../model/vision/encoder.js";
import { syntheticCheckpoint } from "../model/synthetic-checkpoint.js";
import type { SyntheticSize } from "../model/synthetic.js";
import { loadModel } from "../node/load.js";
import { WasmBackend } from "../kernels/wasm/backend.js";
import { createWasmBackend } from "../node/wasm-backend.js";
import { intOption } from "./args.js";
import { sliceArg, writeJson } from "./common.js";

interface BenchFlags {
  model?: string;
  synthetic?: SyntheticSize;
  dtype?: DType;
  threads?: number;
  matformer?: string;
  prompt: number;
  gen: number;
  runs: number;
  images: number;
  audio: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The released checkpoints' generation_config.json: what a chat samples with by default. */
const RELEASED_SAMPLING = { temperature: 1, topK: 64, topP: 0.95 };

/**
 * One prompt of `prompt` ids, then `gen` decode steps, each fed the previous step's greedy token. Each
 * step's logits also go through the released models' default sampling, timed apart from the step.
 */
function run(model: Gemma3n, prompt: number, gen: number, seed: number): { prefillS: number; ttftS: number; decodeS: number; sampleMs: number } {
  const vocab = model.config.text.vocabSizePerLayerInput;
  const ids = Int32Array.from({ length: prompt }, (_, i) => 3 + ((seed * 7919 + i * 104729) % (vocab - 3)));
  const sampler = new Sampler({ ...RELEASED_SAMPLING, seed });
  const cache = model.newCache();
  const t0 = performance.now();
  const logits = model.step(ids, cache);
  const t1 = performance.now();
  let next = argmax(logits);
  const t2 = performance.now();
  let sampling = 0;
  for (let i = 0; i < gen; i++) {
    const step = model.step(Int32Array.of(next), cache);
    next = argmax(step);
    const s0 = performance.now();
    sampler.sample(step, []);
    sampling += performance.now() - s0;
  }
  const t3 = performance.now();
  return { prefillS: (t1 - t0) / 1000, ttftS: (t2 - t0) / 1000, decodeS: (t3 - t2 - sampling) / 1000, sampleMs: gen > 0 ? sampling / gen : 0 };
}

/** Milliseconds to turn a 768 × 768 image (raw pixels, so no file decoding) into soft-token embeddings. */
async function imageMs(model: Gemma3n, seed: number): Promise<number> {
  const data = Uint8Array.from({ length: 768 * 768 * 3 }, (_, i) => (Math.imul(i + seed, 2654435761) >>> 24) & 255);
  const t0 = performance.now();
  await model.mediaEncoder("image").encode({ data, width: 768, height: 768, channels: 3 });
  return performance.now() - t0;
}

/** Seconds to turn `seconds` of 16 kHz audio into soft-token embeddings (log-mel features, audio tower, embed_audio). */
async function audioS(model: Gemma3n, seconds: number): Promise<number> {
  const pcm = Float32Array.from({ length: seconds * 16000 }, (_, i) => 0.3 * Math.sin(i * 0.05) + 0.05 * Math.sin(i * 1.7));
  const t0 = performance.now();
  await model.mediaEncoder("audio").encode({ pcm, sampleRate: 16000 });
  return (performance.now() - t0) / 1000;
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("prefill/decode speed, time to first token and peak RSS of the text decoder (JSON, medians of --runs)")
    .option("--model <dir|file>", "a checkpoint to measure")
    .addOption(new Option("--synthetic <size>", "random weights with the real dimensions, built in memory").choices(["e2b", "e4b"]))
    .addOption(new Option("--dtype <type>", "weight dtype in memory (default: as stored; bf16 for --synthetic)").choices(DTYPES))
    .option("--threads <n>", "compute threads (default: the available cores)", intOption("--threads", 1))
    .option("--matformer <slice>", "MatFormer slice to measure (as for every command: a name, a ratio or a slice JSON file)")
    .option("--prompt <n>", "prompt tokens", intOption("--prompt", 1), 512)
    .option("--gen <n>", "decode steps", intOption("--gen", 0), 128)
    .option("--runs <n>", "timed runs (after one short warm-up)", intOption("--runs", 1), 3)
    .option("--images <n>", "also time n images through the vision tower and embed_vision (minutes each on 2 cores)", intOption("--images", 0), 0)
    .option("--audio <seconds>", "also time a clip of this many seconds through the log-mel features, audio tower and embed_audio (audio_rtf; minutes on 2 cores for 30 s)", intOption("--audio", 0), 0)
    .option("--json", "print the result as JSON (the only format)")
    .action(async (f: BenchFlags) => {
      if ((f.model === undefined) === (f.synthetic === undefined)) throw new InputError("give exactly one of --model and --synthetic");
      const loadStart = performance.now();
      let model: Gemma3n;
      if (f.synthetic) {
        const dtype = f.dtype ?? "bf16";
        const backend = await createWasmBackend({ threads: f.threads });
        model = new Gemma3n(syntheticCheckpoint(f.synthetic, dtype), undefined, { dtype, backend, ownsBackend: true, matformer: sliceArg(f.matformer) });
      } else {
        model = await loadModel(f.model!, { dtype: f.dtype, threads: f.threads, matformer: sliceArg(f.matformer) });
      }
      try {
        if (f.prompt + f.gen > model.contextLength) throw new InputError(`--prompt + --gen = ${f.prompt + f.gen} exceeds the context length ${model.contextLength}`);
        const loadS = (performance.now() - loadStart) / 1000;
        run(model, Math.min(8, f.prompt), Math.min(2, f.gen), 0);
        const runs = Array.from({ length: f.runs }, (_, k) => run(model, f.prompt, f.gen, k + 1));
        const imageTimes: number[] = [];
        if (f.images > 0) (model.mediaEncoder("image") as VisionEncoder).load();
        for (let k = 0; k < f.images; k++) imageTimes.push(await imageMs(model, k));
        if (f.audio > 0) (model.mediaEncoder("audio") as AudioEncoder).load();
        const audioRtf = f.audio > 0 ? (await audioS(model, f.audio)) / f.audio : null;
        const backend = model.decoder.backend;
        writeJson({
          model: f.synthetic ? `synthetic-${f.synthetic}` : f.model,
          dtype: f.dtype ?? (f.synthetic ? "bf16" : "as stored"),
          matformer: model.slice.name,
          threads: "threads" in backend ? backend.threads : 1,
          backend: backend.name,
          dispatch_us: backend instanceof WasmBackend ? +backend.dispatchMicros().toFixed(1) : null,
          prompt_tokens: f.prompt,
          gen_tokens: f.gen,
          runs: f.runs,
          prefill_tok_s: +median(runs.map((r) => f.prompt / r.prefillS)).toFixed(2),
          decode_tok_s: f.gen > 0 ? +median(runs.map((r) => f.gen / r.decodeS)).toFixed(2) : null,
          sample_ms: f.gen > 0 ? +median(runs.map((r) => r.sampleMs)).toFixed(2) : null,
          ttft_ms: +median(runs.map((r) => r.ttftS * 1000)).toFixed(1),
          peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
          load_s: +loadS.toFixed(2),
          vision_ms_per_image: imageTimes.length ? Math.round(median(imageTimes)) : null,
          audio_seconds: f.audio || null,
          audio_rtf: audioRtf === null ? null : +audioRtf.toFixed(3),
        });
      } finally {
        model.close();
      }
    });
}
