import assert from "node:assert/strict";
import {
  ATTACK_METRICS,
  BOOTSTRAP_REPLICATES,
  BOOTSTRAP_SEED,
  type BootstrapPair,
  chooseDesign,
  type Design,
  pairedBootstrap,
} from "../lib/experiment/bootstrap.ts";
import { mixSeed, mulberry32 } from "../lib/data/rng.ts";

/**
 * The bootstrap as plain loops, one metric at a time, over plain arrays and lib/data/rng.ts's
 * mulberry32: the stream of the module doc, drawn in full (every group's draws) so that it
 * stays aligned whichever metric is computed.
 */
function referenceBootstrap(
  pairs: BootstrapPair[],
  metrics: string[],
  design: Design,
  B = BOOTSTRAP_REPLICATES,
  seed = BOOTSTRAP_SEED,
): Record<string, [number, number]> {
  const S = pairs.length;
  const plain = metrics.filter((m) => !ATTACK_METRICS.includes(m));
  const attack = metrics.filter((m) => ATTACK_METRICS.includes(m));
  const count = (s: number, names: string[]) => names.length ? pairs[s].diffs[names[0]].length : 0;
  const out: Record<string, [number, number]> = {};
  for (const metric of metrics) {
    const rng = mulberry32(seed);
    const pick = (n: number) => {
      const idx: number[] = [];
      for (let j = 0; j < n; j++) idx.push(Math.floor(rng() * n));
      return idx;
    };
    const reps: number[] = [];
    for (let r = 0; r < B; r++) {
      const seeds: number[] = [];
      for (let k = 0; k < S; k++) seeds.push(Math.floor(rng() * S));
      let images: number[] = [], attacked: number[] = [];
      if (design === "crossed") {
        images = pick(count(0, plain));
        attacked = pick(count(0, attack));
      }
      let total = 0;
      for (const s of seeds) {
        if (design === "nested") {
          images = pick(count(s, plain));
          attacked = pick(count(s, attack));
        }
        const idx = ATTACK_METRICS.includes(metric) ? attacked : images;
        let sum = 0;
        for (const i of idx) sum += pairs[s].diffs[metric][i];
        total += sum / idx.length;
      }
      reps.push(total / S);
    }
    reps.sort((a, b) => a - b);
    const q = (p: number) => {
      const h = (B - 1) * p, lo = Math.floor(h);
      return reps[lo] + (h - lo) * (reps[Math.min(lo + 1, B - 1)] - reps[lo]);
    };
    out[metric] = [q(0.025), q(0.975)];
  }
  return out;
}

/** 0/1 values with P(1) = p from mulberry32(seed). */
function bernoulli(n: number, p: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  return Float64Array.from({ length: n }, () => rng() < p ? 1 : 0);
}

/** A pair whose metrics look like the sweep's: bits, a zoom-like mean of 3, float32 scores. */
function fakePair(testSet: string, n: number, nA: number, seed: number): BootstrapPair {
  const bit = (k: number, p: number, len = n) => {
    const x = bernoulli(len, p, mixSeed(seed, k, 1)), b = bernoulli(len, 0.5, mixSeed(seed, k, 2));
    return x.map((v, i) => v - b[i]);
  };
  const rng = mulberry32(mixSeed(seed, 99));
  const scores = Float64Array.from(
    Float32Array.from({ length: n }, () => rng() - rng()),
  );
  const [z1, z2, z3] = [bit(2, 0.6), bit(3, 0.6), bit(4, 0.4)];
  const zoom = z1.map((v, i) => (v + z2[i] + z3[i]) / 3);
  return {
    testSet,
    diffs: {
      clean: bit(1, 0.7),
      top5: bit(7, 0.9),
      perturbed: bit(8, 0.6),
      zoom,
      rotationInvariance: scores,
      pgd: bit(5, 0.3, nA),
      attackedClean: bit(6, 0.8, nA),
    },
  };
}
// Bit metrics (packed several to a word by the fast path) and float ones (gathered alone).
const FAKE_METRICS = [
  "clean",
  "top5",
  "perturbed",
  "zoom",
  "rotationInvariance",
  "pgd",
  "attackedClean",
];

Deno.test("the fast bootstrap gives the plain-loop reference's intervals exactly, both designs", () => {
  const crossed = [1, 2, 3].map((s) => fakePair("same", 50, 20, s));
  const nested = [[50, 20], [40, 12], [61, 17]].map(([n, nA], s) => fakePair(`t${s}`, n, nA, s));
  for (const [pairs, design] of [[crossed, "crossed"], [nested, "nested"]] as const) {
    assert.equal(chooseDesign(pairs), design);
    const fast = pairedBootstrap(pairs, FAKE_METRICS);
    assert.equal(fast.design, design);
    assert.equal(fast.replicates, 2000);
    const ref = referenceBootstrap(pairs, FAKE_METRICS, design);
    for (const m of FAKE_METRICS) assert.deepEqual(fast.metrics[m].ci95, ref[m], `${design} ${m}`);
    assert.deepEqual(fast.images.clean, pairs.map((p) => p.diffs.clean.length));
    assert.deepEqual(fast.images.pgd, pairs.map((p) => p.diffs.pgd.length));
    // Without attack metrics there are no attacked-image draws: the reference agrees there too.
    const some = ["zoom", "clean"];
    const fewer = pairedBootstrap(pairs, some);
    const ref2 = referenceBootstrap(pairs, some, design);
    for (const m of some) assert.deepEqual(fewer.metrics[m].ci95, ref2[m]);
    // D on the data: the mean over pairs of the per-pair mean differences.
    const d = pairs.reduce(
      (a, p) => a + p.diffs.clean.reduce((x, y) => x + y, 0) / p.diffs.clean.length,
      0,
    ) / 3;
    assert.ok(Math.abs(fast.metrics.clean.mean - d) < 1e-15);
  }
  // A seed drawn twice in a replicate (S = 2 makes that common) and a small B.
  const two = crossed.slice(0, 2);
  const small = pairedBootstrap(two, FAKE_METRICS, { replicates: 37, seed: 5 });
  const ref = referenceBootstrap(two, FAKE_METRICS, "crossed", 37, 5);
  for (const m of FAKE_METRICS) assert.deepEqual(small.metrics[m].ci95, ref[m]);
});

Deno.test("the bootstrap is deterministic, and its seed is what changes it", () => {
  const pairs = [1, 2, 3].map((s) => fakePair("same", 80, 30, s));
  const a = pairedBootstrap(pairs, FAKE_METRICS);
  const b = pairedBootstrap(pairs, FAKE_METRICS);
  assert.deepEqual(a, b);
  const c = pairedBootstrap(pairs, FAKE_METRICS, { seed: BOOTSTRAP_SEED + 1 });
  assert.notDeepEqual(a.metrics.clean.ci95, c.metrics.clean.ci95);
  assert.ok(Math.abs(a.metrics.clean.std - c.metrics.clean.std) < 0.1 * a.metrics.clean.std);
});

Deno.test("when every image's difference is the same constant the interval collapses to it", () => {
  for (const design of ["crossed", "nested"] as const) {
    const pairs = [0, 1, 2].map((s) => ({
      testSet: design === "crossed" ? "t" : `t${s}`,
      diffs: {
        clean: new Float64Array(40).fill(1),
        rotationInvariance: new Float64Array(40).fill(0.25),
        pgd: new Float64Array(10).fill(-1),
      },
    }));
    const r = pairedBootstrap(pairs, ["clean", "rotationInvariance", "pgd"]);
    assert.equal(r.design, design);
    assert.deepEqual(r.metrics.clean, { mean: 1, ci95: [1, 1], std: 0 });
    assert.deepEqual(r.metrics.rotationInvariance, { mean: 0.25, ci95: [0.25, 0.25], std: 0 });
    assert.deepEqual(r.metrics.pgd, { mean: -1, ci95: [-1, -1], std: 0 });
  }
});

Deno.test("one seed, Bernoulli(p) differences: the bootstrap std is √(p̂(1 − p̂)/n) within 10%", () => {
  for (const [n, p] of [[400, 0.3], [1000, 0.1], [150, 0.5]]) {
    const d = bernoulli(n, p, n);
    const r = pairedBootstrap([{ testSet: "t", diffs: { clean: d } }], ["clean"]);
    const m = d.reduce((a, b) => a + b, 0) / n;
    const se = Math.sqrt(m * (1 - m) / n);
    const { std, ci95 } = r.metrics.clean;
    assert.ok(Math.abs(std / se - 1) < 0.1, `n ${n} p ${p}: std ${std}, √(p̂(1 − p̂)/n) ${se}`);
    // Nearly normal at these n: the percentile interval is about m ± 1.96 se.
    assert.ok(Math.abs((ci95[1] - ci95[0]) / (2 * 1.96 * se) - 1) < 0.15, `${ci95}`);
    assert.ok(ci95[0] < m && m < ci95[1]);
  }
});

Deno.test("crossed vs nested: with identical seeds crossed is √S wider; with independent seeds they agree", () => {
  const S = 4, n = 400;
  const rng = mulberry32(7);
  // The same image-level differences in every seed (the same hard images, the same gains).
  const d = Float64Array.from({ length: n }, () => {
    const u = rng();
    return u < 0.2 ? -1 : u < 0.5 ? 1 : 0;
  });
  const m = d.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(d.reduce((a, v) => a + (v - m) ** 2, 0) / n);
  const same = (hash: (s: number) => string) =>
    Array.from({ length: S }, (_, s) => ({ testSet: hash(s), diffs: { clean: d } }));
  const crossed = pairedBootstrap(same(() => "one test set"), ["clean"]);
  const nested = pairedBootstrap(same((s) => `test set ${s}`), ["clean"]);
  assert.equal(crossed.design, "crossed");
  assert.equal(nested.design, "nested");
  // Crossed: every seed sees the same resampled images, so the seeds do not average the image
  // noise away: sd/√n. Nested: S independent image draws: sd/√(nS).
  const c = crossed.metrics.clean, x = nested.metrics.clean;
  assert.ok(Math.abs(c.std / (sd / Math.sqrt(n)) - 1) < 0.1, `crossed ${c.std}`);
  assert.ok(Math.abs(x.std / (sd / Math.sqrt(n * S)) - 1) < 0.1, `nested ${x.std}`);
  assert.ok((c.ci95[1] - c.ci95[0]) > 1.7 * (x.ci95[1] - x.ci95[0]));
  // Independent seeds on one test set: no image is hard for all seeds, but a seed drawn twice
  // in a replicate reuses its images when crossed, so crossed is wider than nested by at most
  // the factor √((2S − 1)/S) of E Σ_s c_s² = 2S − 1 (c ~ Multinomial(S, 1/S), the between-seed
  // part of the variance being the same in both).
  const indep = Array.from({ length: S }, (_, s) => {
    const x = bernoulli(n, 0.6, 100 + s), b = bernoulli(n, 0.5, 200 + s);
    return { testSet: "one", diffs: { clean: x.map((v, i) => v - b[i]) } };
  });
  const ci = pairedBootstrap(indep, ["clean"]).metrics.clean.std;
  const ni = pairedBootstrap(indep, ["clean"], { design: "nested" }).metrics.clean.std;
  assert.ok(ci > ni && ci / ni < 1.1 * Math.sqrt((2 * S - 1) / S), `crossed ${ci}, nested ${ni}`);
  // One seed pair: a single draw of images either way, from the same stream: the same numbers.
  const one = [{ testSet: "a", diffs: { clean: d } }];
  assert.deepEqual(
    pairedBootstrap(one, ["clean"], { design: "crossed" }).metrics,
    pairedBootstrap(one, ["clean"], { design: "nested" }).metrics,
  );
});

Deno.test("bad bootstrap input is a one-line error", () => {
  assert.throws(() => pairedBootstrap([], ["clean"]), /expected at least one pair/);
  const p = fakePair("a", 10, 4, 1);
  assert.throws(() => pairedBootstrap([p], ["fgsm"]), /pair 0 has no values for fgsm/);
  assert.throws(
    () => pairedBootstrap([p, fakePair("a", 12, 4, 2)], ["clean"], { design: "crossed" }),
    /crossed design needs the same images in every pair, got 10, 12/,
  );
});
