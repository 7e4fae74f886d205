/**
 * Whether a study's training had converged: per training-set size, the validation accuracy of
 * every model by epoch (mean over its seeds; a figure per size), and per model and size the gain
 * of its best validation accuracy so far during the last quarter of the epochs. A rise near zero
 * says validation accuracy had stopped rising, which is how the epochs per size are judged
 * (issue 23).
 *
 *   deno run -A bench/study_curves.ts docs/results/study/fashion-mnist-reference
 *
 * Reads each cell's epoch history from `ckpt/<model>/metrics.jsonl` (committed with the cell:
 * the last checkpoint's, every epoch; the report's history ends at the best epoch) or the
 * checkpoint's meta.json; writes `validation-n<size>.svg/.png` and
 * `convergence.md` into the directory and prints the table.
 *
 * @module
 */
import { type Cell, isTrained } from "../lib/experiment/spec.ts";
import { lineChart, writeFigure } from "../lib/eval/plots.ts";
import { runMain, UsageError } from "../scripts/cli.ts";
import { epochHistory, readJson } from "./study_plan.ts";

interface Epoch {
  epoch: number;
  valAcc?: number;
}

/** A cell's per-epoch history, and whether the cell is finished. */
async function historyOf(dir: string, cell: Cell): Promise<{ epochs: Epoch[]; done: boolean }> {
  const done = await Deno.stat(`${dir}/${cell.id}/done.json`).then(() => true, () => false);
  return { epochs: await epochHistory<Epoch>(dir, cell), done };
}

/**
 * How much the best accuracy so far rose during the last quarter of the epochs (at least 4
 * epochs, else undefined): 0 when the best was reached before the last quarter began. Under a
 * one-cycle schedule the high-rate middle is noisy and the low-rate end flat, so the running best,
 * not a quarter's mean, says whether accuracy was still rising.
 */
export function lastQuarterGain(values: number[]): number | undefined {
  const q = Math.floor(values.length / 4);
  if (q < 1 || values.length < 4) return undefined;
  return Math.max(...values) - Math.max(...values.slice(0, values.length - q));
}

async function main(): Promise<number> {
  const dir = Deno.args[0];
  if (!dir) throw new UsageError("usage: deno run -A bench/study_curves.ts DIR");
  const saved = await readJson<{ cells: Cell[] }>(`${dir}/experiment.json`);
  if (!saved) throw new Error(`${dir}/experiment.json not found: expected an experiment directory`);
  const rows: string[] = [
    "| model | size | seeds averaged (of started) | epochs | best val. accuracy (epoch) | last epoch | best's rise in the last quarter |",
    "|---|--:|--:|--:|--:|--:|--:|",
  ];
  const sizes = [...new Set(saved.cells.filter(isTrained).map((c) => c.size))];
  const figures: string[] = [];
  for (const size of sizes) {
    const values: Record<string, unknown>[] = [];
    const models = [
      ...new Set(saved.cells.filter((c) => isTrained(c) && c.size === size).map((c) => c.model)),
    ];
    for (const model of models) {
      const cells = saved.cells.filter((c) => isTrained(c) && c.size === size && c.model === model);
      const histories = await Promise.all(cells.map((c) => historyOf(dir, c)));
      const started = histories.filter((h) => h.epochs.some((e) => e.valAcc !== undefined));
      if (!started.length) continue;
      // Finished cells only once there is one (their histories are committed, and a cell still
      // training would weigh only the early epochs of the mean); the started ones until then.
      const finished = started.filter((h) => h.done);
      const withVal = finished.length ? finished : started;
      // Mean over the seeds that reached each epoch.
      const longest = Math.max(...withVal.map((h) => h.epochs.length));
      const mean: number[] = [];
      for (let e = 0; e < longest; e++) {
        const at = withVal.map((h) => h.epochs[e]?.valAcc).filter((v): v is number =>
          v !== undefined
        );
        if (!at.length) break;
        mean.push(at.reduce((a, b) => a + b, 0) / at.length);
        values.push({ model, epoch: e + 1, acc: mean[e] });
      }
      const gain = lastQuarterGain(mean);
      const best = Math.max(...mean);
      rows.push(
        `| ${model} | ${size} | ${withVal.length} of ${started.length}${
          finished.length ? "" : " (none finished)"
        } | ${mean.length} | ${(100 * best).toFixed(1)}% (${mean.indexOf(best) + 1}) | ${
          (100 * mean.at(-1)!).toFixed(1)
        }% | ${gain === undefined ? "—" : `+${(100 * gain).toFixed(2)} pts`} |`,
      );
    }
    if (!values.length) continue;
    const file = `validation-n${size}.svg`;
    const svg = await lineChart(
      `Validation accuracy by epoch, ${size} training images (mean over seeds)`,
      values as never,
      { field: "epoch", title: "epoch" },
      { field: "acc", title: "validation accuracy" },
    );
    await writeFigure(dir, file, svg);
    figures.push(file);
  }
  const text = [
    "# Convergence: validation accuracy by epoch",
    "",
    "Made by `deno run -A bench/study_curves.ts " + dir + "` from each cell's epoch history " +
    "(`ckpt/<model>/metrics.jsonl`), on the " +
    "validation accuracy (1000 of the 6000 held-out images) averaged over a model's finished " +
    "seeds (over the started ones while none has finished). " +
    "The last column is how much the best accuracy so far rose during the last quarter of " +
    "the epochs: 0 when the best came before it, i.e. accuracy had stopped rising. " +
    "Figures: " + figures.map((f) => `[${f}](${f})`).join(", ") + ".",
    "",
    ...rows,
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/convergence.md`, text);
  console.log(rows.join("\n"));
  return 0;
}

if (import.meta.main) await runMain(main);
