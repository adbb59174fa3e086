/**
 * Sizes of the reliability suite: `make test` runs a short sample of every
 * trial, `make test-reliability` (CSYNC2_RELIABILITY_FULL=1) the full run.
 * The random trials are seeded so a failure can be replayed: the seed is part
 * of every assertion message, and CSYNC2_RELIABILITY_SEED pins it.
 */
export const FULL = process.env.CSYNC2_RELIABILITY_FULL === '1';

/** `sample` trials in `make test`, `full` in the full run. */
export function scale(sample: number, full: number): number {
  return FULL ? full : sample;
}

export const SEED = Number(process.env.CSYNC2_RELIABILITY_SEED ?? (Date.now() % 1_000_000));

/** A small deterministic PRNG (mulberry32), so a failing trial can be replayed from its seed. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}
