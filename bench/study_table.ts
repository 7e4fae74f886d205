/**
 * The claims tables (the README's headline, docs/results.md's all), generated from committed
 * study summaries (never typed by hand):
 * one row per claim, one column per dataset, for each model against the baseline, with the
 * paired difference, its 95% interval (the aggregator's: a paired bootstrap over seeds × test
 * images where every cell has per-image outcomes), the t-interval over seed pairs beside it, and
 * the verdict the aggregator computed from the first — and, where the t-interval would give
 * another verdict, that one too (computed by the same `verdict`), since with three seeds the
 * bootstrap's seed level is coarse (docs/experiments.md "Reading the summary").
 *
 *   deno run -A bench/study_table.ts docs/results/study/synthetic-tiny docs/results/study/fashion-mnist-tiny
 *   cd docs && deno run -A ../bench/study_table.ts results/study/synthetic-tiny \
 *     results/study/fashion-mnist-tiny
 *
 * Links are the directories as given: the first for the README, the second for docs/results.md.
 *
 * @module
 */
import type { ClaimRow, ExperimentSummary } from "../lib/experiment/aggregate.ts";
import { verdict } from "../lib/experiment/stats.ts";

type Claim = ClaimRow;

const dirs = Deno.args;
if (dirs.length === 0) {
  console.error("usage: deno run -A bench/study_table.ts STUDY_DIR [STUDY_DIR …]");
  Deno.exit(2);
}
const studies = await Promise.all(dirs.map(async (dir) => {
  const s: ExperimentSummary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
  return { dir, dataset: s.dataset, claims: s.claims };
}));
const pts = (v: number | null) => v === null ? "–" : `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)}`;
// No interval: fewer than two seed pairs.
const interval = (c: [number, number] | null) => c ? `[${pts(c[0])}, ${pts(c[1])}]` : "(n < 2)";
const tVerdict = (c: Claim) => {
  if (!c.tInterval) return "";
  const t = verdict(c.tInterval, c.n);
  return t === c.verdict ? "" : ` (t: ${t})`;
};
const cell = (c?: Claim) =>
  c
    ? `${pts(c.difference)} ${interval(c.ci95)}${
      c.tInterval ? ` (t ${interval(c.tInterval)})` : ""
    } n=${c.n}, size ${c.size}: **${c.verdict}**${tVerdict(c)}`
    : "—";
const models = [...new Set(studies.flatMap((s) => s.claims.map((c) => c.model)))];
const claims = [...new Set(studies.flatMap((s) => s.claims.map((c) => c.claim)))];
const lines: string[] = [];
for (const model of models) {
  lines.push(`**${model} − baseline** (percentage points, paired by seed)`, "");
  lines.push(
    `| claim | metric | ${studies.map((s) => `[${s.dataset}](${s.dir}/summary.md)`).join(" | ")} |`,
  );
  lines.push(`| --- | --- | ${studies.map(() => "---").join(" | ")} |`);
  for (const claim of claims) {
    const found = studies.map((s) => s.claims.find((c) => c.model === model && c.claim === claim));
    const metric = found.find((c) => c)?.metric ?? "";
    if (!metric) continue;
    lines.push(`| ${claim} | ${metric} | ${found.map(cell).join(" | ")} |`);
  }
  lines.push("");
}
for (const s of studies) {
  const methods = [...new Set(s.claims.map((c) => c.method).filter((m) => m))];
  if (methods.length) lines.push(`${s.dataset}: intervals by ${methods.join("; ")}.`, "");
}
console.log(lines.join("\n"));
