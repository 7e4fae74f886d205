/**
 * A study's compute plan from its own cells: per model, the training rate, the per-epoch metrics'
 * time and the final evaluation's time as its measured cells ran them (each cell's
 * `ckpt/<model>/meta.json` history, and its log's "wrote … in T" line), then every cell of the
 * grid priced with them. What it prints goes into the experiment file's comment, so the plan is
 * computed, not typed.
 *
 *   deno run -A bench/study_plan.ts docs/results/study/fashion-mnist-reference [--jobs 2]
 *
 * A cell = epochs × size / rate + curve epochs × their metrics + the other epochs × validation
 * alone + final eval (a spec's `curveEvery`/`curveEveryFor`: the test, perturbed and rotated
 * curves every N epochs and at the last, validation every epoch). An epoch's metrics are
 * measured as cells ran them; validation alone, until a cell has run such an epoch, is
 * estimated as a quarter of a curve epoch's (one of its four equal 1000-image passes). Models
 * with no measured cell yet are listed as such and left out of the totals, which then say so.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  cellArch,
  cellCurveEvery,
  cellEpochs,
  type ExperimentSpec,
  isTrained,
  validateSpec,
} from "../lib/experiment/spec.ts";
import type { Cell } from "../lib/experiment/spec.ts";
import { runMain, UsageError } from "../scripts/cli.ts";

interface Epoch {
  epoch: number;
  seconds: number;
  evalSeconds: number;
  imgPerSec: number;
  /** Present on curve epochs only (train's curveEvery). */
  testAcc?: number;
}

/** What one model's measured cells say. */
export interface ModelRates {
  /** Training images per second, epochs 2 on (the first warms up). */
  rate: number;
  /** Seconds of a curve epoch's metrics (validation, test, perturbed and rotated sets). */
  epochEval: number;
  /** Seconds of an epoch's validation alone; `valEstimated` when no cell has run one yet. */
  valEval: number;
  valEstimated: boolean;
  /** Seconds of the final evaluation, +tta included where the grid asks for it. */
  finalEval?: number;
  /** Epochs and cells measured. */
  epochs: number;
  cells: string[];
}

/** Seconds of a log's "wrote N files to … in 1h2m3s" line (the final evaluation), if any. */
export function evalSeconds(log: string): number | undefined {
  const m = [...log.matchAll(/wrote \d+ files to .* in ((?:\d+h)?(?:\d+m)?(?:[\d.]+s)?)\s*:/g)]
    .at(-1);
  if (!m) return undefined;
  const part = (unit: string) => Number(m[1].match(new RegExp(`([\\d.]+)${unit}`))?.[1] ?? 0);
  return part("h") * 3600 + part("m") * 60 + part("s");
}

/** Formats seconds as "1h02m" / "12m" / "40s". */
export function duration(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m}m` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** A JSON file's value, or undefined when it is missing or not JSON. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return undefined;
  }
}

/**
 * A cell's per-epoch history: `ckpt/<model>/metrics.jsonl` (one JSON row per epoch, committed
 * with the cell), else the checkpoint's meta.json; empty when the cell has not trained an epoch.
 */
export async function epochHistory<T = Epoch>(dir: string, cell: Cell): Promise<T[]> {
  const ckpt = `${dir}/${cell.id}/ckpt/${cellArch(cell)}`;
  const lines = await Deno.readTextFile(`${ckpt}/metrics.jsonl`).catch(() => undefined);
  if (lines !== undefined) {
    return lines.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
  }
  return (await readJson<{ history?: T[] }>(`${ckpt}/meta.json`))?.history ?? [];
}

/** Each grid model's rates from the cells under `dir` that have a checkpoint. */
export async function measuredRates(
  dir: string,
  cells: Cell[],
): Promise<Map<string, ModelRates>> {
  const totals = new Map<
    string,
    {
      images: number;
      seconds: number;
      evals: number;
      curveEpochs: number;
      vals: number;
      valEpochs: number;
      epochs: number;
      finals: number[];
      cells: string[];
    }
  >();
  for (const cell of cells.filter(isTrained)) {
    const later = (await epochHistory(dir, cell)).filter((e) => e.epoch >= 2);
    if (!later.length) continue;
    const t = totals.get(cell.model) ??
      {
        images: 0,
        seconds: 0,
        evals: 0,
        curveEpochs: 0,
        vals: 0,
        valEpochs: 0,
        epochs: 0,
        finals: [],
        cells: [],
      };
    for (const e of later) {
      t.images += e.imgPerSec * e.seconds;
      t.seconds += e.seconds;
      if (e.testAcc === undefined) (t.vals += e.evalSeconds, t.valEpochs++);
      else (t.evals += e.evalSeconds, t.curveEpochs++);
      t.epochs++;
    }
    t.cells.push(cell.id);
    const log = await Deno.readTextFile(`${dir}/${cell.id}/log.txt`).catch(() => "");
    const final = evalSeconds(log);
    if (final !== undefined) t.finals.push(final);
    totals.set(cell.model, t);
  }
  return new Map(
    [...totals].map(([model, t]) => [model, {
      rate: t.images / t.seconds,
      epochEval: t.evals / t.curveEpochs,
      valEval: t.valEpochs ? t.vals / t.valEpochs : t.evals / t.curveEpochs / 4,
      valEstimated: t.valEpochs === 0,
      ...(t.finals.length ? { finalEval: t.finals.reduce((a, b) => a + b) / t.finals.length } : {}),
      epochs: t.epochs,
      cells: t.cells,
    }]),
  );
}

/** A cell's curve epochs: every `curveEvery`-th and the last. */
export function curveEpochs(epochs: number, every: number): number {
  return Math.floor(epochs / every) + (epochs % every ? 1 : 0);
}

/** Seconds a cell takes at these rates: training, per-epoch metrics and final eval. */
export function cellSeconds(spec: ExperimentSpec, cell: Cell, r: ModelRates): number {
  const epochs = cellEpochs(spec, cell);
  const curves = curveEpochs(epochs, cellCurveEvery(spec, cell));
  return epochs * cell.size / r.rate + curves * r.epochEval + (epochs - curves) * r.valEval +
    (r.finalEval ?? 0);
}

/** The plan as comment lines for the experiment file. */
export function planLines(
  spec: ExperimentSpec,
  cells: Cell[],
  rates: Map<string, ModelRates>,
  jobs: number,
) {
  const lines: string[] = [];
  const trained = cells.filter(isTrained);
  const models = [...new Set(trained.map((c) => c.model))];
  lines.push(
    "measured (train img/s from epoch 2 on; metrics of a curve epoch and of validation alone; " +
      "final eval, +tta included):",
  );
  for (const m of models) {
    const r = rates.get(m);
    lines.push(
      r
        ? `  ${m.padEnd(16)} ${r.rate.toFixed(1).padStart(6)} img/s, metrics ${
          r.epochEval.toFixed(1)
        } s/epoch (validation alone ${r.valEval.toFixed(1)} s${
          r.valEstimated ? ", estimated" : ""
        }), final eval ${
          r.finalEval === undefined ? "not yet measured" : duration(r.finalEval)
        } (${r.epochs} epochs of ${r.cells.join(", ")})`
        : `  ${m.padEnd(16)} not measured yet`,
    );
  }
  lines.push("planned (one thread per job):");
  let total = 0, missing = 0;
  const sizes = [...new Set(trained.map((c) => c.size))];
  for (const m of models) {
    const r = rates.get(m);
    for (const size of sizes) {
      const these = trained.filter((c) => c.model === m && c.size === size);
      if (!these.length) continue;
      if (!r) {
        missing += these.length;
        continue;
      }
      const each = cellSeconds(spec, these[0], r);
      total += each * these.length;
      lines.push(
        `  ${m.padEnd(16)} n=${String(size).padEnd(6)} ${
          String(cellEpochs(spec, these[0])).padStart(3)
        } ep (curves every ${cellCurveEvery(spec, these[0])}) × ${these.length} seeds: ${
          duration(each).padStart(6)
        } each${r.finalEval === undefined ? " + final eval (not yet measured)" : ""}`,
      );
    }
  }
  lines.push(
    `  total ${duration(total)} of cell time = ${duration(total / jobs)} wall at --jobs ${jobs}${
      missing ? `, plus ${missing} cells of models not measured yet` : ""
    }`,
  );
  return lines;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { jobs: { type: "string", default: "2" } },
  });
  const dir = positionals[0];
  if (!dir) throw new UsageError("usage: deno run -A bench/study_plan.ts DIR [--jobs N]");
  const saved = await readJson<{ spec: unknown; cells: Cell[] }>(`${dir}/experiment.json`);
  if (!saved) throw new Error(`${dir}/experiment.json not found: expected an experiment directory`);
  // Through the schema: settings added since the directory was made take their defaults.
  const spec = validateSpec(saved.spec, `${dir}/experiment.json`);
  const rates = await measuredRates(dir, saved.cells);
  for (const line of planLines(spec, saved.cells, rates, Number(values.jobs))) {
    console.log(`# ${line}`);
  }
  return 0;
}

if (import.meta.main) await runMain(main);
