// Running one kernel call on every thread at once. The calling thread writes the call into a shared
// control block and publishes it with one atomic word (generation and op); each worker spins on that
// word (falling back to Atomics.wait after a while). The call's range is cut into chunks that every
// thread, the caller included, claims one at a time until none is left, and the caller waits only for
// chunks that were claimed: a worker that wakes late (the OS gave its core to another process) costs
// the call its help, not a wait for its share. Spinning matters: a decode step makes hundreds of calls,
// and waking a sleeping thread through the futex costs ~40 µs against ~1.5 µs for a spinning one
// (shared/design/kernels.md).
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
export const OPS = ["quantize", "interleaveQ4", "interleaveQ8", "interleaveFloats", "interleaveHalves", "matmulQ4", "matmulQ8", "matmulF32", "matmulBF16", "matmulF16", "attention", "rope", "softcap", "geluMul", "geluMulF16Table", "rmsNorm", "gaussianTopK", "altupPredict", "altupCorrect", "gelu", "depthwiseConv2d"] as const;
export type OpName = (typeof OPS)[number];
const ATTACH = 100;
const EXIT = 101;

// Control block layout (int32 slots).
/** The published call: generation (20 bits) << 8 | op. */
const CALL = 0;
/** Workers yet to finish an ATTACH or EXIT (ops that every worker must run). */
const PENDING = 1;
const MEMORY = 2;
const ARGC = 3;
/** Which argument (if any) is a per-thread scratch pointer, and its per-thread stride argument. */
const SCRATCH_ARG = 4;
const SCRATCH_STRIDE = 5;
const FLOAT_FLAGS = 6; // bit i: argument i is a float32
const FAILED = 7;
/** Workers asleep in Atomics.wait: only then does a call pay for a notify. */
const SLEEPERS = 8;
/** Chunks of the call, the next one to claim (generation << 11 | index: a late thread claims none of a newer call), and those done. */
const CHUNKS = 9;
const NEXT = 10;
const DONE = 11;
/** Chunk boundaries fall on multiples of this many items from the range's start. */
const GRAIN = 12;
const ARGS = 13;
export const CONTROL_BYTES = (ARGS + 32) * 4;

/**
 * Chunks per thread of a call (unless it asks for more): enough that a slow thread's share is taken
 * over, few enough to cost nothing. 8 rather than 4: the last chunk of a decode product, which the other
 * thread waits for, is half as long (E2B q4_0 decode, alternating rounds: 0.97–0.98× the time per token).
 */
const CHUNKS_PER_THREAD = 8;
/** Most chunks of a call: chunk indices fit NEXT's 11 bits (so 256 threads at most). */
const MAX_CHUNKS = 2047;

/**
 * Polls of the control block before a thread sleeps (roughly a millisecond): between two calls of a
 * decode step the caller runs small ops for tens to hundreds of microseconds.
 */
const SPIN = 1 << 18;

/** The slice of items [total0, total1) that chunk `k` of `n` computes, cut at multiples of `grain`. */
function slice(total0: number, total1: number, k: number, n: number, grain: number): [number, number] {
  const units = Math.ceil((total1 - total0) / grain);
  const at = (c: number) => Math.min(total1, total0 + grain * Math.floor((units * c) / n));
  return [at(k), at(k + 1)];
}

const generationOf = (call: number) => call >>> 8;

function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const abort = () => {
    throw new Error("wasm kernel aborted");
  };
  return new WebAssembly.Instance(module, { env: { memory, abort } }).exports as unknown as KernelExports;
}

/** Op `op` with the arguments in the control block, on thread `k`, as a function that runs chunk `c` of `n`. */
function prepare(ctl: Int32Array, f32: Float32Array, instances: KernelExports[], op: number, k: number): (c: number, n: number) => void {
  const argc = ctl[ARGC]!;
  const args: number[] = [];
  const floats = ctl[FLOAT_FLAGS]!;
  for (let i = 0; i < argc; i++) args.push(floats & (1 << i) ? f32[ARGS + i]! : ctl[ARGS + i]!);
  const scratch = ctl[SCRATCH_ARG]!;
  if (scratch >= 0) args[scratch] = args[scratch]! + k * ctl[SCRATCH_STRIDE]!;
  const fn = instances[ctl[MEMORY]!]![OPS[op]!]!;
  const total0 = args[argc - 2]!;
  const total1 = args[argc - 1]!;
  const grain = ctl[GRAIN]!;
  return (c, n) => {
    const [start, end] = slice(total0, total1, c, n, grain);
    if (start >= end) return;
    args[argc - 2] = start;
    args[argc - 1] = end;
    fn(...args);
  };
}

/**
 * Claims and runs chunks of the call published as `call` until none is left (or a newer call has
 * replaced it); `report` is told of an error, after which the chunk still counts as done.
 */
function runChunks(ctl: Int32Array, f32: Float32Array, instances: KernelExports[], k: number, call: number, report: (e: unknown) => void): void {
  const n = ctl[CHUNKS]!;
  let part: ((c: number, n: number) => void) | undefined; // the arguments are read once a chunk is claimed
  for (;;) {
    const next = Atomics.load(ctl, NEXT);
    if (next >>> 11 !== generationOf(call) || (next & 0x7ff) >= n) return;
    if (Atomics.compareExchange(ctl, NEXT, next, next + 1) !== next) continue;
    try {
      part ??= prepare(ctl, f32, instances, call & 0xff, k);
      part(next & 0x7ff, n);
    } catch (e) {
      report(e);
    }
    if (Atomics.add(ctl, DONE, 1) === n - 1) Atomics.notify(ctl, DONE);
  }
}

/**
 * The worker side: serve calls until told to exit. `nextMemory` returns the next memory sent; `report`
 * passes an error on to the calling thread, which stops with it (a silent worker would hang it).
 */
export function serveKernels(
  control: SharedArrayBuffer,
  k: number,
  module: WebAssembly.Module,
  nextMemory: () => WebAssembly.Memory,
  report: (message: string) => void,
): void {
  const ctl = new Int32Array(control);
  const f32 = new Float32Array(control);
  const instances: KernelExports[] = [];
  const fail = (e: unknown) => {
    report(`kernel worker ${k}: ${(e as Error)?.stack ?? String(e)}`);
    Atomics.store(ctl, FAILED, 1);
  };
  let seen = 0; // a fresh block's call word: a call made before this thread got here is still seen
  for (;;) {
    let spins = 0;
    while (Atomics.load(ctl, CALL) === seen) {
      if (++spins > SPIN) {
        Atomics.add(ctl, SLEEPERS, 1);
        Atomics.wait(ctl, CALL, seen);
        Atomics.sub(ctl, SLEEPERS, 1);
      }
    }
    seen = Atomics.load(ctl, CALL);
    const op = seen & 0xff;
    if (op === EXIT) return;
    if (op !== ATTACH) {
      runChunks(ctl, f32, instances, k, seen, fail);
      continue;
    }
    try {
      instances.push(instantiate(module, nextMemory()));
    } catch (e) {
      fail(e);
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
  /**
   * Chunks to cut the range into at least (always CHUNKS_PER_THREAD per thread, at most MAX_CHUNKS):
   * long calls ask for more, so that no thread waits long for the last chunk of another.
   */
  chunks?: number;
  /** Chunk boundaries at multiples of this many items (default 1): a product's groups of rows stay whole. */
  grain?: number;
}

/** The calling thread's side: owns the control block and its own kernel instances. */
export class Dispatcher {
  private readonly ctl: Int32Array;
  private readonly f32: Float32Array;
  private readonly instances: KernelExports[] = [];
  private generation = 0;
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
      this.everyWorker(ATTACH);
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
    const op = OPS.indexOf(call.op);
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
    ctl[GRAIN] = call.grain ?? 1;
    if (!threaded || !this.workers) {
      prepare(ctl, this.f32, this.instances, op, 0)(0, 1);
      return;
    }
    const n = Math.min(MAX_CHUNKS, Math.max(this.threads * CHUNKS_PER_THREAD, call.chunks ?? 0));
    ctl[CHUNKS] = n;
    Atomics.store(ctl, DONE, 0);
    const word = this.nextCall(op);
    Atomics.store(ctl, NEXT, generationOf(word) << 11);
    this.publish(word);
    let error: unknown;
    runChunks(ctl, this.f32, this.instances, 0, word, (e) => (error ??= e));
    this.waitUntil(DONE, n);
    if (error !== undefined) throw error;
    this.checkWorkers();
  }

  close(): void {
    if (!this.workers) return;
    this.ctl[PENDING] = this.workers.count;
    this.publish(this.nextCall(EXIT));
    Atomics.notify(this.ctl, CALL);
    this.workers.close();
  }

  /** The call word of the next generation. */
  private nextCall(op: number): number {
    this.generation = (this.generation + 1) & 0xfffff;
    return (this.generation << 8) | op;
  }

  private publish(word: number): void {
    Atomics.store(this.ctl, CALL, word);
    if (Atomics.load(this.ctl, SLEEPERS) > 0) Atomics.notify(this.ctl, CALL);
  }

  /** Runs an op that every worker must run (attaching a memory). */
  private everyWorker(op: number): void {
    Atomics.store(this.ctl, PENDING, this.workers!.count);
    this.publish(this.nextCall(op));
    this.waitUntil(PENDING, 0);
    this.checkWorkers();
  }

  /** Spins (then sleeps) until control slot `slot` holds `value`. */
  private waitUntil(slot: number, value: number): void {
    let spins = 0;
    for (;;) {
      const now = Atomics.load(this.ctl, slot);
      if (now === value) break;
      if (++spins > SPIN) Atomics.wait(this.ctl, slot, now);
    }
  }

  private checkWorkers(): void {
    if (this.ctl[FAILED]) throw new Error(this.workers!.failure() ?? "a kernel worker failed");
  }
}
