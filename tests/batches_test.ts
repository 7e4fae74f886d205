import assert from "node:assert/strict";
import { batches, channelStats, DatasetError, type Split } from "../lib/data/mod.ts";
import { permutation } from "../lib/data/batches.ts";
import { mulberry32 } from "../lib/data/rng.ts";

/** A split whose image i holds i in its first two pixels (low byte, high byte), rest random. */
function indexed(count: number, h: number, w: number, c: number): Split {
  const rand = mulberry32(7);
  const size = h * w * c;
  const images = new Uint8Array(count * size).map(() => Math.floor(rand() * 256));
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    images[i * size] = i & 255;
    images[i * size + 1] = i >> 8;
    labels[i] = i % 10;
  }
  return { images, labels, count, height: h, width: w, channels: c };
}

/** Source indices of one epoch, read back from the first two pixels of every yielded image. */
function order(split: Split, seed: number, epoch: number, batchSize = 32): number[] {
  const size = split.height * split.width * split.channels;
  const seen: number[] = [];
  for (const b of batches(split, { batchSize, shuffle: true, seed, epoch })) {
    for (let i = 0; i < b.size; i++) {
      const id = Math.round(b.x[i * size] * 255) + 256 * Math.round(b.x[i * size + 1] * 255);
      seen.push(id);
      assert.equal(b.y[i], split.labels[id], "label travels with its image");
    }
  }
  return seen;
}

/** Pixel (y, x, k) of image i of a float batch. */
const at = (x: Float32Array, s: Split, i: number, y: number, z: number, k: number) =>
  x[i * s.height * s.width * s.channels + (y * s.width + z) * s.channels + k];

/** Source pixel of a counter-clockwise quarter turn applied k times (numpy rot90 on (H, W)). */
function rotSource(y: number, x: number, k: number, n: number): [number, number] {
  for (let t = 0; t < k; t++) [y, x] = [x, n - 1 - y];
  return [y, x];
}

Deno.test("batches: every image appears exactly once per epoch, with its label", () => {
  const split = indexed(100, 4, 4, 1);
  const seen = order(split, 1, 0);
  assert.deepEqual([...seen].sort((a, b) => a - b), [...Array(100).keys()]);
  const all = [...batches(split, { batchSize: 32, shuffle: true, seed: 1, epoch: 0 })];
  assert.deepEqual(all.map((b) => b.size), [32, 32, 32, 4]);
  assert.deepEqual(all.map((b) => [b.index, b.total]), [[0, 4], [1, 4], [2, 4], [3, 4]]);
  assert.equal(all[0].x.length, 32 * 16);
});

Deno.test("batches: the order is fixed by (seed, epoch) and changes with either", () => {
  const split = indexed(300, 4, 4, 1);
  const e0 = order(split, 1, 0);
  assert.deepEqual(order(split, 1, 0), e0, "same seed and epoch: same order (resume)");
  assert.notDeepEqual(order(split, 1, 1), e0, "next epoch: another order");
  assert.notDeepEqual(order(split, 2, 0), e0, "another seed: another order");
  assert.deepEqual(order(split, 1, 0, 7), e0, "the order does not depend on the batch size");
  const unshuffled = [...batches(split, { batchSize: 50, shuffle: false, seed: 0, epoch: 3 })];
  assert.equal(Math.round(unshuffled[1].x[0] * 255), 50);
});

Deno.test("batches: dropLast drops only the incomplete last batch", () => {
  const split = indexed(100, 4, 4, 1);
  const kept = [
    ...batches(split, { batchSize: 32, shuffle: true, seed: 0, epoch: 0, dropLast: true }),
  ];
  assert.deepEqual(kept.map((b) => b.size), [32, 32, 32]);
  assert.ok(kept.every((b) => b.total === 3));
});

Deno.test("batches: pixels are bytes / 255 without augmentation", () => {
  const split = indexed(3, 5, 5, 3);
  const [b] = [...batches(split, { batchSize: 3, shuffle: false, seed: 0, epoch: 0 })];
  assert.deepEqual(b.x, Float32Array.from(split.images, (v) => v / 255));
});

Deno.test("rot90 augmentation yields exact quarter turns, all four of them", () => {
  for (const n of [6, 5]) {
    const split = indexed(64, n, n, 3);
    const plain = [...batches(split, { batchSize: 64, shuffle: false, seed: 0, epoch: 0 })][0].x;
    const turned = [...batches(split, {
      batchSize: 64,
      shuffle: false,
      seed: 0,
      epoch: 0,
      augment: { rotate: "rot90" },
    })][0].x;
    const used = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const ks = [0, 1, 2, 3].filter((k) => {
        for (let y = 0; y < n; y++) {
          for (let x = 0; x < n; x++) {
            const [sy, sx] = rotSource(y, x, k, n);
            for (let c = 0; c < 3; c++) {
              if (at(turned, split, i, y, x, c) !== at(plain, split, i, sy, sx, c)) return false;
            }
          }
        }
        return true;
      });
      assert.equal(ks.length, 1, `${n}×${n} image ${i} is not exactly one quarter turn`);
      used.add(ks[0]);
    }
    assert.deepEqual([...used].sort(), [0, 1, 2, 3], `${n}×${n}: every turn is drawn`);
  }
});

Deno.test("shift augmentation translates by whole pixels with zero fill, within the bound", () => {
  const split = indexed(32, 8, 8, 2);
  for (const s of split.images.keys()) split.images[s] = Math.max(split.images[s], 1); // no 0s
  const plain = [...batches(split, { batchSize: 32, shuffle: false, seed: 3, epoch: 0 })][0].x;
  const moved = [...batches(split, {
    batchSize: 32,
    shuffle: false,
    seed: 3,
    epoch: 0,
    augment: { shift: 2 },
  })][0].x;
  assert.equal(moved.length, plain.length);
  let shifted = 0;
  for (let i = 0; i < 32; i++) {
    const fits = [];
    for (let dy = -2; dy <= 2; dy++) {
      for (let dx = -2; dx <= 2; dx++) {
        let ok = true;
        for (let y = 0; y < 8 && ok; y++) {
          for (let x = 0; x < 8 && ok; x++) {
            const [sy, sx] = [y - dy, x - dx];
            for (let c = 0; c < 2; c++) {
              const want = sy < 0 || sy >= 8 || sx < 0 || sx >= 8
                ? 0
                : at(plain, split, i, sy, sx, c);
              if (at(moved, split, i, y, x, c) !== want) ok = false;
            }
          }
        }
        if (ok) fits.push([dy, dx]);
      }
    }
    assert.equal(fits.length, 1, `image ${i} is not one translation within ±2`);
    if (fits[0][0] || fits[0][1]) shifted++;
  }
  assert.ok(shifted > 16, `most images move (${shifted} of 32)`);
});

Deno.test("shift + any-angle rotation + flip keep shape and stay in [0, 1]", () => {
  const split = indexed(64, 32, 32, 3);
  for (const rotate of ["any", "rot90", "none"] as const) {
    const [b] = [...batches(split, {
      batchSize: 64,
      shuffle: true,
      seed: 1,
      epoch: 0,
      augment: { shift: 4, rotate, flip: true },
    })];
    assert.equal(b.x.length, 64 * 32 * 32 * 3);
    assert.ok(b.x.every((v) => v >= 0 && v <= 1), rotate);
  }
  // Same seed and epoch: the same augmentation draws.
  const one = () =>
    [...batches(split, {
      batchSize: 64,
      shuffle: true,
      seed: 1,
      epoch: 2,
      augment: { shift: 4, rotate: "any" },
    })][0].x;
  assert.deepEqual(one(), one());
});

Deno.test("flip augmentation mirrors columns", () => {
  const split = indexed(32, 4, 4, 1);
  const plain = [...batches(split, { batchSize: 32, shuffle: false, seed: 0, epoch: 0 })][0].x;
  const flipped = [...batches(split, {
    batchSize: 32,
    shuffle: false,
    seed: 0,
    epoch: 0,
    augment: { flip: true },
  })][0].x;
  let mirrored = 0;
  for (let i = 0; i < 32; i++) {
    const same = plain.subarray(i * 16, i * 16 + 16).every((v, p) => flipped[i * 16 + p] === v);
    const mirror = [...Array(16).keys()].every((p) =>
      flipped[i * 16 + p] === plain[i * 16 + Math.floor(p / 4) * 4 + 3 - (p % 4)]
    );
    assert.ok(same || mirror, `image ${i} is neither itself nor its mirror`);
    if (mirror && !same) mirrored++;
  }
  assert.ok(mirrored > 5 && mirrored < 27, `about half are mirrored (${mirrored} of 32)`);
});

Deno.test("batches refuses invalid options and inconsistent splits", () => {
  const split = indexed(10, 4, 4, 1);
  assert.throws(
    () => batches(split, { batchSize: 0, shuffle: true, seed: 1, epoch: 0 }),
    /Invalid batch options: batchSize/,
  );
  assert.throws(
    () =>
      batches(split, {
        batchSize: 4,
        shuffle: true,
        seed: 1,
        epoch: 0,
        // @ts-expect-error: not a rotation mode
        augment: { rotate: "p4" },
      }),
    /Invalid batch options: augment\.rotate/,
  );
  assert.throws(
    () => batches({ ...split, count: 11 }, { batchSize: 4, shuffle: true, seed: 1, epoch: 0 }),
    DatasetError,
  );
});

Deno.test("channelStats matches a direct per-channel computation", () => {
  const split = indexed(20, 3, 3, 3);
  const { mean, std } = channelStats(split);
  for (let c = 0; c < 3; c++) {
    const values = split.images.filter((_, i) => i % 3 === c).map((v) => v);
    const m = values.reduce((s, v) => s + v / 255, 0) / values.length;
    const v = values.reduce((s, x) => s + (x / 255 - m) ** 2, 0) / values.length;
    assert.ok(Math.abs(mean[c] - m) < 1e-9);
    assert.ok(Math.abs(std[c] - Math.sqrt(v)) < 1e-9);
  }
  const flat = { ...split, images: new Uint8Array(split.images.length).fill(9) };
  assert.deepEqual(channelStats(flat).std, [1e-3, 1e-3, 1e-3], "a constant channel is floored");
});

Deno.test("permutation is a seeded shuffle of 0..n-1", () => {
  const p = permutation(1000, mulberry32(4));
  assert.deepEqual([...p].sort((a, b) => a - b), [...Array(1000).keys()]);
  assert.deepEqual(permutation(1000, mulberry32(4)), p);
  assert.notDeepEqual(permutation(1000, mulberry32(5)), p);
});
