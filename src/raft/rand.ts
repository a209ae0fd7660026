/**
 * Seeded pseudo-random numbers. Raft's only source of randomness (the election timeout jitter) and
 * every choice the simulator makes come from one of these, so a seed replays a whole run.
 */

/** A source of uniformly distributed integers. */
export interface RandomSource {
  /** Returns an integer in [0, n). `n` must be a positive safe integer ≤ 2^32. */
  intn(n: number): number;
}

/**
 * xoshiro128** seeded through splitmix32: fast, small state, good statistical quality, and
 * identical on every platform because it uses only 32-bit integer arithmetic.
 */
export class SeededRandom implements RandomSource {
  /** The four 32-bit words of generator state; never all zero. */
  private readonly state = new Uint32Array(4);

  constructor(seed: number | bigint) {
    let x = Number(BigInt.asUintN(32, BigInt(seed))) ^ Number(BigInt.asUintN(32, BigInt(seed) >> 32n));
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.state[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.state.every((word) => word === 0)) this.state[0] = 1;
  }

  /** Returns the next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s = this.state;
    const s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s[2] = s2 ^ s0;
    s[3] = s3 ^ s1;
    s[1] = s1 ^ s[2]!;
    s[0] = s0 ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  intn(n: number): number {
    if (!(n > 0 && n <= 2 ** 32)) throw new RangeError(`intn: bad bound ${n}`);
    // Multiply-shift maps 32 random bits onto [0, n) with negligible bias for the small n used here.
    return Math.floor((this.nextUint32() / 2 ** 32) * n);
  }

  /** Returns a float in [0, 1). */
  float(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** Returns true with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** Returns an independent generator derived from this one's next output. */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32() * 2 ** 20 + (this.nextUint32() >>> 12));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
