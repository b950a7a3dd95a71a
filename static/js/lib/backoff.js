/* Retry delays: exponential with jitter, so a restart is not met by every client at once. */

export class Backoff {
  /** Delays from `firstMs`, doubling up to `maxMs`; each one is drawn from the upper half of its
   * step (never shorter than half of it, so retries still spread out). */
  constructor({ firstMs, maxMs }) {
    this.firstMs = firstMs;
    this.maxMs = maxMs;
    this.attempt = 0;
  }

  /** The next delay in ms (counts an attempt). */
  next() {
    const ceiling = Math.min(this.maxMs, this.firstMs * 2 ** this.attempt);
    this.attempt += 1;
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  reset() {
    this.attempt = 0;
  }
}
