/**
 * Statistics over seeds: sample mean, sample standard deviation (n − 1) and the two-sided 95%
 * Student-t interval mean ± t₀.₉₇₅(n − 1)·s/√n, the quantile from jStat.
 *
 * @module
 */
import jstat from "jstat";

/** Per-seed values with their summary; `std` and `ci95` are null below two values. */
export interface Summary {
  values: number[];
  mean: number;
  std: number | null;
  ci95: [number, number] | null;
  n: number;
}

/** The 0.975 quantile of Student's t with `dof` degrees of freedom. */
export function tQuantile975(dof: number): number {
  return (jstat as unknown as { studentt: { inv(p: number, dof: number): number } }).studentt
    .inv(0.975, dof);
}

/**
 * Mean, sample std and 95% t-interval of `values`.
 *
 * @example
 * ```ts
 * summarize([1, 2, 3]); // { mean: 2, std: 1, ci95: [2 − 2.484, 2 + 2.484], n: 3 }
 * ```
 */
export function summarize(values: number[]): Summary {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { values, mean, std: null, ci95: null, n };
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  const std = Math.sqrt(variance);
  const half = tQuantile975(n - 1) * std / Math.sqrt(n);
  return { values, mean, std, ci95: [mean - half, mean + half], n };
}

/** A claim's verdict from the interval of (model − baseline): computed, never typed. */
export type Verdict = "holds" | "does not hold" | "inconclusive";

/**
 * "holds" when the whole 95% interval is above 0, "does not hold" when it is below 0, and
 * "inconclusive" when it contains 0, when there is no interval, or when it rests on fewer than
 * two seed pairs (`pairs`; an interval over one pair's test images alone leaves the
 * training-seed variance unmeasured).
 *
 * @example
 * ```ts
 * verdict([0.01, 0.05], 3); // "holds"
 * verdict([0.01, 0.05], 1); // "inconclusive"
 * ```
 */
export function verdict(ci95: [number, number] | null, pairs = Infinity): Verdict {
  if (!ci95 || pairs < 2) return "inconclusive";
  if (ci95[0] > 0) return "holds";
  if (ci95[1] < 0) return "does not hold";
  return "inconclusive";
}
