/**
 * The invariance score of docs/design.md: for the class distribution p of an image and q of its
 * transform, `score = 1 − JSD(p, q)` with the Jensen–Shannon divergence in bits (log base 2),
 * so the score lies in [0, 1]: 1 for identical predictions, 0 for disjoint ones.
 *
 *   JSD(p, q) = ½·KL(p ‖ m) + ½·KL(q ‖ m),   m = ½(p + q),   KL in bits, 0·log 0 = 0.
 *
 * @module
 */

/** Jensen–Shannon divergence in bits of two distributions of the same length. */
export function jsdBits(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) {
    throw new RangeError(
      `JSD needs distributions of equal length, got ${p.length} and ${q.length}`,
    );
  }
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i] > 0) d += p[i] * Math.log2(p[i] / m);
    if (q[i] > 0) d += q[i] * Math.log2(q[i] / m);
  }
  // Clamp float error: JSD in bits is within [0, 1].
  return Math.min(1, Math.max(0, d / 2));
}

/**
 * `1 − JSD(p, q)` in bits: 1 when the predictions agree exactly, 0 when they are disjoint.
 *
 * @example
 * ```ts
 * invarianceScore([0.9, 0.1], [0.9, 0.1]); // 1
 * invarianceScore([1, 0], [0, 1]); // 0
 * ```
 */
export function invarianceScore(p: ArrayLike<number>, q: ArrayLike<number>): number {
  return 1 - jsdBits(p, q);
}

/** Index of the largest entry (the top-1 class). */
export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

/** The k most probable classes, best first. */
export function topK(p: ArrayLike<number>, k: number): { index: number; probability: number }[] {
  return Array.from(p, (probability, index) => ({ index, probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, Math.max(0, k));
}
