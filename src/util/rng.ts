import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/**
 * A seeded random stream (xoroshiro128+ from pure-rand). The same seed gives the same
 * sequence on every machine; `fork()` gives an independent stream (jump) for a sub-task.
 */
export class Rng {
  private readonly gen: JumpableRandomGenerator;
  constructor(seed: number | JumpableRandomGenerator) {
    if (typeof seed === 'number') {
      this.gen = xoroshiro128plus(seed | 0);
      // xoroshiro seeded with a small integer starts with poorly mixed draws: discard a few.
      for (let i = 0; i < 16; i++) this.gen.next();
    } else {
      this.gen = seed;
    }
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.gen);
  }
  /** Uniform in [low, high). */
  between(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }
  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.uniform());
  }
  /** Standard normal (Box–Muller; one draw per call, the pair's twin discarded for simplicity). */
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  /** Gamma(shape k, scale θ) by Marsaglia–Tsang (k < 1 boosted by U^(1/k)). Mean kθ. */
  gamma(shape: number, scale: number): number {
    if (shape < 1) return this.gamma(shape + 1, scale) * Math.pow(this.uniform(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v * scale;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v * scale;
    }
  }
  /** An independent stream: a clone of this generator jumped ahead 2^64 draws. */
  fork(): Rng {
    const clone = this.gen.clone();
    clone.jump();
    // advance self too so successive forks differ
    this.gen.jump();
    return new Rng(clone);
  }
}
