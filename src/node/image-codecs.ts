// Node cannot fetch the image codecs' .wasm files by URL as browsers do: read them from the installed packages.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { setCodecLoader, type WasmCodec, type WasmModule } from "../model/vision/image-decode.js";

const require = createRequire(import.meta.url);
const WASM: Record<WasmCodec, string> = {
  jpeg: "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm",
  webp: "@jsquash/webp/codec/dec/webp_dec.wasm",
};

const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

setCodecLoader((codec) => wasm.compile(readFileSync(require.resolve(WASM[codec]))));
