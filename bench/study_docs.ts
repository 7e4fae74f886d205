/**
 * Refreshes the real-size study's generated blocks in README.md and docs/results.md from its
 * committed summary, so that the numbers there are never typed: between `<!-- cells-in -->` and
 * `<!-- /cells-in -->` the cells in so far, between `<!-- table-600 -->` and its end marker the
 * claims read at the smallest size (`bench/study_table.ts --size`; the README keeps the symmetric
 * model's table, docs/results.md every model's).
 *
 *   deno run -A bench/study_docs.ts            # after `deno task experiment aggregate …`
 *
 * @module
 */
import type { ExperimentSummary } from "../lib/experiment/aggregate.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const STUDY = "results/study/fashion-mnist-reference";
const SIZE = 600;

/** `text` with the block between `<!-- name -->` and `<!-- /name -->` replaced by `body`. */
export function replaceBlock(text: string, name: string, body: string): string {
  const open = `<!-- ${name} -->`, close = `<!-- /${name} -->`;
  const i = text.indexOf(open), j = text.indexOf(close);
  if (i < 0 || j < i) throw new Error(`no ${open} … ${close} block`);
  return `${text.slice(0, i + open.length)}\n\n${body.trim()}\n\n${text.slice(j)}`;
}

/** The "cells in" paragraph: trained cells done, and the seeds each model has at `size`. */
export function cellsIn(s: ExperimentSummary, size: number, link: string): string {
  const setting = s.settings.find((x) => x.size === size);
  const seeds = Object.entries(setting?.metrics ?? {}).map(([m, v]) => [m, v.clean.n] as const);
  // +tta cells are evaluated in their base cells: they are not trained cells (ids `…_tta-…`).
  const ttaDone = seeds.filter(([m]) => m.endsWith("+tta")).reduce((n, [, k]) => n + k, 0);
  const ttaAll = ttaDone + s.cells.missing.filter((id) => id.includes("_tta-")).length;
  const tta = ttaDone;
  const trained = s.cells.total - ttaAll;
  const list = seeds.map(([m, k]) => `${m} × ${k} seed${k === 1 ? "" : "s"}`).join(", ");
  return `**Cells in** (${s.generatedAt.slice(0, 10)}): ${s.cells.done - tta} of ${trained} ` +
    `trained cells, at ${size} images: ${list} ([summary.md](${link}/summary.md), ` +
    "`deno task experiment aggregate docs/results/study/fashion-mnist-reference`).";
}

async function table(cwd: string, dir: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}bench/study_table.ts`, "--size", String(SIZE), dir],
    cwd,
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error(`study_table.ts failed in ${cwd}`);
  return new TextDecoder().decode(out.stdout);
}

if (import.meta.main) {
  const summary: ExperimentSummary = JSON.parse(
    await Deno.readTextFile(`${ROOT}docs/${STUDY}/summary.json`),
  );
  const docs = `${ROOT}docs/results.md`, readme = `${ROOT}README.md`;
  let d = await Deno.readTextFile(docs);
  d = replaceBlock(d, "cells-in", cellsIn(summary, SIZE, STUDY));
  d = replaceBlock(d, "table-600", await table(`${ROOT}docs`, STUDY));
  await Deno.writeTextFile(docs, d);
  let r = await Deno.readTextFile(readme);
  r = replaceBlock(r, "cells-in", cellsIn(summary, SIZE, `docs/${STUDY}`));
  // The README keeps the first block (symmetric − baseline), without its heading.
  const first = (await table(ROOT, `docs/${STUDY}`)).split("\n\n**")[0];
  r = replaceBlock(r, "table-600", first.split("\n").slice(2).join("\n"));
  await Deno.writeTextFile(readme, r);
  console.log(`refreshed ${readme} and ${docs} from docs/${STUDY}/summary.json`);
}
