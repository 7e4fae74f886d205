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
 * `--size N` reads every claim at training-set size N instead (the differences of that size in
 * the summary, the verdict computed from their interval the same way), for a grid whose full
 * size is not in yet:
 *
 *   deno run -A bench/study_table.ts --size 600 docs/results/study/fashion-mnist-reference
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  claimAt,
  type ClaimRow,
  CLAIMS,
  type ExperimentSummary,
} from "../lib/experiment/aggregate.ts";
import { verdict } from "../lib/experiment/stats.ts";

type Claim = ClaimRow;

const { values, positionals: dirs } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { size: { type: "string" } },
});
const atSize = values.size === undefined ? undefined : Number(values.size);
if (dirs.length === 0 || (atSize !== undefined && !(atSize > 0))) {
  console.error("usage: deno run -A bench/study_table.ts [--size N] STUDY_DIR [STUDY_DIR …]");
  Deno.exit(2);
}

/** The claims of a summary at `size`: each claim's metric there (the size-bound one left out). */
function claimsAt(s: ExperimentSummary, size: number, dir: string): Claim[] {
  const setting = s.settings.find((x) => x.size === size && x.augment === s.main.augment);
  if (!setting) {
    console.error(`${dir}: no size ${size} (sizes: ${s.settings.map((x) => x.size).join(", ")})`);
    Deno.exit(2);
  }
  return Object.keys(setting.differences).flatMap((model) =>
    CLAIMS.filter((c) => !c.smallest).map((c) => claimAt(c, model, setting))
  );
}

const studies = await Promise.all(dirs.map(async (dir) => {
  const s: ExperimentSummary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
  return {
    dir,
    dataset: s.dataset,
    claims: atSize === undefined ? s.claims : claimsAt(s, atSize, dir),
  };
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
