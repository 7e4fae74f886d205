import assert from "node:assert/strict";
import process from "node:process";
import {
  ATTACK_METRICS,
  BOOTSTRAP_REPLICATES,
  BOOTSTRAP_SEED,
  type BootstrapPair,
  chooseDesign,
  type Design,
  pairedBootstrap,
} from "../lib/experiment/bootstrap.ts";
import {
  aggregate,
  bootstrapMethod,
  T_INTERVAL_METHOD,
  writeSummary,
} from "../lib/experiment/aggregate.ts";
import { cellPaths } from "../lib/experiment/cell.ts";
import { expandCells, reportName, validateSpec } from "../lib/experiment/spec.ts";
import { summarize } from "../lib/experiment/stats.ts";
import { encodeBits, encodeScores, type Outcomes } from "../lib/eval/outcomes.ts";
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

// --- aggregate over a fake experiment directory -------------------------------------------

const N = 48, NA = 16;

/** One model's per-image rows of a cell, random with accuracy around `p`. */
function fakeRows(p: number, seed: number, n = N, nA = NA) {
  const bit = (k: number, q: number, len = n) => bernoulli(len, q, mixSeed(seed, k));
  const rng = mulberry32(mixSeed(seed, 77));
  return {
    clean: bit(1, p),
    top5: bit(2, Math.min(1, p + 0.2)),
    perturbed: bit(3, p - 0.1),
    randomRotation: bit(4, p - 0.2),
    "rotation:90": bit(5, p - 0.1),
    "zoom:0.5": bit(6, p - 0.1),
    "zoom:1": bit(1, p),
    "zoom:2": bit(7, p - 0.2),
    attackedClean: bit(8, p, nA),
    "fgsm:2": bit(9, p / 2, nA),
    "fgsm:8": bit(10, p / 3, nA),
    "pgd:2": bit(11, p / 3, nA),
    "pgd:8": bit(12, p / 4, nA),
    "pgdSanity:64": bit(13, 0.5, nA), // not pgd: were it read as pgd, the report check fails
    "pgdSanity:255": new Float64Array(nA),
    rotationInvariance: Float32Array.from({ length: n }, () => 0.5 + rng() / 2),
  };
}
type Rows = ReturnType<typeof fakeRows>;

const avg = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;

/** The report.json entry eval would write for these rows. */
function reportEntry(r: Rows, withAttackedClean = true) {
  return {
    clean: { top1: avg(r.clean), top5: avg(r.top5) },
    perturbed: avg(r.perturbed),
    randomRotation: { acc: avg(r.randomRotation), invariance: 0.9 },
    zoom: [0.5, 1, 2].map((f) => ({ factor: f, acc: avg(r[`zoom:${f}` as keyof Rows]) })),
    fgsm: [2, 8].map((eps) => ({ eps, acc: avg(r[`fgsm:${eps}` as keyof Rows]) })),
    pgd: [2, 8].map((eps) => ({ eps, acc: avg(r[`pgd:${eps}` as keyof Rows]) })),
    invariance: { rotation: avg(r.rotationInvariance), zoom: 0.8 },
    ...(withAttackedClean ? { attackedClean: avg(r.attackedClean) } : {}),
  };
}

/** The per-image metrics of these rows, by hand (the definitions of cellMetrics). */
function perImage(r: Rows): Record<string, Float64Array> {
  return {
    clean: r.clean,
    top5: r.top5,
    perturbed: r.perturbed,
    randomRotation: r.randomRotation,
    zoom: r["zoom:0.5"].map((v, i) => (v + r["zoom:2"][i]) / 2),
    attackedClean: r.attackedClean,
    fgsm: r["fgsm:8"],
    pgd: r["pgd:8"],
    rotationInvariance: Float64Array.from(r.rotationInvariance),
  };
}

interface FakeOptions {
  models?: string[];
  seeds?: number[];
  sizes?: number[];
  /** The test-set hash of a cell's outcomes, by seed (default: one test set). */
  testSet?: (seed: number) => string;
  /** Write outcomes.json (default true). */
  outcomes?: boolean;
  /** Accuracy of a model (default baseline 0.4, others 0.75). */
  accuracy?: (model: string) => number;
  /** Test images and attacked images (default N and NA). */
  images?: number;
  advImages?: number;
}

/**
 * Writes a fake experiment: each trained cell's report.json, outcomes.json (from the same rows)
 * and done.json; returns the spec, cells and every (cell id → rows) written.
 */
async function writeFake(out: string, o: FakeOptions = {}) {
  const spec = validateSpec({
    name: "boot",
    dataset: "synthetic",
    models: o.models ?? ["baseline", "symmetric", "baseline+tta"],
    seeds: o.seeds ?? [1, 2, 3],
    sizes: o.sizes ?? [100],
    epochs: 1,
  });
  const cells = expandCells(spec);
  const rows = new Map<string, Rows>();
  const acc = o.accuracy ?? ((m: string) => m === "baseline" ? 0.4 : 0.75);
  const [n, nA] = [o.images ?? N, o.advImages ?? NA];
  for (const c of cells.filter((x) => !x.evaluatedIn)) {
    // The cell's own entry, and its +tta cell's when the grid has one (evaluated here).
    const tta = cells.find((x) => x.evaluatedIn === c.id);
    const results: Record<string, unknown> = {};
    const models: Outcomes["models"] = {};
    (tta ? [c, tta] : [c]).forEach((cell, k) => {
      const r = fakeRows(
        acc(cell.model),
        mixSeed(c.seed, c.size, spec.models.indexOf(c.model), k),
        n,
        nA,
      );
      rows.set(cell.id, r);
      results[reportName(cell)] = reportEntry(r);
      const { rotationInvariance, ...bits } = r;
      models[reportName(cell)] = {
        bits: Object.fromEntries(Object.entries(bits).map(([k, v]) => [k, encodeBits(v)])),
        scores: { rotationInvariance: encodeScores(rotationInvariance) },
      };
    });
    const p = cellPaths(out, c);
    await Deno.mkdir(p.evalDir, { recursive: true });
    await Deno.writeTextFile(`${p.evalDir}/report.json`, JSON.stringify({ results }));
    if (o.outcomes ?? true) {
      const outcomes: Outcomes = {
        format: 1,
        images: n,
        advImages: nA,
        testSet: (o.testSet ?? (() => "fashion-test"))(c.seed),
        models,
      };
      await Deno.writeTextFile(`${p.evalDir}/outcomes.json`, JSON.stringify(outcomes));
    }
    await Deno.writeTextFile(p.done, "{}");
  }
  return { spec, cells, rows };
}

async function inTemp(fn: (out: string) => Promise<void>) {
  const out = await Deno.makeTempDir();
  try {
    await fn(out);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

const ALL = [
  "clean",
  "top5",
  "perturbed",
  "randomRotation",
  "zoom",
  "attackedClean",
  "fgsm",
  "pgd",
  "rotationInvariance",
];

Deno.test("aggregate: differences get the paired bootstrap's ci95 beside the t-interval", async () => {
  for (const design of ["crossed", "nested"] as const) {
    await inTemp(async (out) => {
      const { spec, cells, rows } = await writeFake(out, {
        testSet: design === "crossed" ? undefined : (seed) => `synthetic test of seed ${seed}`,
      });
      const s = await aggregate(spec, cells, out);
      for (const model of ["symmetric", "baseline+tta"]) {
        const ids = (m: string) => cells.filter((c) => c.model === m).map((c) => c.id);
        const expected = pairedBootstrap(
          ids(model).map((id, i) => {
            const x = perImage(rows.get(id)!), b = perImage(rows.get(ids("baseline")[i])!);
            return {
              testSet: design,
              diffs: Object.fromEntries(ALL.map((m) => [m, x[m].map((v, j) => v - b[m][j])])),
            };
          }),
          ALL,
          { design },
        );
        for (const m of ALL) {
          const d = s.differences[model][m];
          assert.deepEqual(d.ci95, expected.metrics[m].ci95, `${model} ${m}`);
          assert.deepEqual(d.tInterval, summarize(d.values).ci95);
          assert.equal(d.n, 3);
          assert.equal(d.method, `paired bootstrap over seeds × test images (${design}, B = 2000)`);
          assert.deepEqual(d.images, ATTACK_METRICS.includes(m) ? [NA, NA, NA] : [N, N, N]);
          assert.ok(Math.abs(d.mean - expected.metrics[m].mean) < 1e-7, m);
        }
      }
      // 0.75 vs 0.4 on 48 images and 3 seeds: the bootstrap interval excludes 0.
      const claim = s.claims.find((c) => c.model === "symmetric" && c.id === "generalisation")!;
      const d = s.differences.symmetric.clean;
      assert.deepEqual(
        [claim.ci95, claim.tInterval, claim.method, claim.verdict],
        [d.ci95, d.tInterval, d.method, "holds"],
      );
      await writeSummary(spec, cells, out);
      const md = await Deno.readTextFile(`${out}/summary.md`);
      assert.match(md, /\| 95% CI \| t-interval \| method \| n \| verdict \|/);
      assert.match(
        md,
        new RegExp(
          `Their 95% intervals come from a paired bootstrap over seeds × test images \\(${design}, B = 2000\\)\\.`,
        ),
      );
      const json = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
      for (const key of ["mean", "ci95", "n", "tInterval", "images", "method"]) {
        assert.ok(key in json.differences.symmetric.pgd, key);
      }
    });
  }
});

Deno.test("aggregate: outcomes that disagree with report.json are a one-line error", async () => {
  await inTemp(async (out) => {
    const { spec, cells } = await writeFake(out);
    const path = `${cellPaths(out, { id: "symmetric-s2-n100-shift" }).evalDir}/report.json`;
    const r = JSON.parse(await Deno.readTextFile(path));
    const was = r.results.symmetric.clean.top1;
    r.results.symmetric.clean.top1 += 0.01;
    await Deno.writeTextFile(path, JSON.stringify(r));
    const e = await aggregate(spec, cells, out).catch((e) => e as Error);
    assert.ok(e instanceof Error);
    assert.equal(
      e.message,
      `cell symmetric-s2-n100-shift: clean: per-image mean ${was} in ${
        path.replace("report.json", "outcomes.json")
      } ≠ ${was + 0.01} in ${path}`,
    );
  });
});

Deno.test("aggregate: a corrupt outcomes.json is a one-line error naming it", async () => {
  await inTemp(async (out) => {
    const { spec, cells } = await writeFake(out);
    const path = `${cellPaths(out, { id: "baseline-s3-n100-shift" }).evalDir}/outcomes.json`;
    const good = JSON.parse(await Deno.readTextFile(path));
    await Deno.writeTextFile(path, "{ not json");
    await assert.rejects(
      () => aggregate(spec, cells, out),
      (e: Error) => e.message.startsWith(`${path}: not valid JSON`) && !e.message.includes("\n"),
    );
    good.models.baseline.bits.clean = encodeBits([1, 0, 1]);
    await Deno.writeTextFile(path, JSON.stringify(good));
    await assert.rejects(
      () => aggregate(spec, cells, out),
      (e: Error) => e.message === `${path}: baseline clean: expected 6 bytes for 48 images, got 1`,
    );
    // The two cells of a pair must have measured the same test images.
    good.models.baseline.bits.clean = encodeBits(new Array(N).fill(0));
    await Deno.writeTextFile(path, JSON.stringify({ ...good, testSet: "other" }));
    const report = `${cellPaths(out, { id: "baseline-s3-n100-shift" }).evalDir}/report.json`;
    const r = JSON.parse(await Deno.readTextFile(report));
    r.results.baseline.clean.top1 = 0;
    await Deno.writeTextFile(report, JSON.stringify(r));
    await assert.rejects(
      () => aggregate(spec, cells, out),
      /^Error: cells symmetric-s3-n100-shift and baseline-s3-n100-shift: measured different test images/,
    );
  });
});

Deno.test("aggregate without outcomes falls back to the t-interval and says so", async () => {
  await inTemp(async (out) => {
    const { spec, cells } = await writeFake(out, { outcomes: false });
    const s = await aggregate(spec, cells, out);
    for (const m of ALL) {
      const d = s.differences.symmetric[m];
      assert.equal(d.method, T_INTERVAL_METHOD);
      assert.deepEqual(d.ci95, d.tInterval);
      assert.deepEqual(d.ci95, summarize(d.values).ci95);
      assert.equal(d.images, null);
    }
    assert.ok(s.claims.every((c) => c.method === T_INTERVAL_METHOD));
    await writeSummary(spec, cells, out);
    assert.match(
      await Deno.readTextFile(`${out}/summary.md`),
      /Their 95% intervals come from a t-interval over seed pairs\. No cell has per-image outcomes/,
    );
  });
  // One cell without outcomes: only the differences of its pairs fall back.
  await inTemp(async (out) => {
    const { spec, cells } = await writeFake(out);
    await Deno.remove(`${cellPaths(out, { id: "symmetric-s1-n100-shift" }).evalDir}/outcomes.json`);
    const s = await aggregate(spec, cells, out);
    assert.equal(s.differences.symmetric.clean.method, T_INTERVAL_METHOD);
    assert.equal(s.differences["baseline+tta"].clean.method, bootstrapMethod("crossed"));
    await writeSummary(spec, cells, out);
    const md = await Deno.readTextFile(`${out}/summary.md`);
    assert.match(
      md,
      /a paired bootstrap over seeds × test images \(crossed, B = 2000\) for 9 of 18/,
    );
    assert.match(md, /a t-interval over seed pairs for 9 of 18/);
  });
  // A report from before attackedClean was measured: NaN there, the rest as before.
  await inTemp(async (out) => {
    const { spec, cells } = await writeFake(out, { outcomes: false });
    const path = `${cellPaths(out, { id: "symmetric-s1-n100-shift" }).evalDir}/report.json`;
    const r = JSON.parse(await Deno.readTextFile(path));
    delete r.results.symmetric.attackedClean;
    await Deno.writeTextFile(path, JSON.stringify(r));
    const s = await aggregate(spec, cells, out);
    assert.ok(Number.isNaN(s.differences.symmetric.attackedClean.mean));
    assert.ok(Number.isFinite(s.differences.symmetric.clean.mean));
  });
});

Deno.test("one seed pair: a bootstrap interval over images, but the verdict stays inconclusive", async () => {
  await inTemp(async (out) => {
    const { spec, cells } = await writeFake(out, {
      seeds: [1],
      accuracy: (m) => m === "baseline" ? 0.1 : 0.95,
    });
    const s = await aggregate(spec, cells, out);
    const d = s.differences.symmetric.clean;
    assert.equal(d.n, 1);
    assert.equal(d.tInterval, null);
    assert.ok(d.ci95 && d.ci95[0] > 0, `${d.ci95}`);
    const claim = s.claims.find((c) => c.model === "symmetric" && c.id === "generalisation")!;
    assert.equal(claim.verdict, "inconclusive");
  });
});

Deno.test("a study-sized aggregate (7 models × 5 sizes × 3 seeds, 400 + 100 images) is fast", async () => {
  // The committed studies' eval limits (400 test images, 100 attacked); the measured time is
  // in docs/design.md "Statistics".
  await inTemp(async (out) => {
    const models = ["baseline", "symmetric", "p4m", "scale", "rotscale", "baseline+rotaug"];
    const { spec, cells } = await writeFake(out, {
      models: [...models, "baseline+tta"],
      sizes: [100, 200, 400, 800, 1600],
      images: 400,
      advImages: 100,
    });
    const t0 = performance.now(), c0 = process.cpuUsage();
    const s = await aggregate(spec, cells, out);
    const cpu = process.cpuUsage(c0);
    const ms = performance.now() - t0;
    assert.equal(s.settings.length, 5);
    assert.ok(s.settings.every((x) => Object.keys(x.differences).length === 6));
    assert.ok(s.claims.every((c) => c.method === bootstrapMethod("crossed")));
    assert.ok(ms < 20_000, `${ms} ms`);
    console.log(
      `aggregate: ${ms.toFixed(0)} ms, ${((cpu.user + cpu.system) / 1e3).toFixed(0)} ms CPU`,
    );
  });
});
