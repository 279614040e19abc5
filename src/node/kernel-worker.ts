// Entry point of a kernel worker thread (started by src/node/wasm-backend.ts).
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import { serveKernels } from "../kernels/wasm/threads.js";

const { control, index, module, port } = workerData as {
  control: SharedArrayBuffer;
  index: number;
  module: WebAssembly.Module;
  port: MessagePort;
};
parentPort!.postMessage("ready");
serveKernels(
  control,
  index,
  module,
  () => {
    const received = receiveMessageOnPort(port);
    if (!received) throw new Error("told to attach a memory that was never sent");
    return received.message as WebAssembly.Memory;
  },
  (message) => port.postMessage(message),
);
port.close();
