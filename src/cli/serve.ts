// gemma3n serve: an OpenAI-compatible HTTP server for one model.
import { Command } from "commander";
import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { OpenAIApi } from "../api/openai.js";
import { InputError } from "../errors.js";
import { httpFetchMedia } from "../server/fetch-media.js";
import { startServer } from "../server/serve.js";
import { intOption, numOption } from "./args.js";
import { modelOptions, openModel, type ModelFlags } from "./common.js";

interface Flags extends ModelFlags {
  host: string;
  port: number;
  apiKey?: string;
  maxConcurrency: number;
  maxTokens: number;
  maxBodyMb: number;
  allowImageUrls?: boolean;
  shutdownGrace: number;
}

/** The name clients use: the repo id it was loaded by, or the directory's name. */
export function servedModelName(model: string): string {
  return existsSync(model) ? basename(resolve(model)) : model;
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

export function registerServe(program: Command): void {
  modelOptions(program.command("serve").description("serve the model over an OpenAI-compatible HTTP API"))
    .option("--host <addr>", "address to listen on (anything but loopback exposes the model to the network)", "127.0.0.1")
    .option("--port <n>", "port to listen on (0: any free port)", intOption("--port"), 8080)
    .option("--api-key <key>", "require Authorization: Bearer <key> on every route but /health (default: $GEMMA3N_API_KEY)")
    .option("--max-concurrency <n>", "most requests admitted at once, running or queued; more get 429", intOption("--max-concurrency", 1), 16)
    .option("--max-tokens <n>", "largest max_tokens a request may ask for (also the default)", intOption("--max-tokens", 1), 4096)
    .option("--max-body-mb <n>", "largest request body in MiB", numOption("--max-body-mb"), 32)
    .option("--allow-image-urls", "fetch http(s) image URLs given in requests (off: only data URLs)")
    .option("--shutdown-grace <s>", "seconds SIGINT/SIGTERM waits for running requests before cancelling them", numOption("--shutdown-grace"), 10)
    .action(async (f: Flags) => {
      if (f.port > 65535) throw new InputError(`--port must be at most 65535, got ${f.port}`);
      if (!(f.maxBodyMb > 0)) throw new InputError(`--max-body-mb must be > 0, got ${f.maxBodyMb}`);
      if (!(f.shutdownGrace >= 0)) throw new InputError(`--shutdown-grace must be ≥ 0, got ${f.shutdownGrace}`);
      const model = await openModel(f);
      const api = new OpenAIApi(model, {
        modelName: servedModelName(f.model),
        maxConcurrency: f.maxConcurrency,
        limits: { maxTokens: f.maxTokens },
        fetchMedia: f.allowImageUrls ? httpFetchMedia() : undefined,
        log,
      });
      const server = await startServer(api, {
        host: f.host,
        port: f.port,
        apiKey: f.apiKey ?? process.env.GEMMA3N_API_KEY,
        maxBodyBytes: Math.round(f.maxBodyMb * 1024 * 1024),
        log,
      });
      process.stdout.write(`gemma3n: serving ${api.modelName} at ${server.url}/v1\n`);
      const signal = await new Promise<NodeJS.Signals>((done) => {
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      log(`${signal}: shutting down (requests still running after ${f.shutdownGrace} s are cancelled; send it again to quit now)`);
      const quitNow = () => process.exit(130);
      process.once("SIGINT", quitNow);
      process.once("SIGTERM", quitNow);
      await server.close(f.shutdownGrace * 1000);
      model.close();
      log("stopped");
    });
}
