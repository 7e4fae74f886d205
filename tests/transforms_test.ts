/**
 * Tests of lib/transforms.ts against plain-loop references on small batches, the identities
 * each transform must satisfy, determinism for a seed, tensor leaks, gradients, and agreement
 * of every backend with cpu.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { resampleWeights, toModelInput } from "../lib/image/resample.ts";
import {
  contrast,
  type Fill,
  gaussianBlur,
  gaussianNoise,
  jpegCompress,
  perturb,
  PERTURB_DEFAULTS,
  randomRotate,
  resize,
  rot90,
  rotate,
  seededUniform,
  shift,
  zoom,
} from "../lib/transforms.ts";
import { BACKENDS, maxAbsDiff, useBackend } from "./helpers.ts";

// helpers.ts registers every backend; these tests run on cpu unless one says otherwise.
await useBackend("cpu");

/** A deterministic batch with values in [0, 1). */
function images(shape: [number, number, number, number], seed = 1): tf.Tensor4D {
  const next = seededUniform(seed);
  return tf.tensor4d(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, next), shape);
}

/** A smooth batch (low spatial frequencies), for tests where interpolation error must be small. */
function smooth(n: number, h: number, w: number, c: number): tf.Tensor4D {
  const data = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        for (let k = 0; k < c; k++) {
          data[((b * h + i) * w + j) * c + k] = 0.5 +
            0.4 * Math.sin((i + 2 * b) / 5 + k) * Math.cos((j - k) / 7);
        }
      }
    }
  }
  return tf.tensor4d(data, [n, h, w, c]);
}

/** Reads pixel (b, i, j, k) of an NHWC array. */
const at = (
  x: ArrayLike<number>,
  [, h, w, c]: number[],
  b: number,
  i: number,
  j: number,
  k: number,
) => x[((b * h + i) * w + j) * c + k];

/** Asserts that fn's returned tensors are the only ones it leaves behind. */
function assertNoLeak(fn: () => tf.Tensor | tf.Tensor[]) {
  const before = tf.memory().numTensors;
  const out = fn();
  tf.dispose(out);
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
}

// ---------------------------------------------------------------------------------------------
// rot90

/** numpy's rot90(img, k, axes=(0, 1)), by loops: k = 1 is out[i][j] = in[j][W-1-i]. */
function rot90Ref(
  x: Float32Array,
  shape: number[],
  k: number,
): { data: Float32Array; shape: number[] } {
  let cur = x, [n, h, w, c] = shape;
  for (let step = 0; step < ((k % 4) + 4) % 4; step++) {
    const next = new Float32Array(cur.length);
    const [oh, ow] = [w, h];
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          for (let q = 0; q < c; q++) {
            next[((b * oh + i) * ow + j) * c + q] = cur[((b * h + j) * w + (w - 1 - i)) * c + q];
          }
        }
      }
    }
    [cur, h, w] = [next, oh, ow];
  }
  return { data: cur, shape: [n, h, w, c] };
}

Deno.test("rot90 matches the loop reference for k = -1..5 on square and non-square images", () => {
  for (const shape of [[2, 3, 5, 2], [2, 4, 4, 3]] as [number, number, number, number][]) {
    const x = images(shape);
    for (let k = -1; k <= 5; k++) {
      const out = rot90(x, k);
      const ref = rot90Ref(x.dataSync() as Float32Array, shape, k);
      assert.deepEqual(out.shape, ref.shape, `k=${k}`);
      assert.deepEqual(out.dataSync(), ref.data, `k=${k} ${shape}`);
      out.dispose();
    }
    x.dispose();
  }
});

Deno.test("four quarter turns are the identity, exactly", () => {
  const x = images([2, 3, 5, 2]);
  const out = rot90(rot90(rot90(rot90(x, 1), 1), 1), 1);
  assert.deepEqual(out.dataSync(), x.dataSync());
  assert.deepEqual(rot90(x, -7).dataSync(), rot90(x, 1).dataSync());
  assert.throws(() => rot90(x, 0.5), RangeError);
  tf.dispose([x, out]);
});

// ---------------------------------------------------------------------------------------------
// rotate, zoom, shift

/** Bilinear sampling of image b at a source point, reading `fill` outside (or clamping for "edge"). */
function bilinearRef(
  x: ArrayLike<number>,
  shape: number[],
  b: number,
  sy: number,
  sx: number,
  k: number,
  fill: Fill,
) {
  const [, h, w] = shape;
  if (fill === "edge") {
    (sy = Math.min(Math.max(sy, 0), h - 1), sx = Math.min(Math.max(sx, 0), w - 1));
  }
  const y0 = Math.floor(sy), x0 = Math.floor(sx), fy = sy - y0, fx = sx - x0;
  const px = (i: number, j: number) => {
    if (i >= 0 && i < h && j >= 0 && j < w) return at(x, shape, b, i, j, k);
    return fill === "edge" ? at(x, shape, b, Math.min(i, h - 1), Math.min(j, w - 1), k) : fill;
  };
  return (1 - fy) * ((1 - fx) * px(y0, x0) + fx * px(y0, x0 + 1)) +
    fy * ((1 - fx) * px(y0 + 1, x0) + fx * px(y0 + 1, x0 + 1));
}

/** Rotation by loops: output offset (dr, dc) from the centre reads (cos·dr + sin·dc, −sin·dr + cos·dc). */
function rotateRef(x: tf.Tensor4D, degrees: number[], fill: Fill): Float32Array {
  const shape = x.shape, [n, h, w, c] = shape, data = x.dataSync();
  const out = new Float32Array(data.length);
  const cy = (h - 1) / 2, cx = (w - 1) / 2;
  for (let b = 0; b < n; b++) {
    const t = (degrees[b] * Math.PI) / 180;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const sy = cy + Math.cos(t) * (i - cy) + Math.sin(t) * (j - cx);
        const sx = cx - Math.sin(t) * (i - cy) + Math.cos(t) * (j - cx);
        for (let k = 0; k < c; k++) {
          out[((b * h + i) * w + j) * c + k] = bilinearRef(data, shape, b, sy, sx, k, fill);
        }
      }
    }
  }
  return out;
}

Deno.test("rotate matches a bilinear loop reference, per image, with constant and edge fill", () => {
  const x = images([3, 6, 9, 2]);
  for (const fill of [0, 0.5, "edge"] as Fill[]) {
    const angles = [30, -100, 217.5];
    const out = rotate(x, angles, { fill });
    assert.ok(maxAbsDiff(out, rotateRef(x, angles, fill)) < 1e-5, `fill ${fill}`);
    out.dispose();
  }
  x.dispose();
});

Deno.test("rotate by 360° is the identity, by either code path", () => {
  const x = images([2, 7, 7, 3]);
  assert.ok(maxAbsDiff(rotate(x, 360), x) < 1e-5);
  const mixed = rotate(x, [360, 45]); // one interpolating pass over both images
  assert.ok(maxAbsDiff(mixed.slice([0], [1]), x.slice([0], [1])) < 1e-5);
  const wide = images([1, 4, 6, 1]);
  assert.ok(maxAbsDiff(rotate(wide, [-720]), wide) < 1e-5);
});

Deno.test("rotate by 90° equals rot90 on square images, by either code path", () => {
  const x = images([2, 8, 8, 3]);
  assert.deepEqual(rotate(x, 90).dataSync(), rot90(x, 1).dataSync()); // the exact path
  assert.deepEqual(rotate(x, -90).dataSync(), rot90(x, -1).dataSync());
  const mixed = rotate(x, [90, 10]);
  assert.ok(maxAbsDiff(mixed.slice([0], [1]), rot90(x.slice([0], [1]), 1)) < 1e-5);
  const odd = images([2, 5, 5, 1]);
  const turned = rotate(odd, [270, 270.0000001]).slice([0], [1]);
  assert.ok(maxAbsDiff(turned, rot90(odd.slice([0], [1]), 3)) < 1e-5);
});

Deno.test("rotate by 90° on a non-square image keeps its size and moves pixels about the centre", () => {
  // H=3, W=5, centre (1, 2): output (r, c) reads source (c − 1, 3 − r), or fill outside.
  const x = images([1, 3, 5, 1]);
  const out = rotate(x, 90, { fill: -1 });
  assert.deepEqual(out.shape, [1, 3, 5, 1]);
  const src = x.dataSync(), got = out.dataSync();
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 5; c++) {
      const sr = c - 1, sc = 3 - r;
      const expected = sr >= 0 && sr < 3 && sc >= 0 && sc < 5 ? src[sr * 5 + sc] : -1;
      assert.equal(got[r * 5 + c], expected, `(${r}, ${c})`);
    }
  }
});

Deno.test("rotating by a and then by −a recovers the centre of a smooth image", () => {
  const x = smooth(2, 32, 32, 3);
  for (const a of [17, 45, 133]) {
    const back = rotate(rotate(x, a), -a);
    const d = tf.sub(back, x).abs().dataSync();
    let worst = 0;
    for (let b = 0; b < 2; b++) {
      for (let i = 0; i < 32; i++) {
        for (let j = 0; j < 32; j++) {
          if ((i - 15.5) ** 2 + (j - 15.5) ** 2 > 12 ** 2) continue; // stays inside for any angle
          for (let k = 0; k < 3; k++) worst = Math.max(worst, at(d, [2, 32, 32, 3], b, i, j, k));
        }
      }
    }
    assert.ok(worst < 0.02, `${a}°: worst ${worst}`);
  }
});

Deno.test("zoom by 1 is exactly the identity; other factors scale about the centre", () => {
  const x = images([2, 5, 5, 2]);
  assert.deepEqual(zoom(x, 1).dataSync(), x.dataSync());
  assert.deepEqual(zoom(x, [1, 1]).dataSync(), x.dataSync());
  // 5×5, centre (2, 2). Factor 2: output (r, c) reads (2 + (r−2)/2, 2 + (c−2)/2).
  const src = x.dataSync(), shape = x.shape;
  const two = zoom(x, 2).dataSync();
  assert.equal(at(two, shape, 0, 2, 2, 0), at(src, shape, 0, 2, 2, 0));
  assert.equal(at(two, shape, 1, 0, 4, 1), at(src, shape, 1, 1, 3, 1));
  assert.ok(
    Math.abs(
      at(two, shape, 0, 1, 2, 0) - (at(src, shape, 0, 1, 2, 0) + at(src, shape, 0, 2, 2, 0)) / 2,
    ) < 1e-6,
  );
  // Factor 0.5: output (0, 0) reads (−2, −2), outside: the fill.
  const half = zoom(x, 0.5, { fill: 0.25 }).dataSync();
  assert.equal(at(half, shape, 0, 0, 0, 0), 0.25);
  assert.equal(at(half, shape, 0, 1, 1, 1), at(src, shape, 0, 0, 0, 1));
  assert.throws(() => zoom(x, 0), RangeError);
});

/** Integer translation by loops: out[r][c] = in[r − dy][c − dx], fill or clamp outside. */
function shiftRef(x: tf.Tensor4D, dx: number[], dy: number[], fill: Fill): Float32Array {
  const shape = x.shape, [n, h, w, c] = shape, src = x.dataSync();
  const out = new Float32Array(src.length);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let si = i - dy[b], sj = j - dx[b];
        const inside = si >= 0 && si < h && sj >= 0 && sj < w;
        if (fill === "edge") {
          (si = Math.min(Math.max(si, 0), h - 1), sj = Math.min(Math.max(sj, 0), w - 1));
        }
        for (let k = 0; k < c; k++) {
          out[((b * h + i) * w + j) * c + k] = inside || fill === "edge"
            ? at(src, shape, b, si, sj, k)
            : fill;
        }
      }
    }
  }
  return out;
}

Deno.test("shift matches the loop reference, per image, with constant and edge fill", () => {
  const x = images([4, 5, 7, 2]);
  const dx = [1, -2, 0, 9], dy = [0, 3, -1, 0];
  for (const fill of [0, 0.75, "edge"] as Fill[]) {
    assert.deepEqual(
      shift(x, dx, dy, { fill }).dataSync(),
      shiftRef(x, dx, dy, fill),
      `fill ${fill}`,
    );
  }
  assert.deepEqual(shift(x, 2, -1).dataSync(), shiftRef(x, [2, 2, 2, 2], [-1, -1, -1, -1], 0));
  assert.deepEqual(shift(x, 0, 0).dataSync(), x.dataSync());
  assert.throws(() => shift(x, 0.5, 0), RangeError);
  assert.throws(() => shift(x, [1, 2], 0), RangeError);
});

// ---------------------------------------------------------------------------------------------
// resize

Deno.test("resize: same size is the identity, integer shrink is the block mean, growth is resizeBilinear", () => {
  const x = images([2, 8, 12, 3]);
  assert.deepEqual(resize(x, 8, 12).dataSync(), x.dataSync());
  const pooled = tf.avgPool(x, [2, 4], [2, 4], "valid");
  assert.ok(maxAbsDiff(resize(x, 4, 3), pooled) < 1e-6);
  const bilinear = tf.image.resizeBilinear(x, [13, 17], false, true);
  assert.ok(maxAbsDiff(resize(x, 13, 17), bilinear) < 1e-6);
  assert.ok(maxAbsDiff(resize(x, 13, 17, { method: "bilinear" }), bilinear) < 1e-6);
  assert.deepEqual(resize(x, 5, 20).shape, [2, 5, 20, 3]); // one axis shrinks, one grows
});

Deno.test("resize filters exactly like toModelInput, so served and evaluated images agree", () => {
  const [h, w] = [11, 7];
  const bytes = Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 37) % 256);
  const x = tf.tensor4d(Float32Array.from(bytes, (v) => v / 255), [1, h, w, 3]);
  for (const [oh, ow] of [[5, 3], [4, 10], [16, 16], [11, 7]]) {
    const ref = toModelInput({ data: bytes, width: w, height: h, sourceType: "png" }, {
      height: oh,
      width: ow,
      channels: 3,
    });
    assert.ok(maxAbsDiff(resize(x, oh, ow), ref) < 1e-6, `${oh}×${ow}`);
  }
  assert.equal(resampleWeights(7, 3).start.length, 4);
});

// ---------------------------------------------------------------------------------------------
// Noise, perturbation, random rotation

Deno.test("gaussianNoise is seeded, clipped to [0, 1], and has the asked-for spread", () => {
  const x = tf.fill([4, 16, 16, 3], 0.5) as tf.Tensor4D;
  const a = gaussianNoise(x, 0.05, 1), b = gaussianNoise(x, 0.05, 1), c = gaussianNoise(x, 0.05, 2);
  assert.deepEqual(a.dataSync(), b.dataSync());
  assert.notDeepEqual(a.dataSync(), c.dataSync());
  const std = tf.moments(a.sub(x)).variance.sqrt().dataSync()[0];
  assert.ok(Math.abs(std - 0.05) < 0.005, `std ${std}`);
  const loud = gaussianNoise(x, 2, 3).dataSync();
  assert.ok(loud.every((v) => v >= 0 && v <= 1));
  assert.deepEqual(gaussianNoise(x, 0, 1).dataSync(), x.dataSync());
});

Deno.test("perturb is deterministic for a seed, stays in [0, 1], and shifts by at most maxShift", () => {
  assert.deepEqual(PERTURB_DEFAULTS, { sigma: 0.05, maxShift: 2 });
  const x = images([6, 9, 9, 1], 5);
  const a = perturb(x, { seed: 42 }), b = perturb(x, { seed: 42 }), c = perturb(x, { seed: 43 });
  assert.deepEqual(a.dataSync(), b.dataSync());
  assert.notDeepEqual(a.dataSync(), c.dataSync());
  assert.ok(a.dataSync().every((v) => v >= 0 && v <= 1));
  // Without noise, each image is its input shifted by some (dx, dy) in [−2, 2]², zero filled.
  const moved = perturb(x, { sigma: 0, seed: 7 });
  const shifts: string[] = [];
  for (let b = 0; b < 6; b++) {
    const img = moved.slice([b], [1]), src = x.slice([b], [1]);
    let found = "";
    for (let dy = -2; dy <= 2 && !found; dy++) {
      for (let dx = -2; dx <= 2 && !found; dx++) {
        if (maxAbsDiff(img, shift(src, dx, dy)) === 0) found = `${dx},${dy}`;
      }
    }
    assert.ok(found, `image ${b} is not a shift within 2 pixels`);
    shifts.push(found);
  }
  assert.ok(new Set(shifts).size > 1, "the shifts differ between images");
  assert.throws(() => perturb(x, { seed: 1.5 }), TypeError);
  assert.throws(() => perturb(x, { seed: 1, maxShift: -1 }), TypeError);
});

Deno.test("randomRotate draws seeded angles in [0, 360) and rotates by them", () => {
  const x = images([5, 6, 6, 2]);
  const a = randomRotate(x, 9), b = randomRotate(x, 9);
  assert.deepEqual(a.angles, b.angles);
  assert.ok(a.angles.every((t) => t >= 0 && t < 360));
  assert.equal(new Set(a.angles).size, 5);
  assert.deepEqual(a.images.dataSync(), rotate(x, a.angles).dataSync());
  assert.notDeepEqual(randomRotate(x, 10).angles, a.angles);
});

// ---------------------------------------------------------------------------------------------
// Corruptions

/** Blur by loops: the Gaussian kernel of radius ceil(3σ), cut off at the borders and renormalised. */
function blurRef(x: tf.Tensor4D, sigma: number): Float32Array {
  const shape = x.shape, [n, h, w, c] = shape, src = x.dataSync();
  const r = Math.ceil(3 * sigma);
  const g = (t: number) => Math.exp(-(t * t) / (2 * sigma * sigma));
  const out = new Float32Array(src.length);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        for (let k = 0; k < c; k++) {
          let sum = 0, mass = 0;
          for (let u = -r; u <= r; u++) {
            for (let v = -r; v <= r; v++) {
              if (i + u < 0 || i + u >= h || j + v < 0 || j + v >= w) continue;
              sum += g(u) * g(v) * at(src, shape, b, i + u, j + v, k);
              mass += g(u) * g(v);
            }
          }
          out[((b * h + i) * w + j) * c + k] = sum / mass;
        }
      }
    }
  }
  return out;
}

Deno.test("gaussianBlur matches the loop reference and keeps a constant image constant", () => {
  const x = images([2, 7, 9, 3]);
  for (const sigma of [0.5, 1, 2.5]) {
    assert.ok(maxAbsDiff(gaussianBlur(x, sigma), blurRef(x, sigma)) < 1e-5, `σ ${sigma}`);
  }
  const flat = tf.fill([1, 6, 5, 2], 0.3) as tf.Tensor4D;
  assert.ok(
    maxAbsDiff(gaussianBlur(flat, 1.5), flat) < 1e-6,
    "constant everywhere, borders included",
  );
  assert.deepEqual(gaussianBlur(x, 0).dataSync(), x.dataSync());
});

Deno.test("contrast blends each image with its per-channel mean", () => {
  const x = images([2, 4, 5, 3]);
  assert.ok(maxAbsDiff(contrast(x, 1), x) < 1e-6);
  const flat = contrast(x, 0).dataSync(), src = x.dataSync(), shape = x.shape;
  for (let b = 0; b < 2; b++) {
    for (let k = 0; k < 3; k++) {
      let mean = 0;
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 5; j++) mean += at(src, shape, b, i, j, k) / 20;
      }
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 5; j++) {
          assert.ok(Math.abs(at(flat, shape, b, i, j, k) - mean) < 1e-6);
        }
      }
    }
  }
  const strong = contrast(x, 3).dataSync();
  assert.ok(strong.every((v) => v >= 0 && v <= 1));
});

Deno.test("jpegCompress (libvips): bounded change per quality, closer at higher quality, no leak", async () => {
  // Property over seeds × sizes × channels: the round trip returns 8-bit levels of the same
  // shape, changes a smooth image by at most a bound that shrinks with quality, and the mean
  // error never grows as quality rises (a tolerance of 1/1000 allows libjpeg's rounding).
  const qualities = [5, 20, 50, 80, 95, 100];
  // Mean |error| bounds at each quality for these smooth images: the largest measured over the
  // cases below (0.076, 0.028, 0.016, 0.012, 0.007, 0.0055 on 2026-12-01) with ~15–25% margin;
  // at q100 libjpeg's quantisation is near-lossless, left are 8-bit rounding and the colour
  // transform.
  const meanBound: Record<number, number> = {
    5: 0.09,
    20: 0.034,
    50: 0.02,
    80: 0.015,
    95: 0.009,
    100: 0.0065,
  };
  const cases: [number, number, number, number][] = [
    [2, 16, 24, 3],
    [1, 8, 8, 1],
    [3, 33, 17, 3],
    [2, 32, 32, 1],
  ];
  for (const [n, h, w, c] of cases) {
    for (const seed of [0, 1, 2]) {
      const x = tf.tidy(() =>
        tf.clipByValue(smooth(n, h, w, c).add(seed * 0.03), 0, 1)
      ) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      const errors: number[] = [];
      for (const q of qualities) {
        const y = await jpegCompress(x, q);
        assert.deepEqual(y.shape, x.shape);
        const v = y.dataSync();
        assert.ok(
          v.every((p) => p >= 0 && p <= 1 && Math.abs(p * 255 - Math.round(p * 255)) < 1e-4),
          "8-bit levels",
        );
        const mean = tf.tidy(() => tf.sub(y, x).abs().mean().dataSync()[0]);
        assert.ok(
          mean < meanBound[q],
          `${[n, h, w, c]} seed ${seed} q${q}: mean |Δ| ${mean} ≥ ${meanBound[q]}`,
        );
        errors.push(mean);
        // Deterministic: the same image at the same quality gives the same pixels.
        const again = await jpegCompress(x, q);
        assert.equal(maxAbsDiff(again, y), 0);
        tf.dispose([y, again]);
      }
      for (let i = 1; i < errors.length; i++) {
        assert.ok(
          errors[i] <= errors[i - 1] + 1e-3,
          `${[n, h, w, c]} q${qualities[i]} ${errors[i]} > q${qualities[i - 1]} ${errors[i - 1]}`,
        );
      }
      assert.ok(
        errors[0] > 2 * errors.at(-1)!,
        `q5 ${errors[0]} is coarser than q100 ${errors.at(-1)}`,
      );
      assert.equal(tf.memory().numTensors, before, "jpegCompress leaks no tensor");
      x.dispose();
    }
  }
  // Noise (all frequencies) is what JPEG discards. In grey, q95 keeps it closely; in colour,
  // 4:2:0 chroma halves the colour resolution whatever the quality, so only the order holds.
  const e = async (x: tf.Tensor4D, q: number) => {
    const y = await jpegCompress(x, q);
    const m = tf.tidy(() => tf.sub(y, x).abs().mean().dataSync()[0]);
    y.dispose();
    return m;
  };
  const grey = images([1, 16, 16, 1], 7), colour = images([1, 16, 16, 3], 7);
  const [g5, g95] = [await e(grey, 5), await e(grey, 95)];
  assert.ok(g95 < 0.03 && g5 > 4 * g95 && g5 < 0.35, `grey noise: q5 ${g5}, q95 ${g95}`);
  const [c5, c95] = [await e(colour, 5), await e(colour, 95)];
  assert.ok(c95 < c5 && c5 < 0.35, `colour noise: q5 ${c5}, q95 ${c95}`);
  tf.dispose([grey, colour]);
  const x = smooth(1, 4, 4, 3);
  await assert.rejects(() => jpegCompress(x, 0), /expected an integer quality 1–100, got 0/);
  await assert.rejects(() => jpegCompress(x, 50.5), RangeError);
  await assert.rejects(
    () => jpegCompress(smooth(1, 4, 4, 2), 50),
    /expected 1 or 3 channels, got 2/,
  );
  x.dispose();
});

// ---------------------------------------------------------------------------------------------
// Leaks, gradients, backends

Deno.test("no transform leaks tensors", () => {
  const x = images([2, 6, 6, 3]);
  assertNoLeak(() => rot90(x, 1));
  assertNoLeak(() => rotate(x, 90));
  assertNoLeak(() => rotate(x, [12, 200], { fill: "edge" }));
  assertNoLeak(() => zoom(x, 1));
  assertNoLeak(() => zoom(x, [1.3, 0.7]));
  assertNoLeak(() => shift(x, 1, -1));
  assertNoLeak(() => resize(x, 4, 9));
  assertNoLeak(() => resize(x, 6, 6));
  assertNoLeak(() => resize(x, 9, 9, { method: "bilinear" }));
  assertNoLeak(() => gaussianNoise(x, 0.1, 1));
  assertNoLeak(() => perturb(x, { seed: 1 }));
  assertNoLeak(() => randomRotate(x, 1).images);
  assertNoLeak(() => gaussianBlur(x, 1));
  assertNoLeak(() => contrast(x, 0.5));
  x.dispose();
});

Deno.test("rotate, zoom, resize, blur and contrast are differentiable (cpu)", () => {
  const x = smooth(1, 6, 6, 2);
  const weights = images([1, 6, 6, 2], 3);
  for (
    const [name, f] of [
      ["rotate", (t: tf.Tensor4D) => rotate(t, 30)],
      ["zoom", (t: tf.Tensor4D) => zoom(t, 1.4)],
      ["resize", (t: tf.Tensor4D) => resize(t, 4, 9)],
      ["gaussianBlur", (t: tf.Tensor4D) => gaussianBlur(t, 1)],
      ["contrast", (t: tf.Tensor4D) => contrast(t, 0.8)],
    ] as const
  ) {
    // d/dx Σ w·f(x) by autodiff against a central finite difference along one random direction.
    const loss = (t: tf.Tensor4D) => {
      const y = f(t);
      return y.mul(y.shape.join() === weights.shape.join() ? weights : 1).sum();
    };
    const grad = tf.grad((t: tf.Tensor) => loss(t as tf.Tensor4D))(x);
    const dir = images([1, 6, 6, 2], 4);
    const eps = 1e-2;
    const plus = loss(x.add(dir.mul(eps)) as tf.Tensor4D).dataSync()[0];
    const minus = loss(x.sub(dir.mul(eps)) as tf.Tensor4D).dataSync()[0];
    const numeric = (plus - minus) / (2 * eps), analytic = grad.mul(dir).sum().dataSync()[0];
    assert.ok(
      Math.abs(numeric - analytic) < 1e-2 * Math.max(1, Math.abs(numeric)),
      `${name}: ${numeric} vs ${analytic}`,
    );
  }
});

Deno.test("every backend gives cpu's results", async () => {
  const x = images([2, 8, 8, 3], 8);
  const cases: [string, (t: tf.Tensor4D) => tf.Tensor][] = [
    ["rot90", (t) => rot90(t, 3)],
    ["rotate", (t) => rotate(t, [33, 250], { fill: 0.2 })],
    ["rotate edge", (t) => rotate(t, 10, { fill: "edge" })],
    ["zoom", (t) => zoom(t, [1.5, 0.6])],
    ["shift", (t) => shift(t, [2, -3], [1, 0])],
    ["resize auto", (t) => resize(t, 5, 11)],
    ["resize bilinear", (t) => resize(t, 11, 5, { method: "bilinear" })],
    ["gaussianNoise", (t) => gaussianNoise(t, 0.1, 4)],
    ["perturb", (t) => perturb(t, { seed: 4 })],
    ["gaussianBlur", (t) => gaussianBlur(t, 1.2)],
    ["contrast", (t) => contrast(t, 1.7)],
  ];
  await useBackend("cpu");
  const expected = cases.map(([, f]) => tf.tidy(() => f(x).dataSync()));
  try {
    for (const backend of BACKENDS.filter((b) => b !== "cpu")) {
      await useBackend(backend);
      const xb = tf.tensor4d(x.dataSync(), x.shape);
      for (const [i, [name, f]] of cases.entries()) {
        const before = tf.memory().numTensors;
        const out = f(xb);
        assert.equal(tf.memory().numTensors, before + 1, `${backend} ${name} leaks`);
        const got = await out.data(); // webgpu cannot read synchronously under Deno
        out.dispose();
        assert.ok(
          maxAbsDiff(got, expected[i]) < 1e-5,
          `${backend} ${name}: ${maxAbsDiff(got, expected[i])}`,
        );
      }
      xb.dispose();
    }
  } finally {
    await useBackend("cpu");
  }
});
