// Random BF16 weights for speed measurements at real dimensions without a download. Every tensor is
// a window of one pool of random values (std ≈ 0.03) at a random offset, so hundreds of millions of
// parameters cost no memory of their own (noise is noise); norm weights and scales are ones.
import type { Checkpoint } from "../src/checkpoint/checkpoint.js";
import { Rng } from "../src/generate/sampler.js";
import { toBF16, type Tensor } from "../src/kernels/dtype.js";

export function randomWeights(seed = 7): Checkpoint {
  const rng = new Rng(seed);
  const POOL = 1 << 24;
  const pool = new Uint16Array(POOL);
  for (let i = 0; i < POOL; i++) pool[i] = toBF16((rng.next() + rng.next() + rng.next() - 1.5) * 0.06);
  return {
    has: () => true,
    load(_name: string, shape: readonly number[]): Tensor {
      const n = shape.reduce((a, b) => a * b, 1);
      const at = Math.floor(rng.next() * (POOL - n));
      return { dtype: "bf16", shape, data: pool.subarray(at, at + n) };
    },
    loadF32(_name: string, shape: readonly number[]): Float32Array {
      return new Float32Array(shape[0]!).fill(1);
    },
  } as unknown as Checkpoint;
}
