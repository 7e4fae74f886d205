/**
 * The paired bootstrap of a model − baseline difference over seeds and test images
 * (docs/design.md "Statistics"), from the per-image outcomes eval stores beside its report
 * (lib/eval/outcomes.ts).
 *
 * **Statistic.** S seed pairs s (the model and the baseline trained with the same seed, size and
 * augmentation, evaluated on the same test images), per-image values x_s[i] (model) and b_s[i]
 * (baseline), i < n_s:
 *
 *     D = (1/S) · Σ_s (1/n_s) · Σ_i (x_s[i] − b_s[i])
 *
 * the mean over seed pairs of each pair's difference of accuracies (of mean scores).
 *
 * **Replicate.** Draw S seed pairs with replacement, and test images with replacement, paired
 * (the same image index for model and baseline), and recompute D. Two designs, chosen from the
 * data ({@linkcode chooseDesign}):
 *
 * - `crossed`, when every pair measured the same test images (equal `testSet` hashes, e.g.
 *   Fashion-MNIST's one test set): the image indices are drawn once per replicate and shared by
 *   all the resampled seeds, so an image that is hard for every seed is drawn (or not) for all
 *   of them at once, and the image-sampling variance does not shrink with S;
 * - `nested`, when the test images differ between pairs (the synthetic set's test split depends
 *   on the training seed): the image indices are drawn independently for each resampled seed.
 *
 * Metrics over the attacked images ({@linkcode ATTACK_METRICS}: the first `advImages` test
 * images) resample those images with their own draws.
 *
 * **Interval.** B = {@linkcode BOOTSTRAP_REPLICATES} replicates; the 95% interval is the 2.5% and
 * 97.5% percentiles of the replicates (linear interpolation between order statistics, Hyndman &
 * Fan type 7). The draws come from mulberry32 (lib/data/rng.ts) seeded with
 * {@linkcode BOOTSTRAP_SEED} on every call, so a re-aggregation reproduces every interval bit
 * for bit, and comparisons with the same S and image counts see the same resamples (common
 * random numbers). The stream, per replicate: S seed draws ⌊u·S⌋; then (crossed) n image draws
 * ⌊u·n⌋ and nA attacked-image draws ⌊u·nA⌋, or (nested) for each resampled seed k in order its
 * n_k image draws then its nA_k attacked-image draws (nA = 0 when no attack metric is
 * bootstrapped). All metrics share the draws of a replicate (a joint bootstrap).
 *
 * @module
 */
import {
  decodeBits,
  decodeScores,
  isAttackRow,
  type Outcomes,
  OutcomesError,
} from "../eval/outcomes.ts";

/** Replicates of the paired bootstrap. */
export const BOOTSTRAP_REPLICATES = 2000;
/** The seed of the bootstrap's PRNG (fixed: re-aggregation must give the same numbers). */
export const BOOTSTRAP_SEED = 20261201;

/** Metrics measured on the attacked images only (`advImages` of them). */
export const ATTACK_METRICS: readonly string[] = ["attackedClean", "fgsm", "pgd"];

/** How test images are resampled across seed pairs (see the module doc). */
export type Design = "crossed" | "nested";

/** Per-image values of one model in one cell, by metric (attack metrics: `advImages` long). */
export type PerImage = Record<string, Float64Array>;

/**
 * The per-image values of one model's outcomes, with the definitions of `cellMetrics` in
 * aggregate.ts: `clean`, `top5`, `perturbed`, `randomRotation` and `attackedClean` are their
 * rows' bits; `zoom` is each image's mean over the `zoom:` rows with factor ≠ 1; `fgsm` and
 * `pgd` are the rows at the largest ε of `fgsm:` / `pgd:` (`pgdSanity:` rows are not `pgd`);
 * `rotationInvariance` is the `rotationInvariance` score. A metric whose rows are absent (or
 * cover no image) is left out.
 *
 * @example
 * ```ts
 * import { validateOutcomes } from "../eval/outcomes.ts";
 * const file = "docs/results/study/fashion-mnist-tiny/baseline-s1-n300-shift/eval/outcomes.json";
 * const o = validateOutcomes(JSON.parse(await Deno.readTextFile(file)), file);
 * perImageMetrics(o, "baseline").clean; // Float64Array of 0/1, o.images long
 * ```
 */
export function perImageMetrics(outcomes: Outcomes, model: string, source = "outcomes"): PerImage {
  const m = outcomes.models[model];
  if (!m) {
    throw new OutcomesError(
      `${source}: no outcomes for model "${model}" (has ${
        Object.keys(outcomes.models).join(", ") || "none"
      })`,
    );
  }
  const bits = m.bits ?? {};
  const count = (key: string) => isAttackRow(key) ? outcomes.advImages : outcomes.images;
  const row = (key: string) =>
    Float64Array.from(decodeBits(bits[key], count(key), `${source}: ${model} ${key}`));
  const out: PerImage = {};
  for (const key of ["clean", "top5", "perturbed", "randomRotation", "attackedClean"]) {
    if (key in bits) out[key] = row(key);
  }
  const valued = (measure: string) =>
    Object.keys(bits).filter((k) => k.startsWith(`${measure}:`)).map((k) => ({
      key: k,
      value: Number(k.slice(measure.length + 1)),
    }));
  const zooms = valued("zoom").filter((z) => z.value !== 1);
  if (zooms.length) {
    const sum = new Float64Array(outcomes.images);
    for (const z of zooms) {
      const b = row(z.key);
      for (let i = 0; i < sum.length; i++) sum[i] += b[i];
    }
    out.zoom = sum.map((v) => v / zooms.length);
  }
  for (const measure of ["fgsm", "pgd"]) {
    const rows = valued(measure);
    if (rows.length) out[measure] = row(rows.reduce((a, r) => r.value > a.value ? r : a).key);
  }
  const inv = m.scores?.rotationInvariance;
  if (inv !== undefined) {
    out.rotationInvariance = Float64Array.from(
      decodeScores(inv, outcomes.images, `${source}: ${model} rotationInvariance`),
    );
  }
  for (const [k, v] of Object.entries(out)) if (!v.length) delete out[k];
  return out;
}

/** The mean of a vector (NaN when empty). */
export function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s / v.length;
}

/** One seed pair: what the bootstrap needs of a model cell and its baseline cell. */
export interface BootstrapPair {
  /** The test-set hash both cells measured (lib/eval/outcomes.ts `testSet`). */
  testSet: string;
  /** Per metric, model − baseline per image. */
  diffs: PerImage;
}

/**
 * Per-image model − baseline differences of the metrics both have; throws when a metric's two
 * vectors differ in length (they were not measured on the same images).
 */
export function pairDifferences(model: PerImage, baseline: PerImage): PerImage {
  const out: PerImage = {};
  for (const [k, x] of Object.entries(model)) {
    const b = baseline[k];
    if (!b) continue;
    if (b.length !== x.length) {
      throw new OutcomesError(
        `${k}: model and baseline have ${x.length} and ${b.length} per-image values`,
      );
    }
    out[k] = x.map((v, i) => v - b[i]);
  }
  return out;
}

/** `crossed` when every pair measured the same test images (equal hashes), else `nested`. */
export function chooseDesign(pairs: Pick<BootstrapPair, "testSet">[]): Design {
  return pairs.every((p) => p.testSet === pairs[0].testSet) ? "crossed" : "nested";
}

/** Options of {@linkcode pairedBootstrap}. */
export interface BootstrapOptions {
  /** Default {@linkcode BOOTSTRAP_REPLICATES}. */
  replicates?: number;
  /** Default {@linkcode BOOTSTRAP_SEED}. */
  seed?: number;
  /** Default {@linkcode chooseDesign} of the pairs. */
  design?: Design;
}

/** One metric's bootstrap. */
export interface BootstrapInterval {
  /** D on the data (not resampled). */
  mean: number;
  /** [2.5%, 97.5%] percentiles of the replicates. */
  ci95: [number, number];
  /** Standard deviation of the replicates (the bootstrap standard error of D). */
  std: number;
}

/** What {@linkcode pairedBootstrap} returns. */
export interface BootstrapResult {
  design: Design;
  replicates: number;
  /** Images per pair, in pair order: test images, and attacked images for attack metrics. */
  images: Record<string, number[]>;
  metrics: Record<string, BootstrapInterval>;
}

/** The p-quantile of ascending `sorted`, linear between order statistics (type 7). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Draws `count` indices ⌊u·n⌋ into `out`, u uniform in [0, 1) from mulberry32 (lib/data/rng.ts)
 * inlined, its state an int32 (the same bits mod 2³²) kept in `state[0]`: a local while drawing
 * (a captured variable above 2³⁰ would be boxed on every write). u·n = x·(n/2³²) exactly.
 */
function drawIndices(state: Int32Array, out: Int32Array, count: number, n: number): void {
  let a = state[0];
  const scale = n / 4294967296;
  for (let j = 0; j < count; j++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[j] = Math.floor(((t ^ (t >>> 14)) >>> 0) * scale);
  }
  state[0] = a;
}

/** Σ_j col[idx[j]] over the first n drawn indices, in draw order. */
function gatherSum(col: Float64Array, idx: Int32Array, n: number): number {
  let acc = 0;
  for (let j = 0; j < n; j++) acc += col[idx[j]];
  return acc;
}

/**
 * A group of metrics resampled over the same images, laid out for {@linkcode groupSums}: metrics
 * whose differences are all −1, 0 or 1 (the bit metrics) are packed F to a float64 "word",
 * d + 1 in a field of w bits (2·n < 2^w, w·F ≤ 52), so that one gather sums F metrics; every
 * sum is an integer below 2⁵³, exact, hence equal to the sum of the metric's own values in any
 * order. Other metrics (zoom's k/K, float scores) are gathered alone, in draw order.
 */
interface MetricGroup {
  names: string[];
  M: number;
  /** Images of each pair. */
  counts: Int32Array;
  /** Per pair, the columns to gather: words, then raw metrics. */
  lanes: Float64Array[][];
  /** Per word lane, the metric of each field (field f at 2^(w·f)); per raw lane, [metric]. */
  laneMetrics: number[][];
  words: number;
  fieldBits: number;
  idx: Int32Array;
  /** Per pair (crossed) or [0] (nested): the per-metric sums of the current replicate. */
  sums: Float64Array[];
  total: Float64Array;
  reps: Float64Array[];
}

function metricGroup(
  pairs: BootstrapPair[],
  names: string[],
  design: Design,
  B: number,
): MetricGroup {
  const S = pairs.length, M = names.length;
  const counts = new Int32Array(S);
  const cols = pairs.map((p, s) =>
    names.map((m, j) => {
      const v = p.diffs[m];
      if (!v) throw new RangeError(`pairedBootstrap: pair ${s} has no values for ${m}`);
      if (!v.length) throw new RangeError(`pairedBootstrap: pair ${s} has no images for ${m}`);
      if (j > 0 && v.length !== counts[s]) {
        throw new RangeError(
          `pairedBootstrap: pair ${s}: ${m} has ${v.length} values, ${names[0]} ${counts[s]}`,
        );
      }
      counts[s] = v.length;
      return v;
    })
  );
  if (design === "crossed" && counts.some((c) => c !== counts[0])) {
    throw new RangeError(
      `pairedBootstrap: the crossed design needs the same images in every pair, got ${
        [...counts].join(", ")
      } (${names.join(", ")})`,
    );
  }
  const longest = Math.max(0, ...counts);
  const fieldBits = Math.floor(Math.log2(2 * longest)) + 1; // 2·n < 2^w
  const perWord = Math.floor(52 / fieldBits);
  const ternary = names.map((_, m) =>
    perWord >= 2 && cols.every((c) => c[m].every((v) => v === -1 || v === 0 || v === 1))
  );
  const packed = names.map((_, m) => m).filter((m) => ternary[m]);
  const laneMetrics: number[][] = [];
  for (let i = 0; i < packed.length; i += perWord) laneMetrics.push(packed.slice(i, i + perWord));
  const words = laneMetrics.length;
  for (let m = 0; m < M; m++) if (!ternary[m]) laneMetrics.push([m]);
  const lanes = cols.map((c, s) =>
    laneMetrics.map((ms, lane) => {
      if (lane >= words) return Float64Array.from(c[ms[0]]);
      const word = new Float64Array(counts[s]);
      ms.forEach((m, f) => {
        const scale = 2 ** (fieldBits * f);
        for (let i = 0; i < word.length; i++) word[i] += (c[m][i] + 1) * scale;
      });
      return word;
    })
  );
  return {
    names,
    M,
    counts,
    lanes,
    laneMetrics,
    words,
    fieldBits,
    idx: new Int32Array(longest),
    sums: Array.from({ length: S }, () => new Float64Array(M)),
    total: new Float64Array(M),
    reps: names.map(() => new Float64Array(B)),
  };
}

/** The group's per-metric sums over pair s's images at the drawn `g.idx`, into `out`. */
function groupSums(g: MetricGroup, s: number, out: Float64Array): void {
  const n = g.counts[s], lanes = g.lanes[s];
  for (let lane = 0; lane < lanes.length; lane++) {
    let sum = gatherSum(lanes[lane], g.idx, n);
    const ms = g.laneMetrics[lane];
    if (lane >= g.words) {
      out[ms[0]] = sum;
      continue;
    }
    for (let f = ms.length - 1; f >= 0; f--) {
      const scale = 2 ** (g.fieldBits * f);
      const field = Math.floor(sum / scale);
      sum -= field * scale;
      out[ms[f]] = field - n; // each draw added d + 1
    }
  }
}

/**
 * The paired bootstrap of D for each of `metrics` over `pairs` (see the module doc for the
 * statistic, the two designs and the PRNG stream). Every pair must have every metric; a
 * metric in {@linkcode ATTACK_METRICS} is resampled over its own (attacked) images.
 *
 * Cost: B · S · (n + nA) draws (B · (S + n + nA) crossed), and per draw one add for each
 * float metric and for each word of up to F bit metrics (crossed: per distinct resampled seed).
 *
 * @example
 * ```ts
 * const r = pairedBootstrap(
 *   [{ testSet: "t", diffs: { clean: new Float64Array([1, 0, 1, 0]) } }],
 *   ["clean"],
 * );
 * r.metrics.clean; // { mean: 0.5, ci95: [0, 1], std: ≈0.25 }
 * ```
 */
export function pairedBootstrap(
  pairs: BootstrapPair[],
  metrics: string[],
  options: BootstrapOptions = {},
): BootstrapResult {
  const S = pairs.length;
  const B = options.replicates ?? BOOTSTRAP_REPLICATES;
  if (!S) throw new RangeError("pairedBootstrap: expected at least one pair, got none");
  if (!(Number.isInteger(B) && B >= 2)) {
    throw new RangeError(`pairedBootstrap: expected an integer of replicates ≥ 2, got ${B}`);
  }
  const design = options.design ?? chooseDesign(pairs);
  // Two groups of metrics, each resampled over its own images: all test images, attacked ones.
  const groups = [
    metrics.filter((m) => !ATTACK_METRICS.includes(m)),
    metrics.filter((m) => ATTACK_METRICS.includes(m)),
  ].map((names) => metricGroup(pairs, names, design, B));
  const state = new Int32Array([options.seed ?? BOOTSTRAP_SEED]);
  const picked = new Int32Array(S);
  const seen = new Uint8Array(S);
  for (let r = 0; r < B; r++) {
    drawIndices(state, picked, S, S);
    for (const g of groups) g.total.fill(0);
    if (design === "crossed") {
      seen.fill(0);
      for (const g of groups) drawIndices(state, g.idx, g.counts[0], g.counts[0]);
      for (let k = 0; k < S; k++) {
        const s = picked[k];
        for (const g of groups) {
          // A seed drawn twice has the same sums over the same images: computed once.
          if (!seen[s]) groupSums(g, s, g.sums[s]);
          for (let m = 0; m < g.M; m++) g.total[m] += g.sums[s][m] / g.counts[0];
        }
        seen[s] = 1;
      }
    } else {
      for (let k = 0; k < S; k++) {
        const s = picked[k];
        for (const g of groups) {
          const n = g.counts[s];
          drawIndices(state, g.idx, n, n);
          groupSums(g, s, g.sums[0]);
          for (let m = 0; m < g.M; m++) g.total[m] += g.sums[0][m] / n;
        }
      }
    }
    for (const g of groups) for (let m = 0; m < g.M; m++) g.reps[m][r] = g.total[m] / S;
  }

  const result: BootstrapResult = { design, replicates: B, images: {}, metrics: {} };
  for (const g of groups) {
    g.names.forEach((name, m) => {
      let d = 0;
      for (let s = 0; s < S; s++) d += mean(pairs[s].diffs[name]);
      const rep = g.reps[m];
      const mu = mean(rep);
      let ss = 0;
      for (let r = 0; r < B; r++) ss += (rep[r] - mu) ** 2;
      const sorted = rep.slice().sort();
      result.images[name] = [...g.counts];
      result.metrics[name] = {
        mean: d / S,
        ci95: [quantileSorted(sorted, 0.025), quantileSorted(sorted, 0.975)],
        std: Math.sqrt(ss / (B - 1)),
      };
    });
  }
  return result;
}
