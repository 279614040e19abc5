// A fair queue for one model: requests run one at a time in order of arrival. It admits a bounded number
// (running + waiting); past that it refuses at once, so a client can retry later instead of piling up.
import { ApiError } from "./errors.js";

export class FairQueue {
  private running = false;
  /** Resumes each waiting request, in order of arrival. */
  private readonly waiting: (() => void)[] = [];

  constructor(
    /** Most requests admitted at once, the running one included. */
    readonly capacity: number,
    /** Seconds a refused client is told to wait. */
    private readonly retryAfter = 1,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`queue capacity must be an integer ≥ 1, got ${capacity}`);
  }

  get stats(): { running: number; waiting: number } {
    return { running: this.running ? 1 : 0, waiting: this.waiting.length };
  }

  /**
   * Waits for this request's turn and returns the function that ends it. Refuses (429) when the queue
   * is full; an abort while waiting leaves the queue and rejects with the signal's reason.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if ((this.running ? 1 : 0) + this.waiting.length >= this.capacity) {
      throw new ApiError(429, `the server is busy (${this.capacity} requests admitted); retry later`, "rate_limit_error", "queue_full", null, this.retryAfter);
    }
    if (this.running) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          this.waiting.splice(this.waiting.indexOf(start), 1);
          reject(signal!.reason);
        };
        const start = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        this.waiting.push(start);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
    this.running = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running = false;
      const next = this.waiting.shift();
      if (next) {
        this.running = true;
        next();
      }
    };
  }
}
