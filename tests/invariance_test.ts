import assert from "node:assert/strict";
import { argmax, invarianceScore, jsdBits, topK } from "../lib/eval/invariance.ts";
import { randomArray } from "./helpers.ts";

/** A random distribution over n classes. */
function dist(n: number, seed: number): number[] {
  const raw = Array.from(randomArray(n, seed), (v) => Math.exp(3 * v));
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((v) => v / sum);
}

/** Slow reference: entropies, JSD = H(m) − ½H(p) − ½H(q), in bits. */
function jsdReference(p: number[], q: number[]): number {
  const h = (d: number[]) => -d.reduce((s, v) => s + (v > 0 ? v * Math.log(v) / Math.LN2 : 0), 0);
  const m = p.map((v, i) => (v + q[i]) / 2);
  return h(m) - h(p) / 2 - h(q) / 2;
}

Deno.test("invariance score is 1 for identical and 0 for disjoint distributions", () => {
  const p = dist(10, 1);
  assert.ok(Math.abs(invarianceScore(p, p) - 1) < 1e-12);
  assert.equal(invarianceScore([1, 0, 0], [0, 1, 0]), 0);
  assert.equal(invarianceScore([0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]), 0);
});

Deno.test("invariance score is symmetric, in [0, 1], and matches an entropy reference", () => {
  for (let s = 0; s < 50; s++) {
    const p = dist(7, s), q = dist(7, 100 + s);
    const a = invarianceScore(p, q), b = invarianceScore(q, p);
    assert.ok(Math.abs(a - b) < 1e-12);
    assert.ok(a >= 0 && a <= 1);
    assert.ok(Math.abs(jsdBits(p, q) - jsdReference(p, q)) < 1e-9);
  }
  assert.throws(() => jsdBits([1], [0.5, 0.5]), /equal length/);
});

Deno.test("the divergence is in bits: a known value, and 1 bit for disjoint distributions", () => {
  // p = (1, 0), q = (½, ½): m = (¾, ¼), KL(p‖m) = log2(4/3), KL(q‖m) = ½·log2(2/3) + ½·log2 2.
  const expected = (Math.log2(4 / 3) + 0.5 * Math.log2(2 / 3) + 0.5) / 2;
  assert.ok(Math.abs(jsdBits([1, 0], [0.5, 0.5]) - expected) < 1e-12);
  assert.ok(Math.abs(invarianceScore([1, 0], [0.5, 0.5]) - (1 - expected)) < 1e-12);
  assert.equal(jsdBits([0, 1, 0, 0], [0, 0, 0, 1]), 1);
});

Deno.test("softmax rows in float32 (sums off by rounding, exact zeros) stay within [0, 1]", () => {
  for (let s = 0; s < 50; s++) {
    const p = Float32Array.from(dist(100, s)), q = Float32Array.from(dist(100, 500 + s));
    q[s] = 0;
    p[s + 1] = 0;
    const score = invarianceScore(p, q);
    assert.ok(score >= 0 && score <= 1, `${score}`);
    assert.ok(Math.abs(jsdBits(p, q) - jsdReference([...p], [...q])) < 1e-6);
    assert.ok(Math.abs(invarianceScore(p, p) - 1) < 1e-12);
  }
});

Deno.test("argmax and topK pick the most probable classes in order", () => {
  assert.equal(argmax([0.1, 0.7, 0.2]), 1);
  assert.deepEqual(topK([0.1, 0.7, 0.2], 2).map((t) => t.index), [1, 2]);
});
