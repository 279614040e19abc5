// Running one kernel call on every thread at once. The calling thread writes the call into a shared
// control block, bumps a generation counter and computes its own slice; each worker spins on the
// counter (falling back to Atomics.wait after a while), computes its slice of the same call and counts
// down. Spinning matters: a decode step makes hundreds of calls, and waking a sleeping thread through
// the futex costs ~40 µs against ~1.5 µs for a spinning one (shared/design/kernels.md).
// Platform-neutral: workers are started by the platform (src/node/kernel-workers.ts on Node; Web
// Workers in a browser) and run `serveKernels` on the block they are given.

/** What a platform provides: started workers sharing the control block, and a way to hand them memories. */
export interface KernelWorkers {
  readonly count: number;
  readonly control: SharedArrayBuffer;
  /** Queues `memory` for every worker; each takes it (in order) when told to attach. */
  sendMemory(memory: WebAssembly.Memory): void;
  /** The error a worker reported through `serveKernels`'s `report`, if any. */
  failure(): string | undefined;
  close(): void;
}

export type KernelExports = Record<string, (...args: number[]) => number | void>;

/** The kernels a call can name (exports of assembly/kernels.ts whose last two arguments are the range to split). */
export const OPS = ["quantize", "matmulQ4", "matmulQ8", "matmulF32", "matmulBF16", "matmulF16", "attention", "softcap", "geluMul", "geluMulF16Table", "rmsNorm", "gelu", "depthwiseConv2d"] as const;
export type OpName = (typeof OPS)[number];
const ATTACH = 100;
const EXIT = 101;

// Control block layout (int32 slots).
const GEN = 0;
const PENDING = 1;
const OP = 2;
const MEMORY = 3;
const ARGC = 4;
/** Which argument (if any) is a per-thread scratch pointer, and its per-thread stride argument. */
const SCRATCH_ARG = 5;
const SCRATCH_STRIDE = 6;
const FLOAT_FLAGS = 7; // bit i: argument i is a float32
const FAILED = 8;
/** Workers asleep in Atomics.wait: only then does a call pay for a notify. */
const SLEEPERS = 9;
const ARGS = 10;
export const CONTROL_BYTES = (ARGS + 32) * 4;

/**
 * Polls of the control block before a thread sleeps (roughly a millisecond): between two calls of a
 * decode step the caller runs small ops for tens to hundreds of microseconds.
 */
const SPIN = 1 << 18;

/** The slice [start, end) of `total` items that thread `k` of `n` computes. */
function slice(total0: number, total1: number, k: number, n: number): [number, number] {
  const len = total1 - total0;
  return [total0 + Math.floor((len * k) / n), total0 + Math.floor((len * (k + 1)) / n)];
}

function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const abort = () => {
    throw new Error("wasm kernel aborted");
  };
  return new WebAssembly.Instance(module, { env: { memory, abort } }).exports as unknown as KernelExports;
}

/** Executes thread k's part of the call in the control block. */
function runPart(ctl: Int32Array, f32: Float32Array, instances: KernelExports[], k: number, n: number): void {
  const argc = ctl[ARGC]!;
  const args: number[] = [];
  const floats = ctl[FLOAT_FLAGS]!;
  for (let i = 0; i < argc; i++) args.push(floats & (1 << i) ? f32[ARGS + i]! : ctl[ARGS + i]!);
  const [start, end] = slice(args[argc - 2]!, args[argc - 1]!, k, n);
  if (start >= end) return;
  args[argc - 2] = start;
  args[argc - 1] = end;
  const scratch = ctl[SCRATCH_ARG]!;
  if (scratch >= 0) args[scratch] = args[scratch]! + k * ctl[SCRATCH_STRIDE]!;
  const fn = instances[ctl[MEMORY]!]![OPS[ctl[OP]!]!]!;
  fn(...args);
}

/**
 * The worker side: serve calls until told to exit. `nextMemory` returns the next memory sent; `report`
 * passes an error on to the calling thread, which stops with it (a silent worker would hang it).
 */
export function serveKernels(
  control: SharedArrayBuffer,
  k: number,
  n: number,
  module: WebAssembly.Module,
  nextMemory: () => WebAssembly.Memory,
  report: (message: string) => void,
): void {
  const ctl = new Int32Array(control);
  const f32 = new Float32Array(control);
  const instances: KernelExports[] = [];
  let seen = 0; // a fresh block's generation: a call made before this thread got here is still seen
  for (;;) {
    let spins = 0;
    while (Atomics.load(ctl, GEN) === seen) {
      if (++spins > SPIN) {
        Atomics.add(ctl, SLEEPERS, 1);
        Atomics.wait(ctl, GEN, seen);
        Atomics.sub(ctl, SLEEPERS, 1);
      }
    }
    seen = Atomics.load(ctl, GEN);
    const op = ctl[OP]!;
    if (op === EXIT) return;
    try {
      if (op === ATTACH) instances.push(instantiate(module, nextMemory()));
      else runPart(ctl, f32, instances, k, n);
    } catch (e) {
      report(`kernel worker ${k}: ${(e as Error)?.stack ?? String(e)}`);
      Atomics.store(ctl, FAILED, 1);
    }
    if (Atomics.sub(ctl, PENDING, 1) === 1) Atomics.notify(ctl, PENDING);
  }
}

export interface Call {
  op: OpName;
  memory: number;
  /** Arguments in the kernel's order; the last two are the [start, end) range split over threads. */
  args: number[];
  /** Indices of float32 arguments. */
  floats?: number[];
  /** A per-thread scratch pointer argument and the bytes between threads' scratch areas. */
  scratch?: { arg: number; stride: number };
}

/** The calling thread's side: owns the control block and its own kernel instances. */
export class Dispatcher {
  private readonly ctl: Int32Array;
  private readonly f32: Float32Array;
  private readonly instances: KernelExports[] = [];
  readonly threads: number;

  constructor(private readonly module: WebAssembly.Module, private readonly workers: KernelWorkers | undefined) {
    this.ctl = new Int32Array(workers?.control ?? new SharedArrayBuffer(CONTROL_BYTES));
    this.f32 = new Float32Array(this.ctl.buffer);
    this.threads = 1 + (workers?.count ?? 0);
  }

  /** Makes a memory usable by every thread; returns its index for calls. */
  attach(memory: WebAssembly.Memory): number {
    this.instances.push(instantiate(this.module, memory));
    if (this.workers) {
      this.workers.sendMemory(memory);
      this.signal(ATTACH);
      this.waitForWorkers();
    }
    return this.instances.length - 1;
  }

  /** Direct access to the calling thread's instance of a memory (single-threaded helpers). */
  exports(memory: number): KernelExports {
    return this.instances[memory]!;
  }

  /** Runs a call on every thread, or on this one alone when not `threaded`. */
  run(call: Call, threaded = true): void {
    const ctl = this.ctl;
    ctl[OP] = OPS.indexOf(call.op);
    ctl[MEMORY] = call.memory;
    ctl[ARGC] = call.args.length;
    let floats = 0;
    for (const i of call.floats ?? []) floats |= 1 << i;
    ctl[FLOAT_FLAGS] = floats;
    call.args.forEach((a, i) => {
      if (floats & (1 << i)) this.f32[ARGS + i] = a;
      else ctl[ARGS + i] = a;
    });
    ctl[SCRATCH_ARG] = call.scratch?.arg ?? -1;
    ctl[SCRATCH_STRIDE] = call.scratch?.stride ?? 0;
    const all = threaded && this.workers !== undefined;
    if (all) this.signal(ctl[OP]!);
    runPart(ctl, this.f32, this.instances, 0, all ? this.threads : 1);
    if (all) this.waitForWorkers();
  }

  close(): void {
    if (!this.workers) return;
    this.ctl[PENDING] = this.workers.count;
    this.ctl[OP] = EXIT;
    Atomics.add(this.ctl, GEN, 1);
    Atomics.notify(this.ctl, GEN);
    this.workers.close();
  }

  private signal(op: number): void {
    this.ctl[OP] = op;
    Atomics.store(this.ctl, PENDING, this.workers!.count);
    Atomics.add(this.ctl, GEN, 1);
    if (Atomics.load(this.ctl, SLEEPERS) > 0) Atomics.notify(this.ctl, GEN);
  }

  private waitForWorkers(): void {
    let spins = 0;
    for (;;) {
      const left = Atomics.load(this.ctl, PENDING);
      if (left === 0) break;
      if (++spins > SPIN) Atomics.wait(this.ctl, PENDING, left);
    }
    if (this.ctl[FAILED]) throw new Error(this.workers!.failure() ?? "a kernel worker failed");
  }
}
