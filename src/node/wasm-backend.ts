// The fast backend on Node: reads the kernel modules built next to this file (npm run build:wasm),
// turns on relaxed SIMD (Node 20 ships it behind a flag), and starts one worker thread per extra core.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { InputError } from "../errors.js";
import { WasmBackend } from "../kernels/wasm/backend.js";
import { CONTROL_BYTES, type KernelWorkers } from "../kernels/wasm/threads.js";

export interface WasmBackendOptions {
  /** Threads including the calling one (default: the available cores). */
  threads?: number;
  /** Kernel build: relaxed SIMD where the runtime has it ("auto", the default), or always plain SIMD. */
  simd?: "auto" | "relaxed" | "plain";
}

function kernelBytes(build: "relaxed" | "plain"): Uint8Array {
  return readFileSync(new URL(`../kernels/wasm/kernels-${build}.wasm`, import.meta.url));
}

class NodeKernelWorkers implements KernelWorkers {
  readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  private readonly workers: Worker[] = [];
  private readonly ports: MessagePort[] = [];
  constructor(readonly count: number, module: WebAssembly.Module) {
    for (let i = 0; i < count; i++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(new URL("./kernel-worker.js", import.meta.url), {
        workerData: { control: this.control, index: i + 1, module, port: port2 },
        transferList: [port2],
      });
      worker.unref();
      this.workers.push(worker);
      this.ports.push(port1);
    }
  }
  ready(): Promise<unknown> {
    return Promise.all(this.workers.map((w) => once(w, "message")));
  }
  sendMemory(memory: WebAssembly.Memory): void {
    for (const p of this.ports) p.postMessage(memory);
  }
  failure(): string | undefined {
    for (const p of this.ports) {
      const m = receiveMessageOnPort(p);
      if (m) return String(m.message);
    }
    return undefined;
  }
  close(): void {
    for (const p of this.ports) p.close();
  }
}

export async function createWasmBackend(opts: WasmBackendOptions = {}): Promise<WasmBackend> {
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new InputError(`threads must be an integer in [1, 256], got ${threads}`);
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  const relaxedBytes = kernelBytes("relaxed");
  const relaxed = opts.simd !== "plain" && WebAssembly.validate(relaxedBytes);
  if (opts.simd === "relaxed" && !relaxed) throw new InputError("this JavaScript runtime has no relaxed SIMD");
  const module = new WebAssembly.Module(relaxed ? relaxedBytes : kernelBytes("plain"));
  const workers = threads > 1 ? new NodeKernelWorkers(threads - 1, module) : undefined;
  await workers?.ready();
  return new WasmBackend(module, workers, relaxed);
}
