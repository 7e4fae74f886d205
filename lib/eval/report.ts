/**
 * Writes an evaluation report: `report.json` (every number with its definition and
 * provenance), `report.md` (summary table + figures with one sentence each, written from the
 * numbers), and SVG figures.
 *
 * @module
 */
import { encode as encodePng } from "fast-png";
import type { EpochMetrics } from "../model/checkpoint.ts";
import type { Provenance } from "../provenance.ts";
import type { ModelEval } from "./evaluate.ts";
import type { Examples } from "./examples.ts";
import { D4_NAMES, definitionsFor } from "./measures.ts";
import { barChart, lineChart, writeFigure } from "./plots.ts";

/** Provenance of a report. */
export interface ReportContext {
  dataset: { name: string; source: string; testImages: number; advImages: number };
  backend: string;
  seed: number;
  sweep: string;
  checkpoints: Record<
    string,
    { dir: string; weightsSha256: string; epoch: number; preset: string; params: number }
  >;
  provenance: Provenance;
  date: string;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const pts = (v: number) => `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)}`;

/** The summary rows: measure name and value per model. */
export function summaryRows(
  results: Record<string, ModelEval>,
): [string, Record<string, number>][] {
  const names = Object.keys(results);
  const pick = (f: (r: ModelEval) => number | undefined) =>
    Object.fromEntries(names.map((n) => [n, f(results[n]) ?? NaN]));
  const at = (rows: Record<string, number>[], key: string, v: number) =>
    rows.find((r) => r[key] === v)?.acc;
  const maxEps = (r: ModelEval) => r.pgd.at(-1);
  const first = results[names[0]];
  const rows: [string, Record<string, number>][] = [
    ["clean top-1", pick((r) => r.clean.top1)],
    ["clean top-5", pick((r) => r.clean.top5)],
    ["perturbed (training definition)", pick((r) => r.perturbed)],
    ["random rotation (Fig. 3)", pick((r) => r.randomRotation.acc)],
  ];
  for (const a of [45, 90]) {
    if (first.rotation.some((r) => r.angle === a)) {
      rows.push([
        `rotated ${a}°`,
        pick((r) => at(r.rotation, "angle", a)),
      ]);
    }
  }
  rows.push(["mean rotation invariance (1 − JSD)", pick((r) => r.invariance.rotation)]);
  rows.push(["mean zoom invariance (1 − JSD)", pick((r) => r.invariance.zoom)]);
  // Mirrors: reports written before the D4 sweep have no rows, and get none here.
  if (first.mirror?.length) {
    for (const [e, label] of [[4, "flip h (left-right)"], [6, "flip v (upside down)"]] as const) {
      if (first.mirror.some((r) => r.element === e)) {
        rows.push([label, pick((r) => at(r.mirror, "element", e))]);
      }
    }
    rows.push(["mean flip invariance (h, v; 1 − JSD)", pick((r) => r.invariance.flip)]);
    rows.push(["mean D4 invariance (7 flips/turns; 1 − JSD)", pick((r) => r.invariance.d4)]);
  }
  for (const z of [0.5, 1.5]) {
    if (first.zoom.some((r) => r.factor === z)) {
      rows.push([
        `zoom ×${z}`,
        pick((r) => at(r.zoom, "factor", z)),
      ]);
    }
  }
  if (first.shift.some((r) => r.pixels === 1)) {
    rows.push([
      "shift 1 px",
      pick((r) => at(r.shift, "pixels", 1)),
    ]);
  }
  const sig = first.noise.at(-1)?.sigma;
  if (sig) rows.push([`noise σ = ${sig}`, pick((r) => at(r.noise, "sigma", sig))]);
  const eps = first.pgd.at(-1)?.eps;
  if (eps !== undefined) {
    // Reports written before restarts and sanity rows have neither, and get no rows for them.
    if (first.attackedClean !== undefined) {
      rows.push(["attacked images, clean", pick((r) => r.attackedClean)]);
    }
    rows.push([`FGSM ε = ${eps}/255`, pick((r) => r.fgsm.at(-1)?.acc)]);
    rows.push([`PGD ε = ${eps}/255`, pick((r) => maxEps(r)?.acc)]);
    for (const { eps: big } of first.pgdSanity ?? []) {
      rows.push([`PGD sanity ε = ${big}/255`, pick((r) => at(r.pgdSanity, "eps", big))]);
    }
    if (first.transfer.length) {
      rows.push([
        `transfer PGD ε = ${eps}/255`,
        pick((r) => r.transfer.at(-1)?.acc),
      ]);
    }
  }
  return rows;
}

/**
 * The attack's settings and its sanity check, from the numbers: whether PGD at the largest sanity
 * ε left any attacked image classified correctly (it should leave none).
 */
function attackLine(results: Record<string, ModelEval>): string[] {
  const first = Object.values(results)[0];
  if (!first.attack || !first.pgdSanity?.length) return [];
  const big = first.pgdSanity.at(-1)!.eps;
  const failing = Object.entries(results).filter(([, r]) => !r.fallsToZero).map(([n]) => n);
  return [
    `PGD: ${first.attack.pgdSteps} steps, worst case over ${first.attack.pgdRestarts} random starts per image. Sanity check (PGD at ε = ${big}/255): ${
      failing.length
        ? `**accuracy did not fall to 0 for ${
          failing.join(", ")
        }** — the attack is not finding adversarial examples there (masked gradients?), so its PGD numbers overstate robustness`
        : "accuracy falls to 0 for every model"
    }.`,
  ];
}

function table(results: Record<string, ModelEval>): string {
  const names = Object.keys(results);
  const diff = names.length === 2;
  const head = `| measure | ${names.join(" | ")} |${
    diff ? ` ${names[1]} − ${names[0]} (points) |` : ""
  }`;
  const sep = `|---|${names.map(() => "---").join("|")}|${diff ? "---|" : ""}`;
  const lines = summaryRows(results).map(([label, v]) =>
    `| ${label} | ${
      names.map((n) => label.includes("invariance") ? v[n].toFixed(3) : pct(v[n])).join(" | ")
    } |${
      diff
        ? ` ${
          label.includes("invariance")
            ? (v[names[1]] - v[names[0]]).toFixed(3)
            : pts(v[names[1]] - v[names[0]])
        } |`
        : ""
    }`
  );
  return [head, sep, ...lines].join("\n");
}

/** One sentence per figure, written from the numbers. */
function compare(
  results: Record<string, ModelEval>,
  rows: (r: ModelEval) => Record<string, number>[],
  key: string,
  unit: string,
): string {
  const names = Object.keys(results);
  if (names.length < 2) return "";
  const [a, b] = names;
  const ra = rows(results[a]), rb = rows(results[b]);
  let worst = { gap: -Infinity, at: 0 };
  ra.forEach((r, i) => {
    const gap = rb[i].acc - r.acc;
    if (Math.abs(gap) > Math.abs(worst.gap) || worst.gap === -Infinity) worst = { gap, at: r[key] };
  });
  const mean = ra.reduce((s, r, i) => s + rb[i].acc - r.acc, 0) / ra.length;
  return `Averaged over the sweep, ${b} is ${pts(mean)} points against ${a}; the largest gap is ${
    pts(worst.gap)
  } points at ${worst.at}${unit}.`;
}

/** Figure file names and their captions. */
export async function writeReport(
  out: string,
  results: Record<string, ModelEval>,
  context: ReportContext,
  histories: Record<string, EpochMetrics[]>,
  examples?: string,
): Promise<string[]> {
  await Deno.mkdir(out, { recursive: true });
  const names = Object.keys(results);
  const flat = (f: (r: ModelEval) => Record<string, number>[]) =>
    names.flatMap((n) => f(results[n]).map((r) => ({ ...r, model: n })));
  const figures: [string, string, Promise<string>][] = [];
  const curves = names.flatMap((n) =>
    (histories[n] ?? []).flatMap((h) =>
      // The test / perturbed / rotated curves skip the epochs between curve points (curveEvery).
      ["trainAcc", "testAcc", "perturbedAcc", "rotatedAcc"].filter((m) => h[m] != null).map((
        metric,
      ) => ({
        model: n,
        epoch: Number(h.epoch),
        metric: metric.replace("Acc", ""),
        acc: Number(h[metric]),
      }))
    )
  );
  if (curves.length) {
    figures.push([
      "fig2-training-curves.svg",
      "Fig. 2 analog: train, test, perturbed-test and randomly-rotated-test accuracy per epoch (from metrics.jsonl).",
      lineChart(
        "Accuracy per epoch",
        curves,
        { field: "epoch", title: "epoch" },
        { field: "acc", title: "accuracy" },
        "model",
        "metric",
      ),
    ]);
  }
  figures.push([
    "fig3-random-rotation.svg",
    `Fig. 3 analog: accuracy on clean vs randomly rotated test images. ${
      names.map((n) =>
        `${n}: ${pct(results[n].clean.top1)} → ${pct(results[n].randomRotation.acc)}`
      ).join("; ")
    }.`,
    barChart(
      "Clean vs randomly rotated",
      names.flatMap((n) => [
        { model: n, test: "clean", acc: results[n].clean.top1 },
        { model: n, test: "random rotation", acc: results[n].randomRotation.acc },
      ]),
      "test",
      "acc",
    ),
  ]);
  const sweeps: [string, (r: ModelEval) => Record<string, number>[], string, string, string][] = [
    ["accuracy-vs-angle.svg", (r) => r.rotation, "angle", "rotation angle (°)", "°"],
    ["accuracy-vs-zoom.svg", (r) => r.zoom, "factor", "zoom factor", "×"],
    [
      "accuracy-vs-resolution.svg",
      (r) => r.resolution,
      "size",
      "input side (px), not resized back",
      " px",
    ],
    ["accuracy-vs-shift.svg", (r) => r.shift, "pixels", "shift (px, right and down)", " px"],
    ["accuracy-vs-sigma.svg", (r) => r.noise, "sigma", "Gaussian noise σ", ""],
  ];
  for (const [file, rows, key, title, unit] of sweeps) {
    if (!rows(results[names[0]]).length) continue; // a family the sweep leaves out
    figures.push([
      file,
      compare(results, rows, key, unit),
      lineChart(file.replace(".svg", "").replaceAll("-", " "), flat(rows), { field: key, title }, {
        field: "acc",
        title: "accuracy",
      }),
    ]);
  }
  const inv = flat((r) => r.rotation.map((x) => ({ angle: x.angle, acc: x.invariance })));
  figures.push([
    "invariance-vs-angle.svg",
    `Mean invariance score 1 − JSD vs angle; over non-zero angles: ${
      names.map((n) => `${n} ${results[n].invariance.rotation.toFixed(3)}`).join(", ")
    }.`,
    lineChart("Invariance vs angle", inv, { field: "angle", title: "rotation angle (°)" }, {
      field: "acc",
      title: "1 − JSD",
    }),
  ]);
  if (results[names[0]].mirror?.length) {
    const d4 = flat((r) => r.mirror.map((x) => ({ element: x.element, acc: x.invariance })));
    figures.push([
      "invariance-vs-d4.svg",
      `Mean invariance score 1 − JSD under each D4 element (${
        D4_NAMES.map((name, e) => `${e} ${name}`).join(", ")
      }); over the two flips: ${
        names.map((n) => `${n} ${results[n].invariance.flip.toFixed(3)}`).join(", ")
      }; over the 7 non-identity elements: ${
        names.map((n) => `${n} ${results[n].invariance.d4.toFixed(3)}`).join(", ")
      }.`,
      lineChart("Invariance vs D4 element", d4, {
        field: "element",
        title: "D4 element 4·m + r (4 = flip h, 6 = flip v)",
      }, { field: "acc", title: "1 − JSD" }),
    ]);
  }
  const adv = names.flatMap((n) =>
    (["fgsm", "pgd", "transfer"] as const).flatMap((kind) =>
      results[n][kind].map((r) => ({ model: n, attack: kind, eps: r.eps, acc: r.acc }))
    )
  );
  figures.push([
    "accuracy-vs-epsilon.svg",
    compare(results, (r) => r.pgd, "eps", "/255 (PGD)"),
    lineChart(
      "Adversarial accuracy",
      adv,
      { field: "eps", title: "ε (/255)" },
      { field: "acc", title: "accuracy" },
      "model",
      "attack",
    ),
  ]);
  const files: string[] = [];
  // Each figure as SVG and as a PNG rendered from it (lib/eval/plots.ts), for slides.
  for (const [file, , svg] of figures) files.push(...await writeFigure(out, file, await svg));
  if (examples) files.push(...await writeFigure(out, "examples.svg", examples));
  const definitions = definitionsFor(names);
  const report = { ...context, definitions, results, histories, figures: files };
  await Deno.writeTextFile(`${out}/report.json`, JSON.stringify(report, null, 2) + "\n");
  const md = [
    `# symlab evaluation: ${context.dataset.name}`,
    "",
    `${context.dataset.testImages} test images (${context.dataset.advImages} attacked), sweep "${context.sweep}", seed ${context.seed}, backend ${context.backend}, ${context.date}.`,
    ...attackLine(results),
    `Checkpoints: ${
      Object.entries(context.checkpoints).map(([n, c]) =>
        `${n} ${c.preset} epoch ${c.epoch} (${c.params.toLocaleString("en-US")} params, sha256 ${
          c.weightsSha256.slice(0, 12)
        }…)`
      ).join("; ")
    }.`,
    "",
    "## Summary",
    "",
    table(results),
    "",
    "## Figures",
    "",
    ...figures.flatMap(([file, caption]) => [
      `![${file}](${file.replace(/\.svg$/, ".png")})`,
      "",
      `${caption} ([SVG](${file}))`,
      "",
    ]),
    ...(examples
      ? [
        "![examples](examples.png)",
        "",
        "Example test images, their transforms, each model's top-1 class and invariance score ([SVG](examples.svg)).",
        "",
      ]
      : []),
    "## Definitions",
    "",
    ...Object.entries(definitions).map(([k, v]) => `- **${k}**: ${v}`),
    "",
  ].join("\n");
  await Deno.writeTextFile(`${out}/report.md`, md);
  return ["report.json", "report.md", ...files];
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Renders a measured example grid ({@linkcode measureExamples}) as one SVG. */
export function exampleGrid(examples: Examples): string {
  const { columns, cells } = examples;
  const cell = 96, pad = 8, text = 14 * (1 + examples.models.length);
  const width = columns.length * (cell + pad) + pad,
    height = cells.length * (cell + text + pad) + 24;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  columns.forEach((name, c) =>
    parts.push(`<text x="${pad + c * (cell + pad)}" y="14" font-weight="bold">${name}</text>`)
  );
  cells.forEach((row, r) =>
    row.forEach((view, c) => {
      const png = encodePng({
        width: view.width,
        height: view.height,
        data: view.pixels,
        channels: view.channels,
      });
      const px = pad + c * (cell + pad), py = 24 + r * (cell + text + pad);
      parts.push(
        `<image x="${px}" y="${py}" width="${cell}" height="${cell}" style="image-rendering:pixelated" href="data:image/png;base64,${
          base64(png)
        }"/>`,
      );
      view.predictions.forEach((p, mi) => {
        const score = p.invariance === null ? "" : ` ${p.invariance.toFixed(2)}`;
        parts.push(
          `<text x="${px}" y="${py + cell + 12 * (mi + 1)}">${p.model[0]}: ${
            p.label.replace(/[<&]/g, "")
          }${score}${p.correct ? "" : " ✗"}</text>`,
        );
      });
    })
  );
  parts.push("</svg>");
  return parts.join("\n");
}
