/** The real clock and timers, behind a small interface so that drivers can be tested with fakes. */

export interface Clock {
  /** Milliseconds since the epoch. */
  nowMs(): number;
  /** Calls `fn` every `intervalMs`; returns a function that stops it. */
  every(intervalMs: number, fn: () => void): () => void;
  /** Calls `fn` once after `delayMs`; returns a function that cancels it. */
  after(delayMs: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  nowMs: () => Date.now(),
  every(intervalMs, fn) {
    const timer = setInterval(fn, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  },
  after(delayMs, fn) {
    const timer = setTimeout(fn, delayMs);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
