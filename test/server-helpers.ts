// A served tiny model for the server tests, the official OpenAI client pointed at it, and small media files.
import { after } from "node:test";
import { crc32, deflateSync } from "node:zlib";
import OpenAI from "openai";
import { OpenAIApi, type OpenAIApiOptions } from "../src/api/openai.js";
import type { Gemma3n } from "../src/model/gemma3n.js";
import { loadModel } from "../src/node/load.js";
import { startServer, type RunningServer, type ServeOptions } from "../src/server/serve.js";
import { tinyModelDir } from "./helpers.js";

export interface Served {
  model: Gemma3n;
  api: OpenAIApi;
  server: RunningServer;
  client: OpenAI;
  /** Every line the API and server logged. */
  logs: string[];
}

/** Serves the tiny model on a free loopback port until the test file ends. */
export async function serveTiny(api: Partial<OpenAIApiOptions> = {}, http: ServeOptions = {}): Promise<Served> {
  const model = await loadModel(tinyModelDir);
  const logs: string[] = [];
  const log = (line: string) => logs.push(line);
  const openai = new OpenAIApi(model, { modelName: "hf-tiny", log, ...api });
  const server = await startServer(openai, { port: 0, log, ...http });
  after(async () => {
    await server.close(0);
    model.close();
  });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: http.apiKey ?? "unused", maxRetries: 0 });
  return { model, api: openai, server, client, logs };
}

/** Resolves when `ok()` holds (checked every 10 ms), or rejects with `describe()` after `ms`. */
export async function until(ok: () => boolean, describe: () => string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(describe());
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves when `logs` gets a line matching `pattern`. */
export async function logLine(logs: string[], pattern: RegExp): Promise<string> {
  await until(() => logs.some((l) => pattern.test(l)), () => `no log line matches ${pattern}; got:\n${logs.join("\n")}`);
  return logs.find((l) => pattern.test(l))!;
}

/** A PNG file of `width` × `height` gray pixels (or just its header, claiming that size). */
export function png(width: number, height: number, headerOnly = false): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, "latin1");
    out.set(data, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit grayscale
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  if (headerOnly) return Buffer.concat([signature, chunk("IHDR", ihdr)]);
  const rows = Buffer.alloc((width + 1) * height, 128);
  for (let y = 0; y < height; y++) rows[y * (width + 1)] = 0; // filter byte
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(rows)), chunk("IEND", new Uint8Array())]);
}

/** A 16 kHz mono 16-bit WAV file of `seconds` of a 440 Hz tone. */
export function wav(seconds: number): Uint8Array {
  const n = Math.round(seconds * 16000);
  const b = Buffer.alloc(44 + 2 * n);
  b.write("RIFF", 0, "latin1");
  b.writeUInt32LE(36 + 2 * n, 4);
  b.write("WAVEfmt ", 8, "latin1");
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(16000, 24);
  b.writeUInt32LE(32000, 28); // byte rate
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36, "latin1");
  b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)), 44 + 2 * i);
  return b;
}

export const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
