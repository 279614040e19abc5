// Audio items of a prompt → language-model soft tokens, as the reference processor and model do it:
// all clips of a prompt are decoded to 16 kHz, cut to 30 s, padded to the longest and turned into
// log-mel features together; each clip goes through the audio tower and embed_audio; tokens that come
// from padding, and the slots the encoder does not fill, take the padding embedding embed_audio(vocab − 1).
// The tower is read from the checkpoint on first use.
import { ConfigError } from "../../errors.js";
import type { Gemma3n } from "../gemma3n.js";
import { mediaEncoderFactories, type MediaEncoder } from "../multimodal.js";
import { parseAudioConfig } from "./config.js";
import { embedAudio, type AudioEmbedderWeights } from "./embedder.js";
import { AudioTower } from "./encoder.js";
import { logMelFeatures, MAX_SAMPLES, MEL_BINS, SAMPLE_RATE } from "./features.js";
import { audioToPcm16k } from "./input.js";
import { loadAudioTowerWeights } from "./weights.js";

export class AudioEncoder implements MediaEncoder {
  readonly kind = "audio";
  private loaded?: { tower: AudioTower; embedder: AudioEmbedderWeights; padding: Float32Array; slots: number };

  constructor(private readonly model: Gemma3n, private readonly warn: (message: string) => void = (m) => console.warn(`gemma3n: warning: ${m}`)) {}

  /** Reads the tower from the checkpoint now (otherwise it is read on first use). */
  load() {
    if (this.loaded) return this.loaded;
    const { checkpoint, config, decoder } = this.model;
    const c = parseAudioConfig(config);
    const slots = config.audioSoftTokensPerImage;
    if (slots === undefined) throw new ConfigError("config.json has no audio_soft_tokens_per_image: this model takes no audio");
    if (c.inputFeatSize !== MEL_BINS) {
      throw new ConfigError(`config.json: audio_config.input_feat_size is ${c.inputFeatSize}, but the feature extractor makes ${MEL_BINS} mel bins`);
    }
    const D = config.text.hiddenSize;
    const E = "model.embed_audio.";
    const hard = decoder.weights.hardTokens.find((h) => h.config === config.audio);
    const embedder = {
      softNorm: checkpoint.loadF32(E + "soft_embedding_norm.weight", [c.hiddenSize]),
      projection: hard?.projection ?? checkpoint.load(E + "embedding_projection.weight", [D, c.hiddenSize]),
      eps: config.audio?.rmsNormEps ?? c.rmsNormEps,
    };
    const b = decoder.backend;
    const tower = new AudioTower(b, c, loadAudioTowerWeights(checkpoint, c, (bytes) => b.weightStorage(bytes)));
    // The reference fills unused audio slots with the last id of the vocabulary, an audio hard token.
    const padding = decoder.embed(Int32Array.of(config.text.vocabSize - 1));
    return (this.loaded = { tower, embedder, padding, slots });
  }

  async encode(item: unknown): Promise<Float32Array> {
    return (await this.encodeAll([item]))[0]!;
  }

  /** Encodes a prompt's clips together: features are padded to the longest, as the reference batches them. */
  async encodeAll(items: unknown[]): Promise<Float32Array[]> {
    const clips: Float32Array[] = [];
    for (const [i, item] of items.entries()) {
      let pcm = await audioToPcm16k(item);
      if (pcm.length > MAX_SAMPLES) {
        this.warn(`audio clip ${i + 1} is ${(pcm.length / SAMPLE_RATE).toFixed(1)} s long; only its first ${MAX_SAMPLES / SAMPLE_RATE} s are used`);
        pcm = pcm.subarray(0, MAX_SAMPLES);
      }
      clips.push(pcm);
    }
    const { tower, embedder, padding, slots } = this.load();
    const b = this.model.decoder.backend;
    const mel = logMelFeatures(b, clips);
    const D = this.model.config.text.hiddenSize;
    return mel.features.map((features, i) => {
      const { hidden, padded } = tower.encode(features, mel.frames, mel.validFrames[i]!);
      let tokens = padded.length;
      if (tokens > slots) {
        this.warn(`audio clip ${i + 1} gives ${tokens} soft tokens but the model takes ${slots} per clip; the rest are dropped`);
        tokens = slots;
      }
      const embedded = embedAudio(b, embedder, hidden.subarray(0, tokens * tower.config.hiddenSize), tokens);
      const out = new Float32Array(slots * D);
      for (let t = 0; t < slots; t++) out.set(t < tokens && !padded[t] ? embedded.subarray(t * D, (t + 1) * D) : padding, t * D);
      return out;
    });
  }
}

mediaEncoderFactories.audio = (model) => new AudioEncoder(model);
