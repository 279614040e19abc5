// Images → language-model embeddings: decode, preprocess, the MobileNet-v5 tower, embed_vision.
// Registered as the runtime's image encoder when this module loads; the tower's weights are read
// from the checkpoint on the first image, never for text-only use.
import { ConfigError } from "../../errors.js";
import type { Backend } from "../../kernels/backend.js";
import type { FeatureMap } from "../../kernels/resize.js";
import type { Gemma3n } from "../gemma3n.js";
import { mediaEncoderFactories, type MediaEncoder } from "../multimodal.js";
import { parseVisionTowerConfig } from "./config.js";
import { embedSoftTokens, type SoftEmbedder } from "./embedder.js";
import { decodeImage } from "./image-decode.js";
import type { WeightSource } from "./ops.js";
import { pixelValues } from "./preprocess.js";
import { loadVisionTower, VisionTower } from "./tower.js";

export class VisionEncoder implements MediaEncoder {
  readonly kind = "image";
  private loaded?: { tower: VisionTower; embedder: SoftEmbedder };

  constructor(private readonly model: Gemma3n) {}

  private get backend(): Backend {
    return this.model.decoder.backend;
  }

  /** The tower and embedder, read from the checkpoint on first use (or ahead of it: benchmarks). */
  load(): { tower: VisionTower; embedder: SoftEmbedder } {
    if (this.loaded) return this.loaded;
    const { config, checkpoint } = this.model;
    const towerConfig = parseVisionTowerConfig(config.raw.vision_config as Record<string, unknown> | undefined);
    const tokens = config.visionSoftTokensPerImage ?? 256;
    if (towerConfig.outputResolution ** 2 !== tokens) {
      throw new ConfigError(`config.json: vision_soft_tokens_per_image is ${tokens}, but the vision tower emits ${towerConfig.outputResolution}² tokens`);
    }
    const hard = this.model.decoder.weights.hardTokens.find((h) => h.config.vocabOffset === config.vision?.vocabOffset);
    if (!hard) throw new ConfigError(`${checkpoint.location}: the checkpoint has no embed_vision weights`);
    // Convolution and projection weights go straight into the backend's kernel memory.
    const b = this.backend;
    const source: WeightSource = {
      has: (name) => checkpoint.has(name),
      loadF32: (name, shape) => checkpoint.loadF32(name, shape),
      load: (name, shape) => checkpoint.load(name, shape, undefined, (bytes) => b.weightStorage(bytes)),
    };
    const weights = loadVisionTower(source, towerConfig);
    const softNorm = checkpoint.loadF32("model.embed_vision.soft_embedding_norm.weight", [hard.width]);
    this.loaded = { tower: new VisionTower(towerConfig, weights, this.backend), embedder: { softNorm, hard } };
    return this.loaded;
  }

  /** The tower's output for preprocessed pixels: [tokens, 2048] soft tokens, row-major over the grid. */
  towerOutput(pixels: FeatureMap): Float32Array {
    return this.load().tower.forward(pixels).data;
  }

  /** embed_vision of the tower's soft tokens: language-model embeddings [tokens, hidden]. */
  embedSoftTokens(soft: Float32Array): Float32Array {
    return embedSoftTokens(this.backend, soft, this.load().embedder, this.model.config.text.hiddenSize);
  }

  async encode(item: unknown): Promise<Float32Array> {
    return this.embedSoftTokens(this.towerOutput(pixelValues(await decodeImage(item))));
  }
}

mediaEncoderFactories.image = (model) => new VisionEncoder(model);
