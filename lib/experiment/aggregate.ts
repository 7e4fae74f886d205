/**
 * `experiment aggregate`: reads only the cell directories (`<cell>/done.json` and
 * `<cell>/eval/report.json`), so it works the same after a local or a Slurm run, and writes
 * `summary.json`, `summary.md` and SVG figures.
 *
 * - `metrics[model][metric] = {values, mean, std, ci95: [lo, hi], n}` over seeds, for the main
 *   setting (the largest training-set size, the first augmentation); `model` is any grid
 *   model, variants included (`baseline+rotaug`, `<model>+tta`: a `+tta` cell's numbers are
 *   its base cell's report entry `<arch>+tta`);
 * - `differences[model][metric] = {mean, ci95: [lo, hi], n, values, tInterval, images, method}`:
 *   model − baseline paired by seed (same seed, size and augmentation); `ci95` is the paired
 *   bootstrap over seeds × test images (lib/experiment/bootstrap.ts) when every cell of the pairs
 *   has `eval/outcomes.json`, else the t-interval over the n paired differences, which is always
 *   kept as `tInterval`; `method` says which;
 * - `settings[]`: the same two tables for every (size, augmentation) of the grid;
 * - `dataEfficiency[]`: accuracy vs training-set size (clean, rotated, adversarial) with CIs,
 *   every model at every size it has (`sizesFor`);
 * - `claims[]`: each of the paper's claims with its measured difference and a verdict, for
 *   every model and variant against baseline.
 *
 * A cell's outcomes.json is checked against its report.json (each metric's per-image mean
 * within 1e-6 of the report's number), so the bootstrap resamples exactly what was reported.
 *
 * {@linkcode compareSummary} re-aggregates a directory's cells and compares the result with
 * the summary.json already there (what a committed study is checked with).
 *
 * @module
 */
import { type Outcomes, OUTCOMES_FILE, readOutcomes } from "../eval/outcomes.ts";
import { renderSvg, writeFigure } from "../eval/plots.ts";
import {
  BOOTSTRAP_REPLICATES,
  type BootstrapPair,
  type BootstrapResult,
  type Design,
  mean,
  pairDifferences,
  pairedBootstrap,
  type PerImage,
  perImageMetrics,
} from "./bootstrap.ts";
import { cellPaths } from "./cell.ts";
import {
  type Cell,
  expandCells,
  type ExperimentSpec,
  gridSizes,
  reportName,
  sizeLabel,
  validateSpec,
} from "./spec.ts";
import { summarize, type Summary, type Verdict, verdict } from "./stats.ts";

/** The per-cell numbers taken from eval's report (fractions in [0, 1]). */
export const METRICS = {
  clean: "clean top-1 accuracy",
  top5: "clean top-5 accuracy",
  perturbed: "accuracy on perturbed images (training-time shift + noise)",
  randomRotation: "accuracy on randomly rotated images (Fig. 3)",
  zoom: "mean accuracy over the zoom factors other than 1",
  attackedClean: "clean top-1 accuracy of the attacked images (the first advImages test images)",
  fgsm: "FGSM accuracy at the sweep's largest ε",
  pgd: "PGD accuracy at the sweep's largest ε",
  rotationInvariance: "mean rotation invariance 1 − JSD over non-zero angles",
} as const;
/** A metric name (a key of {@linkcode METRICS}). */
export type MetricName = keyof typeof METRICS;

/** The paper's claims, each tested on one metric's model − baseline difference. */
export const CLAIMS: { id: string; claim: string; metric: MetricName; smallest?: boolean }[] = [
  { id: "generalisation", claim: "better learning and generalisation (Fig. 2)", metric: "clean" },
  { id: "perturbed", claim: "more accurate on perturbed data", metric: "perturbed" },
  { id: "rotation", claim: "robust to random rotations (Fig. 3)", metric: "randomRotation" },
  { id: "scale", claim: "robust to changes of scale", metric: "zoom" },
  { id: "adversarial", claim: "more robust to adversarial attacks (PGD)", metric: "pgd" },
  {
    id: "limited-data",
    claim: "better use of limited training data (smallest training set)",
    metric: "clean",
    smallest: true,
  },
];

/**
 * A claim read in one setting (size × augmentation): the model − baseline difference of its
 * metric there, its intervals, and the verdict computed from the bootstrap interval.
 */
export function claimAt(
  c: (typeof CLAIMS)[number],
  model: string,
  setting: SettingSummary,
): ClaimRow {
  const d = setting.differences[model]?.[c.metric];
  return {
    id: c.id,
    claim: c.claim,
    model,
    metric: c.metric,
    size: setting.size,
    augment: setting.augment,
    difference: d?.mean ?? null,
    ci95: d?.ci95 ?? null,
    tInterval: d?.tInterval ?? null,
    method: d?.method ?? null,
    n: d?.n ?? 0,
    verdict: verdict(d?.ci95 ?? null, d?.n ?? 0),
  };
}

type Row = Record<string, number>;
interface ModelReport {
  clean: { top1: number; top5: number };
  perturbed: number;
  randomRotation: { acc: number };
  zoom: Row[];
  fgsm: Row[];
  pgd: Row[];
  invariance: { rotation: number };
  /** Absent in reports written before it was measured. */
  attackedClean?: number;
}

/** The metrics of one model in one eval report.json. */
export function cellMetrics(r: ModelReport): Record<MetricName, number> {
  const zooms = r.zoom.filter((z) => z.factor !== 1);
  return {
    clean: r.clean.top1,
    top5: r.clean.top5,
    perturbed: r.perturbed,
    randomRotation: r.randomRotation.acc,
    zoom: zooms.reduce((s, z) => s + z.acc, 0) / Math.max(zooms.length, 1),
    attackedClean: r.attackedClean ?? NaN,
    fgsm: r.fgsm.at(-1)?.acc ?? NaN,
    pgd: r.pgd.at(-1)?.acc ?? NaN,
    rotationInvariance: r.invariance.rotation,
  };
}

/** How a difference's `ci95` was computed when a cell of its pairs has no per-image outcomes. */
export const T_INTERVAL_METHOD = "t-interval over seed pairs";

/** The `method` of a bootstrapped difference. */
export function bootstrapMethod(design: Design, replicates = BOOTSTRAP_REPLICATES): string {
  return `paired bootstrap over seeds × test images (${design}, B = ${replicates})`;
}

/** A model − baseline difference over seed pairs. */
export interface Difference {
  /** Mean of `values`. */
  mean: number;
  /** The 95% interval that the verdict uses: see `method`. */
  ci95: [number, number] | null;
  /** Seed pairs. */
  n: number;
  /** The per-pair differences, in seed order. */
  values: number[];
  /** The Student-t interval over the n per-pair differences (null below two pairs). */
  tInterval: [number, number] | null;
  /** Images each pair was measured on (the attacked ones for attack metrics); null without outcomes. */
  images: number[] | null;
  /** {@linkcode bootstrapMethod} or {@linkcode T_INTERVAL_METHOD}. */
  method: string;
}

/** Metrics and differences of one (size, augmentation). */
export interface SettingSummary {
  size: number;
  augment: string;
  metrics: Record<string, Record<string, Summary>>;
  differences: Record<string, Record<string, Difference>>;
}

/** One claim's row. */
export interface ClaimRow {
  id: string;
  claim: string;
  model: string;
  metric: MetricName;
  size: number;
  augment: string;
  difference: number | null;
  ci95: [number, number] | null;
  /** The t-interval over seed pairs, beside `ci95` for comparison. */
  tInterval: [number, number] | null;
  /** How `ci95` was computed (null: no pair). */
  method: string | null;
  n: number;
  verdict: Verdict;
}

/**
 * What made the numbers, from the `provenance` of the done cells' eval reports: the distinct
 * commits, whether any tree had uncommitted changes, the backends and oneDNN versions (null:
 * no native path). Empty lists when the reports record none.
 */
export interface SummaryProvenance {
  commits: string[];
  dirty: boolean;
  backends: string[];
  onednn: (string | null)[];
}

/** What `summary.json` holds. */
export interface ExperimentSummary {
  name: string;
  dataset: string;
  generatedAt: string;
  cells: { total: number; done: number; missing: string[] };
  provenance: SummaryProvenance;
  definitions: typeof METRICS;
  main: { size: number; augment: string };
  metrics: SettingSummary["metrics"];
  differences: SettingSummary["differences"];
  settings: SettingSummary[];
  dataEfficiency: {
    model: string;
    augment: string;
    size: number;
    metric: string;
    mean: number;
    ci95: [number, number] | null;
    n: number;
  }[];
  claims: ClaimRow[];
}

/** A cell's per-image values (lib/experiment/bootstrap.ts) and the test set they were measured on. */
export interface CellOutcomes {
  testSet: string;
  values: PerImage;
  /** The outcomes.json they were read from. */
  path: string;
}

/** Largest |per-image mean − report value| accepted (float32 scores round at ~1e-7). */
const OUTCOMES_TOLERANCE = 1e-6;

/**
 * The metrics of every done cell (cells without a done marker are listed as missing), and its
 * per-image values where its eval wrote outcomes.json; a `+tta` cell is read from the report
 * and outcomes of the cell that evaluated it. Throws a one-line error when a cell's per-image
 * mean of a metric is not its report's number.
 */
export async function readCells(
  out: string,
  cells: Cell[],
): Promise<
  {
    values: Map<string, Record<MetricName, number>>;
    outcomes: Map<string, CellOutcomes>;
    missing: string[];
    provenance: SummaryProvenance;
  }
> {
  const values = new Map<string, Record<MetricName, number>>();
  const outcomes = new Map<string, CellOutcomes>();
  const files = new Map<string, Promise<Outcomes | undefined>>();
  const missing: string[] = [];
  const provenance: SummaryProvenance = { commits: [], dirty: false, backends: [], onednn: [] };
  const add = <T>(list: T[], v: T) => {
    if (!list.includes(v)) list.push(v);
  };
  for (const cell of cells) {
    const paths = cellPaths(out, { id: cell.evaluatedIn ?? cell.id });
    try {
      await Deno.stat(paths.done);
    } catch {
      missing.push(cell.id);
      continue;
    }
    const path = `${paths.evalDir}/report.json`;
    let report: {
      results: Record<string, ModelReport>;
      provenance?: {
        commit: string | null;
        dirty: boolean | null;
        backend: string;
        onednn: string | null;
      };
    };
    try {
      report = JSON.parse(await Deno.readTextFile(path));
    } catch (e) {
      throw new Error(`${path}: cannot read the cell's eval report (${(e as Error).message})`);
    }
    const name = reportName(cell);
    const r = report.results?.[name];
    if (!r) throw new Error(`${path}: no results for model "${name}" (cell ${cell.id})`);
    const metrics = cellMetrics(r);
    values.set(cell.id, metrics);
    // A base cell's outcomes serve its +tta cells too: read each file once.
    const oPath = `${paths.evalDir}/${OUTCOMES_FILE}`;
    if (!files.has(oPath)) files.set(oPath, readOutcomes(paths.evalDir));
    const o = await files.get(oPath)!;
    if (o) {
      const per = perImageMetrics(o, name, oPath);
      for (const [metric, v] of Object.entries(per)) {
        const reported = metrics[metric as MetricName];
        const measured = mean(v);
        if (!(Math.abs(measured - reported) <= OUTCOMES_TOLERANCE)) {
          throw new Error(
            `cell ${cell.id}: ${metric}: per-image mean ${measured} in ${oPath} ≠ ${reported} in ${path}`,
          );
        }
      }
      outcomes.set(cell.id, { testSet: o.testSet, values: per, path: oPath });
    }
    const p = report.provenance;
    if (p) {
      if (p.commit) add(provenance.commits, p.commit);
      provenance.dirty ||= p.dirty === true;
      add(provenance.backends, p.backend);
      add(provenance.onednn, p.onednn);
    }
  }
  return { values, outcomes, missing, provenance };
}

/**
 * The paired bootstrap of every metric that all pairs have per image, or undefined when a cell
 * of the pairs has no outcomes. Throws when a pair's two cells measured different test images.
 */
function bootstrapPairs(
  pairs: { model: Cell; base: Cell }[],
  outcomes: Map<string, CellOutcomes>,
): BootstrapResult | undefined {
  const both = pairs.map((p) => [outcomes.get(p.model.id), outcomes.get(p.base.id)]);
  if (!both.every(([x, b]) => x && b)) return undefined;
  const input: BootstrapPair[] = both.map(([x, b], i) => {
    if (x!.testSet !== b!.testSet) {
      throw new Error(
        `cells ${pairs[i].model.id} and ${
          pairs[i].base.id
        }: measured different test images (testSet ${x!.testSet.slice(0, 12)}… in ${x!.path}, ${
          b!.testSet.slice(0, 12)
        }… in ${b!.path}), so they cannot be paired`,
      );
    }
    try {
      return { testSet: x!.testSet, diffs: pairDifferences(x!.values, b!.values) };
    } catch (e) {
      throw new Error(
        `cells ${pairs[i].model.id} and ${pairs[i].base.id}: ${(e as Error).message}`,
      );
    }
  });
  const metrics = (Object.keys(METRICS) as MetricName[]).filter((m) =>
    input.every((p) => m in p.diffs)
  );
  if (!metrics.length) return undefined;
  try {
    return pairedBootstrap(input, metrics);
  } catch (e) {
    const ids = pairs.map((p) => `${p.model.id}/${p.base.id}`).join(", ");
    throw new Error(`cells ${ids}: ${(e as Error).message}`);
  }
}

function settingSummary(
  spec: ExperimentSpec,
  cells: Cell[],
  values: Map<string, Record<MetricName, number>>,
  outcomes: Map<string, CellOutcomes>,
  size: number,
  augment: string,
): SettingSummary {
  const here = cells.filter((c) => c.size === size && c.augment === augment);
  const metrics: SettingSummary["metrics"] = {};
  const differences: SettingSummary["differences"] = {};
  const names = Object.keys(METRICS) as MetricName[];
  for (const model of spec.models) {
    const mine = here.filter((c) => c.model === model && values.has(c.id));
    if (!mine.length) continue;
    metrics[model] = Object.fromEntries(
      names.map((m) => [m, summarize(mine.map((c) => values.get(c.id)![m]))]),
    );
    if (model === "baseline" || !spec.models.includes("baseline")) continue;
    // Pairs: the same seed trained both models on the same subset and augmentation.
    const pairs = mine.flatMap((c) => {
      const b = here.find((x) => x.model === "baseline" && x.seed === c.seed);
      return b && values.has(b.id) ? [{ model: c, base: b }] : [];
    });
    if (!pairs.length) continue;
    const boot = bootstrapPairs(pairs, outcomes);
    differences[model] = Object.fromEntries(names.map((m): [string, Difference] => {
      const d = pairs.map((p) => values.get(p.model.id)![m] - values.get(p.base.id)![m]);
      const t = summarize(d);
      const b = boot?.metrics[m];
      return [m, {
        mean: t.mean,
        ci95: b ? b.ci95 : t.ci95,
        n: t.n,
        values: d,
        tInterval: t.ci95,
        images: b ? boot!.images[m] : null,
        method: b ? bootstrapMethod(boot!.design, boot!.replicates) : T_INTERVAL_METHOD,
      }];
    }));
  }
  return { size, augment, metrics, differences };
}

/**
 * Aggregates the done cells of an experiment.
 *
 * @example
 * ```ts ignore
 * // not run: needs a finished run of the grid
 * const summary = await aggregate(spec, expandCells(spec), "runs/smoke");
 * summary.metrics.symmetric.clean.ci95; // [lo, hi]
 * ```
 */
export async function aggregate(
  spec: ExperimentSpec,
  cells: Cell[],
  out: string,
): Promise<ExperimentSummary> {
  const { values, outcomes, missing, provenance } = await readCells(out, cells);
  if (!values.size) {
    throw new Error(`${out}: no finished cell (no <cell>/done.json) to aggregate`);
  }
  const sizes = gridSizes(spec);
  const settings = spec.augmentations.flatMap((augment) =>
    sizes.map((size) => settingSummary(spec, cells, values, outcomes, size, augment))
  );
  // validateSpec keeps sizes all counts or all fractions, so they sort as numbers.
  const bySize = [...sizes].sort((a, b) => a - b);
  const main = { size: bySize.at(-1)!, augment: spec.augmentations[0] };
  const mainSetting = settings.find((s) => s.size === main.size && s.augment === main.augment)!;
  const dataEfficiency: ExperimentSummary["dataEfficiency"] = [];
  for (const s of settings) {
    for (const [model, m] of Object.entries(s.metrics)) {
      for (const metric of ["clean", "randomRotation", "pgd"] as const) {
        const v = m[metric];
        dataEfficiency.push({
          model,
          augment: s.augment,
          size: s.size,
          metric,
          mean: v.mean,
          ci95: v.ci95,
          n: v.n,
        });
      }
    }
  }
  const claims: ClaimRow[] = [];
  for (const model of spec.models.filter((m) => m !== "baseline")) {
    for (const c of CLAIMS) {
      if (c.smallest && sizes.length < 2) continue;
      const size = c.smallest ? bySize[0] : main.size;
      const setting = settings.find((s) => s.size === size && s.augment === main.augment)!;
      claims.push(claimAt(c, model, setting));
    }
  }
  return {
    name: spec.name,
    dataset: spec.dataset,
    generatedAt: new Date().toISOString(),
    cells: { total: cells.length, done: values.size, missing },
    provenance,
    definitions: METRICS,
    main,
    metrics: mainSetting.metrics,
    differences: mainSetting.differences,
    settings,
    dataEfficiency,
    claims,
  };
}

// null and NaN (a metric an old report lacks; null once through JSON) print as "–".
const known = (v: number | null | undefined): v is number => v != null && !Number.isNaN(v);
const pct = (v: number | null | undefined) => known(v) ? `${(100 * v).toFixed(1)}%` : "–";
const pts = (v: number | null | undefined) =>
  known(v) ? `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)}` : "–";
const ci = (c: [number, number] | null, f: (v: number) => string) =>
  c ? `[${f(c[0])}, ${f(c[1])}]` : "n < 2";

/**
 * The sentence saying how the differences' intervals were computed, from their `method`s (so
 * a partly re-evaluated study says which intervals are which).
 */
function intervalSentence(s: ExperimentSummary): string {
  const counts = new Map<string, number>();
  for (const setting of s.settings) {
    for (const d of Object.values(setting.differences)) {
      for (const m of Object.values(d)) counts.set(m.method, (counts.get(m.method) ?? 0) + 1);
    }
  }
  if (!counts.size) return "";
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const each = [...counts].map(([method, n]) =>
    counts.size === 1 ? `a ${method}` : `a ${method} for ${n} of ${total}`
  ).join(", ");
  const methods = [...counts.keys()];
  const designs = {
    crossed:
      "crossed: one draw of images shared by every seed, as all cells measured the same test set",
    nested: "nested: independent draws per seed, as the cells' test sets differ",
  };
  const used = (Object.keys(designs) as Design[]).filter((d) =>
    methods.includes(bootstrapMethod(d))
  );
  const boot = used.length
    ? ` The bootstrap resamples the seed pairs and, within them, the test images (paired: the same images for model and baseline; ${
      used.map((d) => designs[d]).join("; ")
    }) and takes the 2.5% and 97.5% percentiles; the t-interval over seed pairs is shown beside it.`
    : "";
  const t = !methods.includes(T_INTERVAL_METHOD)
    ? ""
    : used.length
    ? ` The ${T_INTERVAL_METHOD} is used where a cell has no per-image outcomes (eval/${OUTCOMES_FILE}).`
    : ` No cell has per-image outcomes (eval/${OUTCOMES_FILE}), so there is no bootstrap over test images.`;
  return ` Their 95% intervals come from ${each}.${boot}${t}`;
}

function provenanceLine(p: SummaryProvenance | undefined): string {
  if (!p?.backends.length) return "";
  const onednn = p.onednn.map((v) => v ? `oneDNN ${v}` : "no oneDNN").join(" / ");
  return `Evaluated at commit ${p.commits.map((c) => c.slice(0, 12)).join(", ") || "unknown"}${
    p.dirty ? " with uncommitted changes" : ""
  }, backend ${p.backends.join(", ")}, ${onednn}.`;
}

/** The Markdown summary: claims table, then metrics and differences of every setting. */
export function summaryMarkdown(s: ExperimentSummary, figures: string[]): string {
  const provenance = provenanceLine(s.provenance);
  const lines = [
    `# Experiment ${s.name} (${s.dataset})`,
    "",
    `${s.cells.done} of ${s.cells.total} cells finished${
      s.cells.missing.length ? ` (missing: ${s.cells.missing.join(", ")})` : ""
    }.${
      provenance ? ` ${provenance}` : ""
    } Means over seeds with 95% t-intervals; differences are paired by seed (same training subset and augmentation) against baseline, in percentage points.${
      intervalSentence(s)
    } A claim *holds* when its whole 95% CI is above 0, *does not hold* when below, and is *inconclusive* when it contains 0 or n < 2 seed pairs.`,
    "",
    "## Claims",
    "",
    "| claim | model | metric | setting | difference (pts) | 95% CI | t-interval | method | n | verdict |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...s.claims.map((c) =>
      `| ${c.claim} | ${c.model} | ${c.metric} | ${sizeLabel(c.size)} ${c.augment} | ${
        pts(c.difference)
      } | ${ci(c.ci95, pts)} | ${ci(c.tInterval, pts)} | ${
        c.method ?? "–"
      } | ${c.n} | ${c.verdict} |`
    ),
  ];
  for (const setting of s.settings) {
    lines.push("", `## Size ${sizeLabel(setting.size)}, augmentation ${setting.augment}`, "");
    const models = Object.keys(setting.metrics);
    lines.push(
      `| metric | ${models.map((m) => `${m} mean ± std [95% CI] (n)`).join(" | ")} |`,
      `| --- | ${models.map(() => "---").join(" | ")} |`,
    );
    for (const metric of Object.keys(METRICS) as MetricName[]) {
      lines.push(
        `| ${metric} | ${
          models.map((m) => {
            const v = setting.metrics[m][metric];
            return `${pct(v.mean)} ± ${known(v.std) ? (100 * v.std).toFixed(1) : "–"} ${
              ci(v.ci95, pct)
            } (${v.n})`;
          }).join(" | ")
        } |`,
      );
    }
    for (const [model, d] of Object.entries(setting.differences)) {
      const methods = [...new Set(Object.values(d).map((x) => x.method))];
      lines.push(
        "",
        `${model} − baseline: ${
          (Object.keys(METRICS) as MetricName[]).map((m) =>
            `${m} ${pts(d[m].mean)} ${ci(d[m].ci95, pts)}`
          ).join("; ")
        } (n = ${Object.values(d)[0].n} seed pairs; ${methods.join(" / ")}).`,
      );
    }
  }
  lines.push("", "## Definitions", "");
  for (const [k, v] of Object.entries(s.definitions)) lines.push(`- **${k}**: ${v}`);
  if (figures.length) {
    lines.push("", "## Figures", "", ...figures.map((f) => `![${f}](${f})`));
  }
  return lines.join("\n") + "\n";
}

/** Figures: metrics with CI error bars (main setting), and the data-efficiency curve. */
export async function summaryFigures(s: ExperimentSummary): Promise<Record<string, string>> {
  const bars = Object.entries(s.metrics).flatMap(([model, m]) =>
    (["clean", "perturbed", "randomRotation", "zoom", "pgd"] as const).map((metric) => ({
      model,
      metric,
      mean: m[metric].mean,
      lo: m[metric].ci95?.[0] ?? m[metric].mean,
      hi: m[metric].ci95?.[1] ?? m[metric].mean,
    }))
  );
  const figures: Record<string, string> = {};
  figures["metrics.svg"] = await renderSvg({
    title: `${s.name}: mean over seeds with 95% CI (${sizeLabel(s.main.size)}, ${s.main.augment})`,
    width: 420,
    height: 240,
    data: { values: bars },
    encoding: {
      x: { field: "metric", type: "nominal", title: null },
      xOffset: { field: "model" },
      color: { field: "model", type: "nominal" },
    },
    layer: [
      {
        mark: "bar",
        encoding: {
          y: { field: "mean", type: "quantitative", scale: { domain: [0, 1] }, title: "accuracy" },
        },
      },
      {
        mark: { type: "rule", color: "black" },
        encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } },
      },
    ],
  });
  const sizes = new Set(s.dataEfficiency.map((d) => d.size));
  if (sizes.size > 1) {
    const values = s.dataEfficiency.filter((d) => d.augment === s.main.augment).map((d) => ({
      ...d,
      lo: d.ci95?.[0] ?? d.mean,
      hi: d.ci95?.[1] ?? d.mean,
    }));
    // One panel per metric, one line per model at the sizes it has: with seven models a
    // line per (model, metric) in one panel could not be read.
    figures["data-efficiency.svg"] = await renderSvg({
      title: `${s.name}: accuracy vs training-set size (95% CI bands)`,
      data: { values },
      facet: { column: { field: "metric", type: "nominal", title: null } },
      spec: {
        width: 260,
        height: 220,
        encoding: {
          x: {
            field: "size",
            type: "quantitative",
            scale: { type: "log" },
            title: "training images",
          },
          color: { field: "model", type: "nominal" },
        },
        layer: [
          {
            mark: { type: "area", opacity: 0.15 },
            encoding: {
              y: {
                field: "lo",
                type: "quantitative",
                scale: { domain: [0, 1] },
                title: "accuracy",
              },
              y2: { field: "hi" },
            },
          },
          {
            mark: { type: "line", point: true },
            encoding: { y: { field: "mean", type: "quantitative" } },
          },
        ],
      },
    });
  }
  return figures;
}

/**
 * Aggregates and writes summary.json, summary.md and the figures (SVG, and PNG rendered from
 * the same SVG by lib/eval/plots.ts) into `out`.
 */
export async function writeSummary(
  spec: ExperimentSpec,
  cells: Cell[],
  out: string,
): Promise<{ summary: ExperimentSummary; files: string[] }> {
  const summary = await aggregate(spec, cells, out);
  const figures = await summaryFigures(summary);
  const written: string[] = [];
  for (const [name, svg] of Object.entries(figures)) {
    written.push(...await writeFigure(out, name, svg));
  }
  await Deno.writeTextFile(`${out}/summary.json`, JSON.stringify(summary, null, 2) + "\n");
  await Deno.writeTextFile(`${out}/summary.md`, summaryMarkdown(summary, Object.keys(figures)));
  return { summary, files: ["summary.json", "summary.md", ...written] };
}

/** What {@linkcode compareSummary} found. */
export interface SummaryComparison {
  /** The re-aggregated summary. */
  summary: ExperimentSummary;
  /** `path: committed ≠ recomputed` for each differing value (empty when they agree). */
  mismatches: string[];
}

/**
 * Re-aggregates the cells of an experiment directory (its `experiment.json`, `<cell>/done.json`
 * and `<cell>/eval/report.json`, no checkpoint needed) and compares every value of the result
 * with the directory's `summary.json`, except `generatedAt`. Numbers must agree within `tol`
 * (default 0: aggregation is deterministic and JSON keeps doubles exactly).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const { mismatches } = await compareSummary("docs/results/study/fashion-mnist-tiny");
 * assert.deepEqual(mismatches, []);
 * ```
 */
export async function compareSummary(dir: string, tol = 0): Promise<SummaryComparison> {
  const read = async (file: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(`${dir}/${file}`));
    } catch (e) {
      throw new Error(`${dir}/${file}: cannot read (${(e as Error).message})`);
    }
  };
  const saved = await read("experiment.json");
  const spec = validateSpec(saved.spec, `${dir}/experiment.json`);
  const committed = await read("summary.json");
  const summary = await aggregate(spec, expandCells(spec), dir);
  const fresh = JSON.parse(JSON.stringify(summary));
  const mismatches: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (path === "generatedAt" || mismatches.length >= 20) return;
    if (typeof a === "number" && typeof b === "number") {
      if (!(Math.abs(a - b) <= tol)) mismatches.push(`${path}: ${a} ≠ ${b}`);
      return;
    }
    if (a && b && typeof a === "object" && typeof b === "object") {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys) {
        const p = Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
        if (!(k in a) || !(k in b)) {
          mismatches.push(`${p}: ${k in a ? "only in summary.json" : "not in summary.json"}`);
        } else walk((a as never)[k], (b as never)[k], p);
      }
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      mismatches.push(`${path}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`);
    }
  };
  walk(committed, fresh, "");
  return { summary, mismatches };
}
