/**
 * Bins of spatial pyramid pooling. For an axis of length n and level L, bin b covers
 * `[floor(b·n/L), ceil((b+1)·n/L))` (adaptive pooling). Unlike SPP-net's window/stride rule
 * (window ceil(n/L), stride floor(n/L)), these edges are mirror-symmetric for every n ≥ L:
 * bin L−1−b is the reflection i ↦ n−1−i of bin b, so a 90° turn of the map permutes the bins
 * exactly (SPP-net's rule is not symmetric, e.g. n = 7, L = 4 gives bins starting at 0,1,2,3).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** [start, end) of each of the L bins over an axis of length n. */
export function binEdges(n: number, levels: number): [number, number][] {
  if (n < levels) {
    throw new RangeError(
      `Spatial pyramid level ${levels} needs a map of at least ${levels} pixels per side, got ${n}`,
    );
  }
  return Array.from({ length: levels }, (_, b) => [
    Math.floor((b * n) / levels),
    Math.ceil(((b + 1) * n) / levels),
  ]);
}

/** Max- or mean-pools x [N, H, W, C] into an L×L grid of bins -> [N, L, L, C]. */
export function pyramidLevel(x: tf.Tensor4D, level: number, mode: "max" | "mean"): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.tidy(() => {
    if (h % level === 0 && w % level === 0) {
      // Equal, non-overlapping bins: one pooling kernel.
      const size: [number, number] = [h / level, w / level];
      return mode === "max"
        ? tf.maxPool(x, size, size, "valid")
        : tf.avgPool(x, size, size, "valid");
    }
    const rows = binEdges(h, level);
    const cols = binEdges(w, level);
    const grid = rows.map(([r0, r1]) =>
      tf.stack(
        cols.map(([c0, c1]) => {
          const bin = x.slice([0, r0, c0, 0], [-1, r1 - r0, c1 - c0, -1]);
          return mode === "max" ? bin.max([1, 2]) : bin.mean([1, 2]);
        }),
        1,
      )
    );
    return tf.stack(grid, 1) as tf.Tensor4D;
  });
}

/** Validates pyramid levels: distinct positive integers. */
export function checkLevels(levels: number[]): number[] {
  if (
    levels.length === 0 || levels.some((l) => !Number.isInteger(l) || l < 1) ||
    new Set(levels).size !== levels.length
  ) {
    throw new RangeError(
      `Pyramid levels must be distinct positive integers, got [${levels.join(", ")}]`,
    );
  }
  return levels;
}
