import assert from "node:assert/strict";
import { aggregate, compareSummary, writeSummary } from "../lib/experiment/aggregate.ts";
import {
  cellPaths,
  cellStatus,
  evalTask,
  lastLine,
  runCell,
  trainTask,
} from "../lib/experiment/cell.ts";
import { runLocal, threadsPerCell } from "../lib/experiment/local.ts";
import { arraySpec, expandTaskIds } from "../lib/experiment/slurm.ts";
import {
  cellEpochs,
  cellsOfModels,
  expandCells,
  type ExperimentSpec,
  gridSizes,
  modelSizes,
  readSpec,
  reportName,
  sizeSeeds,
  SpecError,
  validateSpec,
  variantOf,
} from "../lib/experiment/spec.ts";
import { summarize, tQuantile975, verdict } from "../lib/experiment/stats.ts";
import {
  balancedOrder,
  resolveSize,
  SubsetError,
  trainValidationSplit,
} from "../lib/data/subset.ts";
import type { Split } from "../lib/data/types.ts";
import { parseExperimentArgs, saveExperiment, splitArgs } from "../scripts/experiment.ts";

const BASE = {
  name: "t",
  dataset: "synthetic",
  models: ["baseline"],
  seeds: [1],
  epochs: 1,
};

Deno.test("experiment spec errors name the field", () => {
  const cases: [unknown, RegExp][] = [
    [
      { ...BASE, sizes: [64, -2] },
      /sizes\[1\]: .*>0|sizes\[1\]: .*positive|sizes\[1\]/,
    ],
    [{ ...BASE, models: ["resnet"] }, /models\[0\]: /],
    [{ ...BASE, seeds: [] }, /seeds: /],
    [{ ...BASE, epochs: 0 }, /epochs: /],
    [{ ...BASE, eval: { sweep: "slow" } }, /eval\.sweep: /],
    [{ ...BASE, learningRate: 0.1 }, /\(top level\): .*learningRate/],
    [{ ...BASE, seeds: [1, 1] }, /seeds: 1 is listed twice/],
    [{ ...BASE, sizes: [64.5] }, /sizes\[0\]: expected an integer count/],
    [
      { ...BASE, sizes: [0.5, 1000] },
      /sizes: expected all counts .* or all fractions/,
    ],
    [{ ...BASE, name: undefined }, /name: /],
  ];
  for (const [raw, pattern] of cases) {
    assert.throws(() => validateSpec(raw, "x.yaml"), (e: Error) => {
      assert.ok(e instanceof SpecError, e.message);
      assert.match(e.message, /^x\.yaml: /);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
      return true;
    });
  }
});

Deno.test("experiment files read as YAML and JSON, with a one-line parse error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spec = await readSpec("experiments/quick.yaml");
    assert.equal(spec.name, "quick");
    assert.deepEqual(spec.models, ["baseline", "symmetric"]);
    await Deno.writeTextFile(`${dir}/a.json`, JSON.stringify(BASE));
    assert.equal((await readSpec(`${dir}/a.json`)).valFraction, 0.1); // schema default
    await Deno.writeTextFile(`${dir}/bad.yaml`, "name: [unclosed\n");
    await assert.rejects(
      () => readSpec(`${dir}/bad.yaml`),
      /bad\.yaml: not valid YAML/,
    );
    await assert.rejects(
      () => readSpec(`${dir}/none.yaml`),
      /none\.yaml: cannot read/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a spec expands to model × seed × size × augmentation cells with unique ids", () => {
  const spec = validateSpec({
    ...BASE,
    models: ["baseline", "symmetric"],
    seeds: [1, 2, 3],
    sizes: [0.25, 1],
    augmentations: ["shift", "shift+rot90"],
  });
  const cells = expandCells(spec);
  assert.equal(cells.length, 2 * 3 * 2 * 2);
  assert.equal(new Set(cells.map((c) => c.id)).size, cells.length);
  assert.deepEqual(cells.map((c) => c.index), cells.map((_, i) => i));
  assert.equal(cells[0].id, "baseline-s1-f0.25-shift");
  assert.equal(cells[1].id, "symmetric-s1-f0.25-shift");
  assert.equal(cells.at(-1)!.id, "symmetric-s3-all-shift_rot90");
  for (const m of spec.models) {
    for (const s of spec.seeds) {
      for (const z of spec.sizes) {
        for (const a of spec.augmentations) {
          assert.equal(
            cells.filter((c) => c.model === m && c.seed === s && c.size === z && c.augment === a)
              .length,
            1,
          );
        }
      }
    }
  }
});

/** A labelled split whose pixel i holds its own index (so gathers can be checked). */
function fakeSplit(labels: number[]): Split {
  const images = new Uint8Array(labels.length * 2);
  labels.forEach((_, i) => images.set([i % 256, Math.floor(i / 256)], 2 * i));
  return {
    images,
    labels: Int32Array.from(labels),
    count: labels.length,
    height: 1,
    width: 1,
    channels: 2,
  };
}

Deno.test("every prefix of the balanced order is class-balanced while classes last", () => {
  // 5 classes, 40 images each, shuffled positions.
  const labels = Array.from({ length: 200 }, (_, i) => (i * 7) % 5);
  const order = balancedOrder(Int32Array.from(labels), 3);
  assert.deepEqual([...order].sort((a, b) => a - b), labels.map((_, i) => i)); // a permutation
  for (let n = 1; n <= 200; n++) {
    const counts = new Array(5).fill(0);
    for (let i = 0; i < n; i++) counts[labels[order[i]]]++;
    assert.ok(
      Math.max(...counts) - Math.min(...counts) <= 1,
      `prefix ${n}: ${counts}`,
    );
  }
  assert.deepEqual(balancedOrder(Int32Array.from(labels), 3), order); // seeded
  assert.notDeepEqual(balancedOrder(Int32Array.from(labels), 4), order);
});

Deno.test("training subsets are nested, class-balanced and disjoint from validation", () => {
  const labels = Array.from({ length: 300 }, (_, i) => (i * 11) % 10);
  const split = fakeSplit(labels);
  const options = { seed: 5, valFraction: 0.1 };
  const small = trainValidationSplit(split, { ...options, size: 50 });
  const large = trainValidationSplit(split, { ...options, size: 200 });
  assert.equal(small.train.count, 50);
  assert.equal(large.train.count, 200);
  assert.equal(small.validation!.count, 30);
  assert.deepEqual(small.validationIndices, large.validationIndices);
  const inLarge = new Set(large.trainIndices);
  assert.ok(
    [...small.trainIndices].every((i) => inLarge.has(i)),
    "the 50 lie inside the 200",
  );
  const val = new Set(large.validationIndices);
  assert.ok(
    [...large.trainIndices].every((i) => !val.has(i)),
    "no validation image trains",
  );
  for (const part of [small.train, large.train, small.validation!]) {
    const counts = new Array(10).fill(0);
    part.labels.forEach((l) => counts[l]++);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, String(counts));
  }
  // gather copies the right images: pixel values encode the source index.
  small.trainIndices.forEach((src, i) => {
    assert.equal(
      small.train.images[2 * i] + 256 * small.train.images[2 * i + 1],
      src,
    );
    assert.equal(small.train.labels[i], labels[src]);
  });
  const half = trainValidationSplit(split, { ...options, size: 0.5 });
  assert.equal(half.train.count, 135); // half of the 270 left after validation
  assert.throws(
    () => trainValidationSplit(split, { ...options, size: 271 }),
    (e: Error) => e instanceof SubsetError && /only 270 are left/.test(e.message),
  );
  assert.throws(() => trainValidationSplit(split, { ...options, valFraction: 0.7, size: 0 }));
});

Deno.test("resolveSize: fractions ≤ 1, counts above 1, 0 = all", () => {
  assert.equal(resolveSize(0.25, 45000), 11250);
  assert.equal(resolveSize(1, 45000), 45000);
  assert.equal(resolveSize(0, 45000), 45000);
  assert.equal(resolveSize(4000, 45000), 4000);
  assert.throws(() => resolveSize(40.5, 45000), /integer count/);
  assert.throws(() => resolveSize(-1, 45000), /expected a count/);
});

Deno.test("mean, std and t-interval match a hand computation", () => {
  // t(0.975, 3) = 3.182446305284263 (tables); jStat's inverse is accurate to ~1e-8.
  assert.ok(Math.abs(tQuantile975(3) - 3.182446305284263) < 1e-6);
  assert.ok(Math.abs(tQuantile975(1) - 12.706204736174707) < 1e-6);
  const s = summarize([0.5, 0.6, 0.7, 0.9]);
  // mean 0.675; squared deviations .030625 + .005625 + .000625 + .050625 = .0875; /3.
  const std = Math.sqrt(0.0875 / 3);
  const half = 3.182446305284263 * std / 2;
  assert.equal(s.n, 4);
  assert.ok(Math.abs(s.mean - 0.675) < 1e-12);
  assert.ok(Math.abs(s.std! - std) < 1e-12);
  assert.ok(Math.abs(s.ci95![0] - (0.675 - half)) < 1e-6);
  assert.ok(Math.abs(s.ci95![1] - (0.675 + half)) < 1e-6);
  assert.deepEqual(summarize([0.3]), {
    values: [0.3],
    mean: 0.3,
    std: null,
    ci95: null,
    n: 1,
  });
  assert.equal(verdict([0.01, 0.05]), "holds");
  assert.equal(verdict([-0.05, -0.01]), "does not hold");
  assert.equal(verdict([-0.01, 0.05]), "inconclusive");
  assert.equal(verdict(null), "inconclusive");
});

/** An eval report.json holding one model's results with the given accuracies. */
function report(model: string, clean: number, rotated: number, pgd: number) {
  return {
    results: {
      [model]: {
        clean: { top1: clean, top5: Math.min(1, clean + 0.2) },
        perturbed: clean - 0.05,
        randomRotation: { acc: rotated, invariance: 0.9 },
        zoom: [{ factor: 0.5, acc: clean - 0.1 }, { factor: 1, acc: clean }, {
          factor: 2,
          acc: clean - 0.2,
        }],
        fgsm: [{ eps: 2, acc: pgd + 0.1 }, { eps: 8, acc: pgd + 0.05 }],
        pgd: [{ eps: 2, acc: pgd + 0.05 }, { eps: 8, acc: pgd }],
        invariance: { rotation: 0.8, zoom: 0.7 },
      },
    },
  };
}

async function writeCell(out: string, id: string, json: unknown) {
  const p = cellPaths(out, { id });
  await Deno.mkdir(p.evalDir, { recursive: true });
  await Deno.writeTextFile(`${p.evalDir}/report.json`, JSON.stringify(json));
  await Deno.writeTextFile(p.done, "{}");
}

Deno.test("aggregate: per-seed summaries, seed-paired differences and computed verdicts", async () => {
  const out = await Deno.makeTempDir();
  try {
    const spec = validateSpec({
      ...BASE,
      models: ["baseline", "symmetric"],
      seeds: [1, 2, 3],
      sizes: [100, 400],
    });
    const cells = expandCells(spec);
    // clean: baseline b_s, symmetric b_s + d_s; rotated: symmetric far better; pgd: mixed.
    const base = { 100: [0.40, 0.44, 0.42], 400: [0.60, 0.66, 0.63] } as Record<
      number,
      number[]
    >;
    const gain = [0.05, 0.07, 0.06];
    const pgdGain = [0.02, -0.03, 0.01];
    for (const c of cells) {
      const i = spec.seeds.indexOf(c.seed);
      const b = base[c.size][i];
      const sym = c.model === "symmetric";
      await writeCell(
        out,
        c.id,
        report(
          c.model,
          b + (sym ? gain[i] : 0),
          sym ? b : b / 2,
          0.1 + (sym ? pgdGain[i] : 0),
        ),
      );
    }
    await Deno.remove(cellPaths(out, cells.at(-1)!).done); // one unfinished cell
    const s = await aggregate(spec, cells, out);
    assert.deepEqual(s.main, { size: 400, augment: "shift" });
    assert.deepEqual(s.cells.missing, [cells.at(-1)!.id]);
    const clean = s.metrics.baseline.clean;
    assert.deepEqual(clean.values, base[400]);
    const ref = summarize(base[400]);
    assert.ok(Math.abs(clean.mean - 0.63) < 1e-12);
    assert.ok(Math.abs(clean.std! - 0.03) < 1e-12); // deviations −.03, .03, 0: √(.0018/2)
    assert.deepEqual(clean.ci95, ref.ci95);
    // The missing cell (symmetric seed 3 at 400) leaves two pairs at 400.
    const d = s.differences.symmetric.clean;
    assert.equal(d.n, 2);
    assert.ok(Math.abs(d.mean - 0.06) < 1e-9);
    const half = tQuantile975(1) *
      Math.sqrt(((0.05 - 0.06) ** 2 + (0.07 - 0.06) ** 2) / 1) /
      Math.sqrt(2);
    assert.ok(Math.abs(d.ci95![0] - (0.06 - half)) < 1e-9);
    // At 100 all three pairs exist: gains .05 .07 .06 → holds; pgd gains mixed → inconclusive.
    const small = s.settings.find((x) => x.size === 100)!;
    assert.equal(small.differences.symmetric.clean.n, 3);
    const claim = (id: string) => s.claims.find((c) => c.id === id)!;
    assert.equal(claim("limited-data").size, 100);
    assert.equal(claim("limited-data").verdict, "holds");
    assert.equal(claim("adversarial").verdict, "inconclusive");
    assert.equal(claim("rotation").n, 2);
    const zoom = s.metrics.baseline.zoom.mean; // mean of factors ≠ 1: clean − .15
    assert.ok(Math.abs(zoom - (0.63 - 0.15)) < 1e-12);
    const { files } = await writeSummary(spec, cells, out);
    assert.deepEqual(files, [
      "summary.json",
      "summary.md",
      "metrics.svg",
      "metrics.png",
      "data-efficiency.svg",
      "data-efficiency.png",
    ]);
    const json = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
    for (const key of ["values", "mean", "std", "ci95", "n"]) {
      assert.ok(key in json.metrics.symmetric.pgd, key);
    }
    for (const key of ["mean", "ci95", "n"]) {
      assert.ok(key in json.differences.symmetric.pgd);
    }
    assert.match(await Deno.readTextFile(`${out}/summary.md`), /\| holds \|/);
    assert.match(
      await Deno.readTextFile(`${out}/data-efficiency.svg`),
      /^<svg/,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("Slurm array specs and squeue task ids round-trip", () => {
  assert.equal(arraySpec([0, 1, 2, 3, 5, 7, 8]), "0-3,5,7-8");
  assert.equal(arraySpec([4]), "4");
  assert.deepEqual(expandTaskIds("12_3"), [["12", 3]]);
  assert.deepEqual(expandTaskIds("12_[0-2,5%2]"), [["12", 0], ["12", 1], [
    "12",
    2,
  ], ["12", 5]]);
  assert.deepEqual(expandTaskIds("12"), []);
});

Deno.test("experiment flags: one-line errors naming the flag", () => {
  const bad: [string[], RegExp][] = [
    [[], /expected a command/],
    [["fly", "x"], /got "fly"/],
    [["run"], /run: expected an experiment FILE/],
    [["run", "x.yaml"], /--out DIR is required/],
    [
      ["run", "x.yaml", "--out", "d", "--jobs", "two"],
      /--jobs: expected an integer/,
    ],
    [
      ["run", "x.yaml", "--out", "d", "--slurm", "--jobs", "2"],
      /--jobs: applies to local/,
    ],
    [
      ["run", "x.yaml", "--out", "d", "--slurm-args=-p x"],
      /--slurm-args: only with --slurm/,
    ],
    [["status", "d", "--jobs", "2"], /--jobs: not a flag of "status"/],
    [["cell", "d"], /--index: expected/],
  ];
  for (const [args, pattern] of bad) {
    assert.throws(() => parseExperimentArgs(args), pattern, args.join(" "));
  }
  assert.deepEqual(splitArgs(`--partition=gpu -c 8 --comment "two words"`), [
    "--partition=gpu",
    "-c",
    "8",
    "--comment",
    "two words",
  ]);
  const run = parseExperimentArgs([
    "run",
    "x.yaml",
    "--out",
    "d/",
    "--jobs",
    "2",
  ]);
  assert.equal(run.command, "run");
  if (run.command === "run") {
    assert.deepEqual([run.out, run.jobs, run.slurm], ["d", 2, false]);
  }
  assert.equal(threadsPerCell(16, 3), 5);
  assert.equal(threadsPerCell(2, 4), 1);
  const some = parseExperimentArgs(["run", "x.yaml", "--out", "d", "--models", "p4m,baseline+tta"]);
  assert.deepEqual(some.command === "run" && some.models, ["p4m", "baseline+tta"]);
  assert.throws(
    () => parseExperimentArgs(["run", "x.yaml", "--out", "d", "--models", "p4m,"]),
    /--models: expected comma-separated model names, got "p4m,"/,
  );
  assert.throws(
    () => parseExperimentArgs(["status", "d", "--models", "p4m"]),
    /--models: not a flag of "status"/,
  );
});

Deno.test("run --models: only those models' cells, a +tta model's being its base's", () => {
  const spec = validateSpec(VARIANTS);
  const cells = expandCells(spec);
  const ids = (models?: string[]) => cellsOfModels(spec, cells, models).map((c) => c.id);
  assert.equal(ids().length, cells.length);
  const p4m = ids(["p4m"]);
  assert.ok(p4m.length > 0 && p4m.every((id) => id.startsWith("p4m-")), p4m.join());
  // baseline+tta is measured in baseline's cells: listing it selects them (and itself).
  const tta = cellsOfModels(spec, cells, ["baseline+tta"]);
  assert.ok(tta.some((c) => c.model === "baseline" && !c.evaluatedIn));
  assert.ok(tta.every((c) => c.model === "baseline" || c.model === "baseline+tta"));
  assert.deepEqual(
    new Set(tta.filter((c) => !c.evaluatedIn).map((c) => c.id)),
    new Set(cells.filter((c) => c.model === "baseline").map((c) => c.id)),
  );
  assert.throws(
    () => cellsOfModels(spec, cells, ["rotscale"]),
    /^SpecError: "rotscale" is not a model of t \(baseline, symmetric, p4m, /,
  );
});

Deno.test("a failed program's reported line is its error, not the runner's markers", () => {
  const log = "$ deno run train.ts\nbaseline epoch 1/2 1/4\rbaseline epoch 1/2 4/4\n" +
    "error: --lr: expected a number\n    at main (x.ts:1)\n[exit 2]\n";
  assert.equal(lastLine(log), "error: --lr: expected a number");
  assert.equal(lastLine("a\rb\n[exit 1]\n"), "b");
});

Deno.test("a cell's step is read from its log: task.ts train|eval, and scripts/*.ts of older cells", async () => {
  const out = await Deno.makeTempDir();
  try {
    const [cell] = expandCells(validateSpec(BASE));
    const paths = cellPaths(out, cell);
    await Deno.mkdir(paths.dir, { recursive: true });
    const cases: [string, string][] = [
      [
        "$ OMP_NUM_THREADS=1 deno run -A /r/lib/experiment/task.ts train /o/c/train-options.json",
        "train",
      ],
      [
        "$ OMP_NUM_THREADS=1 deno run -A /r/lib/experiment/task.ts eval /o/c/eval-options.json",
        "eval",
      ],
      [
        "$ OMP_NUM_THREADS=1 deno run -A /r/scripts/eval.ts --checkpoints /o/c/selected",
        "eval",
      ],
    ];
    for (const [line, step] of cases) {
      await Deno.writeTextFile(
        paths.log,
        `$ x scripts/train.ts --epochs 1\n[exit 0]\n${line}\n`,
      );
      const status = await cellStatus(out, cell);
      assert.deepEqual([status.state, status.step], ["partial", step], line);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

const SMOKE: ExperimentSpec = validateSpec({
  name: "local",
  dataset: "synthetic",
  models: ["baseline", "symmetric"],
  seeds: [1],
  sizes: [48],
  preset: "tiny",
  epochs: 2,
  batchSize: 16,
  valFraction: 0.1,
  epochEvalLimit: 50,
  eval: { sweep: "quick", limit: 50, advLimit: 10 },
});

Deno.test({
  name: "local run: a failing cell does not stop the others; a rerun skips done cells and resumes",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir();
    try {
      const cells = expandCells(SMOKE);
      const [base, sym] = cells;
      // The symmetric cell cannot write its checkpoint: a file where its directory goes.
      const symPaths = cellPaths(out, sym);
      await Deno.mkdir(symPaths.dir, { recursive: true });
      await Deno.writeTextFile(symPaths.ckpt, "not a directory");
      const lines: string[] = [];
      const first = await runLocal(SMOKE, cells, out, {
        jobs: 2,
        progress: (l) => lines.push(l),
        intervalMs: 500,
      });
      const outcome = Object.fromEntries(first.results.map((r) => [r.id, r]));
      assert.equal(
        outcome[base.id].outcome,
        "done",
        await Deno.readTextFile(
          cellPaths(out, base).log,
        ).catch(() => "no log"),
      );
      assert.equal(outcome[sym.id].outcome, "failed");
      assert.equal(outcome[sym.id].failure!.step, "train");
      assert.match(outcome[sym.id].failure!.lastLine, /\S/);
      assert.ok(
        lines.some((l) => l.startsWith(`cell ${sym.id} failed in train:`)),
        lines.join("\n"),
      );
      assert.ok(
        lines.some((l) => /^cells 1\/2 done, 1 failed/.test(l)),
        lines.join("\n"),
      );
      assert.equal((await cellStatus(out, sym)).state, "failed");
      const basePaths = cellPaths(out, base);
      const command = await Deno.readTextFile(basePaths.command);
      assert.match(
        command,
        /OMP_NUM_THREADS=\d+ .*lib\/experiment\/task\.ts train \S+\/train-options\.json\n/,
      );
      assert.match(
        command,
        /lib\/experiment\/task\.ts eval \S+\/eval-options\.json\n/,
      );
      // The options files hold what the commands ran with: the cell's recipe, lib's schemas.
      const trained = JSON.parse(
        await Deno.readTextFile(basePaths.trainOptions),
      );
      assert.deepEqual(trained, trainTask(SMOKE, base, basePaths, false));
      assert.deepEqual(
        [trained.model, trained.trainSize, trained.valFraction, trained.resume],
        ["baseline", 48, 0.1, false],
      );
      const evaluated = JSON.parse(
        await Deno.readTextFile(basePaths.evalOptions),
      );
      assert.equal(evaluated.checkpoints, basePaths.selected);
      assert.deepEqual([evaluated.sweep, evaluated.limit, evaluated.advLimit], [
        "quick",
        50,
        10,
      ]);
      const marker = JSON.parse(await Deno.readTextFile(basePaths.done));
      assert.equal(marker.selected, "baseline-best");

      // Interrupted symmetric run: one epoch of two trained, as a stopped run leaves it.
      await Deno.remove(symPaths.ckpt);
      const train = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "scripts/train.ts",
          "--model=symmetric",
          "--dataset=synthetic",
          "--preset=tiny",
          "--epochs=1",
          "--batch-size=16",
          "--train-size=48",
          "--val-fraction=0.1",
          "--eval-limit=50",
          `--out=${symPaths.ckpt}`,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(train.code, 0, new TextDecoder().decode(train.stderr));
      const baseLog = await Deno.readTextFile(basePaths.log);
      const second = await runLocal(SMOKE, cells, out, {
        jobs: 1,
        progress: () => {},
      });
      assert.deepEqual(second.results.map((r) => [r.id, r.outcome]), [[
        sym.id,
        "done",
      ]]);
      assert.equal(
        await Deno.readTextFile(basePaths.log),
        baseLog,
        "the done cell was skipped",
      );
      const symLog = await Deno.readTextFile(symPaths.log);
      assert.match(symLog, /task\.ts train \S+\/train-options\.json\n/);
      const resumed = JSON.parse(
        await Deno.readTextFile(symPaths.trainOptions),
      );
      assert.equal(resumed.resume, true);
      assert.match(symLog, /symmetric: resuming from .* at epoch 2/);
      assert.ok(
        !await exists(symPaths.failed),
        "failed.json is cleared by the retry",
      );
      const { summary } = await writeSummary(SMOKE, cells, out);
      assert.equal(summary.cells.done, 2);
      assert.equal(summary.metrics.symmetric.clean.n, 1);
      assert.equal(summary.differences.symmetric.clean.n, 1);
      assert.equal(summary.claims[0].verdict, "inconclusive"); // n = 1: no interval
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

async function exists(path: string) {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The grid of the variant tests: every kind of model, per-model sizes and per-size epochs. */
const VARIANTS = {
  ...BASE,
  models: [
    "baseline",
    "symmetric",
    "p4m",
    "baseline+rotaug",
    "baseline+tta",
    "baseline+rotaug+tta",
  ],
  seeds: [1, 2, 3],
  sizes: [100, 400, 1600],
  sizesFor: { p4m: [100, 1600], "baseline+rotaug": [100, 1600] },
  epochs: 2,
  epochsFor: { 100: 10 },
  curveEveryFor: { 100: 5 },
};

Deno.test("variants: names parse, and bad names, bases, sizesFor and epochsFor are one-line errors", () => {
  assert.deepEqual(variantOf("rotscale"), {
    arch: "rotscale",
    rotaug: false,
    tta: false,
  });
  assert.deepEqual(variantOf("baseline+rotaug"), {
    arch: "baseline",
    rotaug: true,
    tta: false,
  });
  assert.deepEqual(variantOf("symmetric+tta"), {
    arch: "symmetric",
    rotaug: false,
    tta: true,
    base: "symmetric",
  });
  assert.deepEqual(variantOf("baseline+rotaug+tta"), {
    arch: "baseline",
    rotaug: true,
    tta: true,
    base: "baseline+rotaug",
  });
  for (
    const bad of [
      "resnet",
      "symmetric+rotaug",
      "baseline+tta+tta",
      "+tta",
      "constructor",
    ]
  ) {
    assert.equal(variantOf(bad), undefined, bad);
  }
  const cases: [unknown, RegExp][] = [
    [
      { ...BASE, models: ["baseline", "resnet"] },
      /models\[1\]: expected baseline, symmetric, p4m, scale, rotscale, baseline\+rotaug, or one of them \+ "\+tta", got "resnet"/,
    ],
    [
      { ...BASE, models: ["symmetric+tta"] },
      /models\[0\]: symmetric\+tta is evaluated from symmetric's checkpoints, so models must list symmetric/,
    ],
    [
      { ...BASE, sizesFor: { p4m: [10] } },
      /sizesFor\.p4m: not one of models \(baseline\)/,
    ],
    [
      { ...BASE, sizes: [10], sizesFor: { baseline: [10, 10] } },
      /sizesFor\.baseline: 10 is listed twice/,
    ],
    [
      {
        ...BASE,
        models: ["baseline", "p4m"],
        sizes: [10],
        sizesFor: { p4m: [0.5] },
      },
      /sizes: expected all counts .* in sizes and sizesFor/,
    ],
    [
      { ...BASE, sizes: [10], sizesFor: { baseline: [10.5] } },
      /sizesFor\.baseline\[0\]: expected an integer count/,
    ],
    [
      {
        ...BASE,
        models: ["baseline", "baseline+tta"],
        sizes: [10, 20],
        sizesFor: { baseline: [10], "baseline+tta": [20] },
      },
      /sizesFor\.baseline\+tta: size 20 has no baseline cell to evaluate \(baseline has \[10\]\)/,
    ],
    [
      { ...BASE, sizes: [10], epochsFor: { 20: 3 } },
      /epochsFor\.20: not a size of the grid \(10\)/,
    ],
    [
      { ...BASE, sizes: [10], curveEveryFor: { 20: 3 } },
      /curveEveryFor\.20: not a size of the grid \(10\)/,
    ],
    [{ ...BASE, curveEvery: 0 }, /curveEvery: /],
  ];
  for (const [raw, pattern] of cases) {
    assert.throws(() => validateSpec(raw, "x.yaml"), (e: Error) => {
      assert.ok(e instanceof SpecError, e.message);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
      return true;
    });
  }
});

Deno.test("variants and sizesFor expand: each model at its sizes, +tta cells evaluated in their base", () => {
  const spec = validateSpec(VARIANTS);
  assert.deepEqual(gridSizes(spec), [100, 400, 1600]);
  assert.deepEqual(modelSizes(spec, "baseline+rotaug+tta"), [100, 1600]); // its base's
  assert.deepEqual(modelSizes(spec, "baseline+tta"), [100, 400, 1600]);
  const cells = expandCells(spec);
  const count = (model: string, size?: number) =>
    cells.filter((c) => c.model === model && (size === undefined || c.size === size)).length;
  assert.equal(count("baseline"), 9);
  assert.equal(count("symmetric"), 9);
  assert.equal(count("p4m"), 6);
  assert.equal(count("p4m", 400), 0);
  assert.equal(count("baseline+rotaug"), 6);
  assert.equal(count("baseline+rotaug+tta"), 6);
  assert.equal(count("baseline+tta"), 9);
  assert.equal(cells.length, 9 + 9 + 6 + 6 + 9 + 6);
  assert.equal(new Set(cells.map((c) => c.id)).size, cells.length);
  assert.deepEqual(cells.map((c) => c.index), cells.map((_, i) => i));
  const byId = new Map(cells.map((c) => [c.id, c]));
  for (const c of cells) {
    assert.match(c.id, /^[A-Za-z0-9_.-]+$/, "ids are path- and shell-safe");
    if (!c.model.endsWith("+tta")) {
      assert.equal(c.evaluatedIn, undefined);
      continue;
    }
    // The base cell exists, has the same seed, size and augmentation, and is a trained cell.
    const base = byId.get(c.evaluatedIn!)!;
    assert.ok(base, c.id);
    assert.equal(base.model, variantOf(c.model)!.base);
    assert.deepEqual([base.seed, base.size, base.augment], [
      c.seed,
      c.size,
      c.augment,
    ]);
    assert.equal(base.evaluatedIn, undefined);
  }
  const rot = cells.find((c) => c.model === "baseline+rotaug+tta")!;
  assert.equal(rot.id, "baseline_rotaug_tta-s1-n100-shift");
  assert.equal(rot.evaluatedIn, "baseline_rotaug-s1-n100-shift");
  assert.equal(reportName(rot), "baseline+tta");
  assert.equal(
    reportName(cells.find((c) => c.model === "baseline+rotaug")!),
    "baseline",
  );
  assert.equal(cellEpochs(spec, { size: 100 }), 10);
  assert.equal(cellEpochs(spec, { size: 400 }), 2);
});

Deno.test("variant cells' options: rotaug trains baseline with shift+rotate; bases evaluate tta", () => {
  const spec = validateSpec({ ...VARIANTS, augmentations: ["shift+rot90"] });
  const cells = expandCells(spec);
  const options = (id: string) => {
    const c = cells.find((x) => x.id === id)!;
    const paths = cellPaths("/x", c);
    return {
      train: trainTask(spec, c, paths, false),
      eval: evalTask(spec, paths, c),
    };
  };
  const rot = options("baseline_rotaug-s2-n100-shift_rot90");
  assert.deepEqual(
    [
      rot.train.model,
      rot.train.epochs,
      rot.train.augment,
      rot.train.seed,
      rot.train.trainSize,
    ],
    ["baseline", 10, "shift+rotate", 2, 100],
  );
  assert.deepEqual(rot.eval.tta, ["baseline"]);
  // curveEveryFor at its size, curveEvery (default 1) elsewhere.
  assert.equal(rot.train.curveEvery, 5);
  assert.equal(options("baseline-s2-n400-shift_rot90").train.curveEvery, 1);
  const base = options("baseline-s2-n400-shift_rot90");
  assert.deepEqual(
    [base.train.model, base.train.epochs, base.train.augment],
    ["baseline", 2, "shift+rot90"],
  );
  assert.deepEqual(base.eval.tta, ["baseline"]);
  const sym = options("symmetric-s2-n400-shift_rot90");
  assert.deepEqual([sym.train.model, sym.train.augment], [
    "symmetric",
    "shift+rot90",
  ]);
  assert.equal(sym.eval.tta, undefined);
  // The recipe is the spec's, and the files point into the cell.
  assert.deepEqual(
    [
      sym.train.lr,
      sym.train.valFraction,
      sym.train.evalLimit,
      sym.train.out,
      sym.train.resume,
    ],
    [
      spec.lr,
      spec.valFraction,
      spec.epochEvalLimit,
      "/x/symmetric-s2-n400-shift_rot90/ckpt",
      false,
    ],
  );
  assert.deepEqual(
    [sym.eval.checkpoints, sym.eval.out, sym.eval.sweep, sym.eval.pgdRestarts],
    [
      "/x/symmetric-s2-n400-shift_rot90/selected",
      "/x/symmetric-s2-n400-shift_rot90/eval",
      spec.eval.sweep,
      spec.eval.pgdRestarts,
    ],
  );
  // Without +tta in the grid no cell asks for it.
  const plain = validateSpec({ ...BASE, models: ["baseline"] });
  const [c] = expandCells(plain);
  assert.equal(evalTask(plain, cellPaths("/x", c), c).tta, undefined);
});

Deno.test("a directory's experiment may change only its curve points between runs", async () => {
  const out = await Deno.makeTempDir();
  const logged: string[] = [];
  const log = console.log;
  console.log = (line: string) => logged.push(line);
  try {
    const first = validateSpec(VARIANTS);
    const cells = await saveExperiment("v.yaml", first, out);
    assert.equal(cells.length, expandCells(first).length);
    // An experiment.json from before curveEvery existed (the key absent) is the same experiment.
    const saved = JSON.parse(await Deno.readTextFile(`${out}/experiment.json`));
    delete saved.spec.curveEvery;
    await Deno.writeTextFile(`${out}/experiment.json`, JSON.stringify(saved));
    await saveExperiment("v.yaml", first, out);
    assert.deepEqual(logged, []);
    // Curve points may move; the log says what changed and that the numbers do not.
    await saveExperiment("v.yaml", validateSpec({ ...VARIANTS, curveEveryFor: { 100: 2 } }), out);
    assert.match(logged.join("\n"), /curveEveryFor changed since the last run; .* the same/);
    // Anything that changes what a cell trains or measures is refused, and the file is kept.
    const before = await Deno.readTextFile(`${out}/experiment.json`);
    await assert.rejects(
      () => saveExperiment("v.yaml", validateSpec({ ...VARIANTS, epochs: 3 }), out),
      /holds a different experiment \(epochs changed\): use another --out/,
    );
    assert.equal(await Deno.readTextFile(`${out}/experiment.json`), before);
    await Deno.writeTextFile(`${out}/experiment.json`, "{ not json");
    await assert.rejects(
      () => saveExperiment("v.yaml", first, out),
      /experiment\.json does not hold a valid experiment \(.*\): use another --out/,
    );
    assert.equal(await Deno.readTextFile(`${out}/experiment.json`), "{ not json");
  } finally {
    console.log = log;
    await Deno.remove(out, { recursive: true });
  }
});

/** A fake eval report.json of several entries: `name → [clean, rotated, pgd]`. */
function reportOf(entries: Record<string, [number, number, number]>) {
  const results: Record<string, unknown> = {};
  for (const [name, [clean, rotated, pgd]] of Object.entries(entries)) {
    results[name] = report(name, clean, rotated, pgd).results[name];
  }
  const provenance = {
    commit: "c0ffee",
    dirty: false,
    backend: "wasm",
    onednn: "2.6.3",
  };
  return { results, backend: "wasm: test", provenance };
}

/** Writes the VARIANTS grid's cells with known numbers; returns the spec and cells. */
async function writeVariantGrid(out: string) {
  const spec = validateSpec(VARIANTS);
  const cells = expandCells(spec);
  await Deno.writeTextFile(
    `${out}/experiment.json`,
    JSON.stringify({ file: "variants.yaml", spec, cells }, null, 2),
  );
  // clean = 0.5 + size/10⁴ + model offset + seed jitter; TTA adds 0.01 to clean and its
  // rotated accuracy is its clean accuracy (invariant to the exact turns).
  const offset: Record<string, number> = {
    baseline: 0,
    symmetric: 0.04,
    p4m: 0.03,
  };
  for (const c of cells.filter((x) => !x.evaluatedIn)) {
    const jitter = [0.01, -0.01, 0.004][c.seed - 1];
    const clean = 0.5 + c.size / 1e4 + (offset[c.model] ?? 0.02) + jitter;
    const entries: Record<string, [number, number, number]> = {
      [reportName(c)]: [clean, clean / 2, 0.1 + jitter],
    };
    const tta = cells.some((x) => x.evaluatedIn === c.id);
    if (tta) {
      entries[`${reportName(c)}+tta`] = [
        clean + 0.01,
        clean + 0.01,
        0.12 + jitter,
      ];
    }
    await writeCell(out, c.id, reportOf(entries));
  }
  return { spec, cells };
}

Deno.test("aggregate with variants: +tta from its base's report, pairs at each model's sizes", async () => {
  const out = await Deno.makeTempDir();
  try {
    const { spec, cells } = await writeVariantGrid(out);
    const s = await aggregate(spec, cells, out);
    assert.deepEqual(s.main, { size: 1600, augment: "shift" });
    assert.deepEqual(s.provenance, {
      commits: ["c0ffee"],
      dirty: false,
      backends: ["wasm"],
      onednn: ["2.6.3"],
    });
    assert.equal(s.cells.total, cells.length);
    assert.equal(s.cells.done, cells.length);
    const at = (size: number) => s.settings.find((x) => x.size === size)!;
    assert.deepEqual(Object.keys(at(400).metrics).sort(), [
      "baseline",
      "baseline+tta",
      "symmetric",
    ]);
    assert.equal(Object.keys(at(1600).metrics).length, 6);
    // baseline+tta − baseline = 0.01 for every seed; rotated: (clean + .01) − clean/2.
    const d = at(400).differences["baseline+tta"];
    assert.deepEqual(d.clean.values.map((v) => Number(v.toFixed(12))), [
      0.01,
      0.01,
      0.01,
    ]);
    const b = 0.5 + 0.04; // baseline clean at 400 without jitter
    const rot = [0.01, -0.01, 0.004].map((j) => (b + j + 0.01) - (b + j) / 2);
    d.randomRotation.values.forEach((v, i) => assert.ok(Math.abs(v - rot[i]) < 1e-12));
    // rotaug is paired with baseline (not with itself) at the same seed and size: +0.02.
    const r = at(100).differences["baseline+rotaug"].clean;
    assert.equal(r.n, 3);
    assert.ok(Math.abs(r.mean - 0.02) < 1e-12);
    // rotaug+tta: its base's report entry baseline+tta, i.e. rotaug's clean + 0.01 − baseline.
    assert.ok(
      Math.abs(at(1600).differences["baseline+rotaug+tta"].clean.mean - 0.03) <
        1e-12,
    );
    assert.ok(Math.abs(at(1600).differences.p4m.clean.mean - 0.03) < 1e-12);
    // Data efficiency: each model at exactly its sizes.
    for (const model of spec.models) {
      const sizes = s.dataEfficiency.filter((e) => e.model === model && e.metric === "clean")
        .map((e) => e.size);
      assert.deepEqual(sizes, modelSizes(spec, model), model);
    }
    // Claims: every model and variant against baseline, limited-data at the smallest size.
    const models = [...new Set(s.claims.map((c) => c.model))];
    assert.deepEqual(models, spec.models.filter((m) => m !== "baseline"));
    const ld = s.claims.find((c) => c.model === "p4m" && c.id === "limited-data")!;
    assert.equal(ld.size, 100);
    assert.equal(ld.verdict, "holds");
    // A +tta cell stands where its base stands; running it does nothing.
    const tta = cells.find((c) => c.model === "baseline+tta")!;
    assert.equal((await cellStatus(out, tta)).state, "done");
    const r2 = await runCell(spec, tta, out, { threads: 1 });
    assert.equal(r2.outcome, "skipped");
    await Deno.remove(cellPaths(out, { id: tta.evaluatedIn! }).done);
    assert.notEqual((await cellStatus(out, tta)).state, "done");
    const partial = await aggregate(spec, cells, out);
    assert.ok(
      partial.cells.missing.includes(tta.id) &&
        partial.cells.missing.includes(tta.evaluatedIn!),
    );
    // A base report without the +tta entry is a one-line error naming the file and model.
    await writeCell(
      out,
      tta.evaluatedIn!,
      reportOf({ baseline: [0.5, 0.2, 0.1] }),
    );
    await assert.rejects(
      () => aggregate(spec, cells, out),
      /baseline-s1-n100-shift\/eval\/report\.json: no results for model "baseline\+tta" \(cell baseline_tta-s1-n100-shift\)/,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("compareSummary: a committed cell directory re-aggregates to its committed summary", async () => {
  const out = await Deno.makeTempDir();
  try {
    const { spec, cells } = await writeVariantGrid(out);
    const { summary } = await writeSummary(spec, cells, out);
    const ok = await compareSummary(out);
    assert.deepEqual(ok.mismatches, []);
    assert.deepEqual(ok.summary.claims, summary.claims);
    // One cell's number changed after the summary was written: the comparison names it.
    const id = "symmetric-s2-n400-shift";
    const path = `${cellPaths(out, { id }).evalDir}/report.json`;
    const r = JSON.parse(await Deno.readTextFile(path));
    r.results.symmetric.clean.top1 += 0.001;
    await Deno.writeTextFile(path, JSON.stringify(r));
    const bad = await compareSummary(out);
    assert.ok(bad.mismatches.length > 0);
    assert.ok(
      bad.mismatches.some((m) =>
        /^settings\[1\]\.metrics\.symmetric\.clean\.values\[1\]: /.test(m)
      ),
      bad.mismatches.join("\n"),
    );
    assert.ok(bad.mismatches.every((m) => !m.startsWith("generatedAt")));
    await assert.rejects(
      () => compareSummary(`${out}/none`),
      /none\/experiment\.json: cannot read/,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

// The committed studies (docs/results/study/<name>/ with experiment.json and summary.json):
// each must re-aggregate from its committed cells to exactly its committed summary.
const STUDY = new URL("../docs/results/study/", import.meta.url).pathname;
const studies = (() => {
  try {
    return [...Deno.readDirSync(STUDY)].filter((e) => e.isDirectory).map((e) => e.name)
      .filter((n) => {
        try {
          Deno.statSync(`${STUDY}${n}/summary.json`);
          return true;
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
})();
for (const name of studies) {
  Deno.test(`committed study ${name} re-aggregates to its summary.json`, async () => {
    const { mismatches } = await compareSummary(`${STUDY}${name}`);
    assert.deepEqual(mismatches, []);
  });
}

Deno.test("the study files validate: 3+ seeds, issue 18's models, baseline and symmetric along the curve", async () => {
  const files = [...Deno.readDirSync(STUDY)].filter((e) => e.name.endsWith(".yaml"));
  assert.deepEqual(files.map((f) => f.name).sort(), [
    "fashion-mnist-reference.yaml",
    "fashion-mnist-tiny.yaml",
    "synthetic-tiny.yaml",
  ]);
  for (const f of files) {
    const spec = await readSpec(`${STUDY}${f.name}`);
    assert.ok(spec.seeds.length >= 3, f.name);
    for (const m of ["baseline", "symmetric", "p4m", "scale", "rotscale"]) {
      assert.ok(spec.models.includes(m), `${f.name}: ${m}`);
    }
    assert.ok(
      spec.models.includes("baseline+rotaug") &&
        spec.models.includes("baseline+tta"),
    );
    const all = gridSizes(spec);
    const smallest = Math.min(...all);
    assert.deepEqual(modelSizes(spec, "baseline"), all, f.name);
    assert.deepEqual(modelSizes(spec, "symmetric"), all, f.name);
    for (const m of spec.models) {
      const own = modelSizes(spec, m);
      assert.ok(
        own.includes(smallest) && own.length >= 2,
        `${f.name}: ${m} at ${own}`,
      );
    }
  }
});

Deno.test("the reference-size study is issue 23's grid: 4 sizes, 5 seeds at the two smallest, the whole test set", async () => {
  const spec = await readSpec(`${STUDY}fashion-mnist-reference.yaml`);
  assert.equal(spec.preset, "reference");
  assert.deepEqual(gridSizes(spec), [600, 3000, 12000, 54000]);
  assert.deepEqual([600, 3000, 12000, 54000].map((n) => sizeSeeds(spec, n).length), [5, 5, 3, 3]);
  assert.deepEqual(modelSizes(spec, "scale"), [600, 3000]);
  assert.deepEqual(modelSizes(spec, "rotscale"), [600, 3000]);
  assert.equal(spec.eval.limit, 10000);
  assert.ok(spec.eval.advLimit >= 1000 && spec.eval.pgdSteps! >= 20 && spec.eval.pgdRestarts >= 3);
  assert.equal(spec.eval.sweep, "study");
});

Deno.test("seedsFor gives a size its own seeds; a size outside the grid or a repeated seed is a one-line error", () => {
  const spec = validateSpec({
    ...BASE,
    models: ["baseline", "symmetric", "baseline+tta"],
    seeds: [1, 2, 3],
    sizes: [100, 400],
    seedsFor: { 100: [1, 2, 3, 4, 5] },
  });
  const cells = expandCells(spec);
  const seedsAt = (size: number, model: string) =>
    cells.filter((c) => c.size === size && c.model === model).map((c) => c.seed);
  for (const model of ["baseline", "symmetric", "baseline+tta"]) {
    assert.deepEqual(seedsAt(100, model), [1, 2, 3, 4, 5], model);
    assert.deepEqual(seedsAt(400, model), [1, 2, 3], model);
  }
  assert.equal(cells.length, 3 * (5 + 3));
  assert.equal(new Set(cells.map((c) => c.id)).size, cells.length);
  assert.deepEqual(cells.map((c) => c.index), cells.map((_, i) => i));
  assert.equal(sizeSeeds(spec, 400), spec.seeds);
  assert.throws(
    () => validateSpec({ ...BASE, sizes: [100], seedsFor: { 200: [1] } }),
    /^SpecError: experiment: seedsFor\.200: not a size of the grid \(100\)$/,
  );
  assert.throws(
    () => validateSpec({ ...BASE, sizes: [100], seedsFor: { 100: [1, 2, 1] } }),
    /seedsFor\.100: 1 is listed twice/,
  );
});
