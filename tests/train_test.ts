import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { loadDataset } from "../lib/data/mod.ts";
import { loadCheckpoint, saveCheckpoint } from "../lib/model/checkpoint.ts";
import { TRAIN_DEFAULTS, type TrainOptions } from "../lib/train/options.ts";
import { learningRate } from "../lib/train/schedule.ts";
import { TrainingError, trainModel } from "../lib/train/train.ts";
import { parseTrainArgs } from "../scripts/train.ts";
import { setNativeEnabled } from "../lib/kernels/mod.ts";
import { maxAbsDiff, useBackend } from "./helpers.ts";

await useBackend("wasm");

const { dataset } = await loadDataset({
  name: "synthetic",
  seed: 3,
  syntheticTrain: 320,
  syntheticTest: 64,
});

function options(out: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...TRAIN_DEFAULTS,
    preset: "tiny",
    epochs: 2,
    batchSize: 32,
    lr: 0.05,
    limit: 256,
    evalLimit: 64,
    out,
    ...extra,
  } as TrainOptions;
}

const quiet = { log: () => {}, progress: false };
const context = { backend: "wasm" };

Deno.test("one-cycle and cosine schedules have the documented shape", () => {
  const o = { lr: 1, schedule: "onecycle" as const };
  assert.ok(Math.abs(learningRate(o, 0) - 0.1) < 1e-9);
  assert.ok(Math.abs(learningRate(o, 0.15) - 1) < 1e-9);
  assert.ok(learningRate(o, 1) < 0.002);
  const c = { lr: 1, schedule: "cosine" as const };
  for (let i = 0; i < 10; i++) assert.ok(learningRate(c, (i + 1) / 10) <= learningRate(c, i / 10));
  assert.equal(learningRate({ lr: 0.3, schedule: "constant" }, 0.7), 0.3);
});

Deno.test("train flags: defaults, --quick, and one-line errors that name the flag", () => {
  const d = parseTrainArgs([]);
  assert.equal(d.options.epochs, TRAIN_DEFAULTS.epochs);
  assert.equal(d.options.dataset, "auto");
  const q = parseTrainArgs(["--quick"]);
  assert.equal(q.options.dataset, "synthetic");
  assert.equal(q.options.limit, 2000);
  // What was given beats --quick's defaults.
  assert.equal(parseTrainArgs(["--quick", "--epochs", "3"]).options.epochs, 3);
  assert.throws(
    () => parseTrainArgs(["--epochs", "two"]),
    /--epochs: expected an integer ≥ 1, got "two"/,
  );
  assert.throws(() => parseTrainArgs(["--epochs", "0"]), /--epochs/);
  assert.throws(() => parseTrainArgs(["--model", "resnet"]), /--model/);
  assert.throws(() => parseTrainArgs(["--preset", "huge"]), /--preset: expected one of tiny/);
  assert.throws(() => parseTrainArgs(["--dataset", "mnist"]), /--dataset: expected one of/);
  assert.throws(() => parseTrainArgs(["--backend", "tpu"]), /--backend/);
  assert.throws(() => parseTrainArgs(["--batch-size", "-1"]), /--batch-size/);
  assert.throws(() => parseTrainArgs(["--bogus"]), /bogus/);
  assert.equal(parseTrainArgs(["--workers", "2"]).options.workers, 2);
  assert.throws(() => parseTrainArgs(["--workers", "-1"]), /--workers/);
  assert.throws(
    () => parseTrainArgs(["--workers", "2", "--backend", "webgpu"]),
    /--workers: the workers run pure wasm/,
  );
});

Deno.test("trainModel writes per-epoch metrics and checkpoints with steady memory", async () => {
  const out = await Deno.makeTempDir();
  const result = await trainModel("symmetric", dataset, options(out), context, quiet);
  assert.equal(result.epochs.length, 2);
  for (
    const key of ["trainLoss", "trainAcc", "testAcc", "perturbedAcc", "rotatedAcc", "imgPerSec"]
  ) {
    assert.equal(typeof result.epochs[0][key], "number", key);
  }
  const lines = (await Deno.readTextFile(`${out}/symmetric/metrics.jsonl`)).trim().split("\n");
  assert.equal(lines.length, 2);
  assert.equal(JSON.parse(lines[1]).epoch, 2);
  const { meta } = await loadCheckpoint(`${out}/symmetric`);
  assert.equal(meta.epoch, 2);
  assert.equal(meta.dataset.name, "synthetic");
  await Deno.stat(`${out}/symmetric-best/weights.bin`);
  assert.equal(new Set(result.tensorsAfterEpoch).size, 1, `${result.tensorsAfterEpoch}`);
  await Deno.remove(out, { recursive: true });
});

Deno.test("--workers 1 trains exactly like one process (SGD + L2); --workers 2 trains too", async () => {
  setNativeEnabled(false); // the workers run pure wasm: compare like with like
  try {
    const sgd = { optimizer: "sgd", lr: 0.02, weightDecay: 5e-3, epochs: 1 } as const;
    const outs = [await Deno.makeTempDir(), await Deno.makeTempDir(), await Deno.makeTempDir()];
    const single = await trainModel("baseline", dataset, options(outs[0], sgd), context, quiet);
    const one = await trainModel(
      "baseline",
      dataset,
      options(outs[1], { ...sgd, workers: 1 }),
      context,
      quiet,
    );
    const loss = (r: typeof one, e: number) => r.epochs[e].trainLoss as number;
    assert.ok(Math.abs(loss(one, 0) - loss(single, 0)) < 1e-4);
    const [a, b] = await Promise.all(outs.slice(0, 2).map((o) => loadCheckpoint(`${o}/baseline`)));
    a.model.getWeights().forEach((w, i) => {
      const scale = Math.max(1, ...Array.from(w.dataSync(), Math.abs));
      assert.ok(maxAbsDiff(w, b.model.getWeights()[i]) / scale < 1e-4, a.model.weights[i].name);
    });
    const two = await trainModel(
      "symmetric",
      dataset,
      options(outs[2], { workers: 2 }),
      context,
      quiet,
    );
    assert.ok(loss(two, 1) < loss(two, 0), "loss falls with 2 workers");
    assert.equal(new Set(two.tensorsAfterEpoch).size, 1, `${two.tensorsAfterEpoch}`);
    for (const o of outs) await Deno.remove(o, { recursive: true });
  } finally {
    setNativeEnabled(true);
  }
});

Deno.test("an interrupted run resumed with --resume gives the same curve and weights", async () => {
  const straight = await Deno.makeTempDir();
  const full = await trainModel("baseline", dataset, options(straight), context, quiet);
  const split = await Deno.makeTempDir();
  const stop = new AbortController();
  stop.abort(); // stops after the first batch, as Ctrl-C would
  const first = await trainModel("baseline", dataset, options(split), context, {
    ...quiet,
    signal: stop.signal,
  });
  assert.equal(first.interrupted, true);
  const saved = await loadCheckpoint(`${split}/baseline`);
  assert.deepEqual((saved.meta.training as { state: { batch: number } }).state.batch, 1);
  const resumed = await trainModel(
    "baseline",
    dataset,
    options(split, { resume: true }),
    context,
    quiet,
  );
  assert.equal(resumed.epochs.length, 2);
  for (let e = 0; e < 2; e++) {
    for (const key of ["trainLoss", "trainAcc", "testAcc", "perturbedAcc", "rotatedAcc"]) {
      const [a, b] = [full.epochs[e][key] as number, resumed.epochs[e][key] as number];
      assert.ok(Math.abs(a - b) < 1e-5, `epoch ${e + 1} ${key}: ${a} vs ${b}`);
    }
  }
  const [wa, wb] = await Promise.all([
    loadCheckpoint(`${straight}/baseline`),
    loadCheckpoint(`${split}/baseline`),
  ]);
  const diff = wa.model.getWeights().map((w, i) =>
    tf.max(tf.abs(w.sub(wb.model.getWeights()[i]))).dataSync()[0]
  );
  assert.ok(Math.max(...diff) < 1e-5, `weights differ by ${Math.max(...diff)}`);
  await Deno.remove(straight, { recursive: true });
  await Deno.remove(split, { recursive: true });
});

Deno.test("--curve-every: curves only every N epochs and at the last, training and choice unchanged", async () => {
  const val = { epochs: 3, valFraction: 0.25 };
  const outs = [await Deno.makeTempDir(), await Deno.makeTempDir(), await Deno.makeTempDir()];
  const every = await trainModel("baseline", dataset, options(outs[0], val), context, quiet);
  const sparse = await trainModel(
    "baseline",
    dataset,
    options(outs[1], { ...val, curveEvery: 2 }),
    context,
    quiet,
  );
  const curves = ["testAcc", "perturbedAcc", "rotatedAcc"];
  // Epoch 1 has no curve point, epoch 2 is one (2 | 2), epoch 3 is the last.
  assert.deepEqual(
    sparse.epochs.map((r) => curves.filter((k) => k in r).length),
    [0, 3, 3],
  );
  for (let e = 0; e < 3; e++) {
    // Validation every epoch, and the same numbers: skipping curve points changes no training.
    for (const key of ["trainLoss", "trainAcc", "valAcc"]) {
      assert.equal(sparse.epochs[e][key], every.epochs[e][key], `epoch ${e + 1} ${key}`);
    }
    for (const key of curves) {
      if (key in sparse.epochs[e]) assert.equal(sparse.epochs[e][key], every.epochs[e][key]);
    }
  }
  for (const dir of ["baseline", "baseline-best"]) {
    const [a, b] = await Promise.all(outs.slice(0, 2).map((o) => loadCheckpoint(`${o}/${dir}`)));
    assert.equal(a.meta.epoch, b.meta.epoch, dir);
    a.model.getWeights().forEach((w, i) =>
      assert.equal(maxAbsDiff(w, b.model.getWeights()[i]), 0, `${dir} ${a.model.weights[i].name}`)
    );
  }
  // Without a validation split test chooses the checkpoint, so it is measured every epoch.
  const noVal = await trainModel(
    "baseline",
    dataset,
    options(outs[2], { epochs: 3, curveEvery: 2 }),
    context,
    quiet,
  );
  assert.ok(noVal.epochs.every((r) => curves.every((k) => k in r)));
  assert.throws(() => parseTrainArgs(["--curve-every", "0"]), /--curve-every: expected/);
  assert.equal(parseTrainArgs(["--curve-every", "5"]).options.curveEvery, 5);
  for (const o of outs) await Deno.remove(o, { recursive: true });
});

Deno.test("a non-finite loss stops training with a clear error and keeps the checkpoint", async () => {
  const out = await Deno.makeTempDir();
  await trainModel("baseline", dataset, options(out, { epochs: 1 }), context, quiet);
  const { model, meta } = await loadCheckpoint(`${out}/baseline`, { withOptimizer: true });
  // Poison the classifier's kernel (a conv's NaNs would be zeroed by ReLU), save it as a
  // resumable checkpoint, and resume from it.
  const poisoned = model.getWeights().map((w) => w.rank === 2 ? w.mul(Infinity) : w);
  model.setWeights(poisoned);
  const { format: _f, weightsSha256: _w, createdAt: _c, optimizer: _o, ...rest } = meta;
  const hash = await saveCheckpoint(`${out}/baseline`, model, { meta: rest });
  await assert.rejects(
    trainModel("baseline", dataset, options(out, { epochs: 2, resume: true }), context, quiet),
    (e: Error) =>
      e instanceof TrainingError && /loss became (NaN|Infinity)/.test(e.message) &&
      e.message.includes("last good checkpoint"),
  );
  assert.equal((await loadCheckpoint(`${out}/baseline`)).meta.weightsSha256, hash);
  await Deno.remove(out, { recursive: true });
});

Deno.test("Ctrl-C during `deno task train` saves a resumable checkpoint and exits 0", async () => {
  const out = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "scripts/train.ts",
      "--quick",
      "--preset",
      "tiny",
      "--model",
      "baseline",
      "--backend",
      "wasm",
      "--out",
      out,
      "--epochs",
      "50",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const decoder = new TextDecoder();
  let seen = "";
  const reader = child.stderr.getReader();
  while (!/baseline epoch 1\/50 \d+\//.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += decoder.decode(value);
  }
  child.kill("SIGINT");
  reader.releaseLock();
  const status = await child.status;
  await child.stderr.cancel().catch(() => {});
  const stdout = decoder.decode(await new Response(child.stdout).arrayBuffer());
  assert.equal(status.code, 0, stdout + seen);
  assert.match(stdout, /interrupted after (batch|epoch) \d+/);
  const { meta } = await loadCheckpoint(`${out}/baseline`);
  assert.ok(meta.training, "resume state saved");
  await Deno.remove(out, { recursive: true });
});

Deno.test("trainModel --micro-batch: says so, trains (loss falls), leaks nothing, records the option", async () => {
  const out = await Deno.makeTempDir();
  const lines: string[] = [];
  const opts = options(out, { microBatch: 3 });
  const r = await trainModel("baseline", dataset, opts, context, {
    log: (l) => lines.push(l),
    progress: false,
  });
  assert.ok(lines.some((l) => /accumulated over chunks of 3/.test(l)), lines.join("\n"));
  assert.ok((r.epochs[1].trainLoss as number) < (r.epochs[0].trainLoss as number));
  assert.equal(new Set(r.tensorsAfterEpoch).size, 1, `${r.tensorsAfterEpoch}`);
  const { meta } = await loadCheckpoint(`${out}/baseline`);
  assert.equal((meta.training as { options: TrainOptions }).options.microBatch, 3);
  await Deno.remove(out, { recursive: true });
});

Deno.test("Ctrl-C mid-epoch stops at the next batch, not at the epoch's end", async () => {
  // A signal aborted by a timer (a macrotask, as a SIGINT listener is): the loop must let it run
  // between batches. Before the yield in trainModel's batch loop it ran only after the epoch.
  const out = await Deno.makeTempDir();
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 0);
  const run = await trainModel("baseline", dataset, options(out, { epochs: 1 }), context, {
    ...quiet,
    signal: stop.signal,
  });
  assert.equal(run.interrupted, true);
  const saved = await loadCheckpoint(`${out}/baseline`);
  const state = (saved.meta.training as { state: { epoch: number; batch: number } }).state;
  assert.equal(state.epoch, 0);
  assert.ok(state.batch >= 1 && state.batch < 8, `stopped after batch ${state.batch} of 8`);
  await Deno.remove(out, { recursive: true });
});
