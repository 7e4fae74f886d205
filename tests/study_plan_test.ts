import assert from "node:assert/strict";
import { cellSeconds, curveEpochs, duration, evalSeconds, planLines } from "../bench/study_plan.ts";
import { expandCells, validateSpec } from "../lib/experiment/spec.ts";

Deno.test("study_plan reads the final eval's time from a log and prices a cell from its rates", () => {
  assert.equal(evalSeconds("x\nwrote 19 files to /tmp/e/ in 2m54s: report.json\n"), 174);
  assert.equal(
    evalSeconds("wrote 3 files to a/ in 1h2m3s: r\nwrote 5 files to b/ in 12.5s: r"),
    12.5,
  );
  assert.equal(evalSeconds("no eval here"), undefined);
  assert.deepEqual([duration(40), duration(720), duration(3720)], ["40s", "12m", "1h02m"]);
  const spec = validateSpec({
    name: "t",
    dataset: "synthetic",
    models: ["baseline", "symmetric"],
    seeds: [1, 2],
    sizes: [100, 400],
    epochs: 2,
    epochsFor: { 100: 10 },
  });
  const cells = expandCells(spec);
  const r = {
    rate: 50,
    epochEval: 3,
    valEval: 1,
    valEstimated: false,
    finalEval: 60,
    epochs: 9,
    cells: ["c"],
  };
  // 10 epochs × (100 images / 50 img/s + 3 s) + 60 s, and 2 × (400 / 50 + 3) + 60.
  assert.equal(cellSeconds(spec, cells.find((c) => c.size === 100)!, r), 110);
  assert.equal(cellSeconds(spec, cells.find((c) => c.size === 400)!, r), 82);
  // Curves every 4 of 10 epochs: at 4, 8 and 10; the other 7 epochs measure validation alone.
  assert.deepEqual([curveEpochs(10, 4), curveEpochs(8, 4), curveEpochs(3, 1)], [3, 2, 3]);
  const sparse = validateSpec({ ...spec, curveEveryFor: { 100: 4 } });
  // 10 × 100 / 50 + 3 × 3 s + 7 × 1 s + 60 s.
  assert.equal(cellSeconds(sparse, cells.find((c) => c.size === 100)!, r), 96);
  const lines = planLines(spec, cells, new Map([["baseline", r]]), 2);
  assert.ok(lines.some((l) => /symmetric\s+not measured yet/.test(l)), lines.join("\n"));
  // baseline: 2 seeds × (110 + 82) s = 384 s of cell time, 192 s wall at 2 jobs.
  assert.ok(
    lines.at(-1)!.includes("total 6m of cell time = 3m wall at --jobs 2, plus 4 cells"),
    lines.at(-1)!,
  );
});

Deno.test("study_curves: the best accuracy's rise in the last quarter is 0 once it has stopped rising", async () => {
  const { lastQuarterGain } = await import("../bench/study_curves.ts");
  // A noisy climb that peaks at epoch 6 of 8: the last quarter (epochs 7–8) adds nothing.
  assert.equal(lastQuarterGain([0.3, 0.5, 0.4, 0.7, 0.6, 0.8, 0.79, 0.8]), 0);
  // Still rising: the best of the last quarter (0.8) is 0.2 above the best before it (0.6).
  assert.ok(Math.abs(lastQuarterGain([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])! - 0.2) < 1e-12);
  assert.equal(lastQuarterGain([0.5, 0.6, 0.7]), undefined);
});
