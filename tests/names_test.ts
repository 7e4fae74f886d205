import assert from "node:assert/strict";
import { MODEL_NAMES, modelConfig } from "../lib/model/models.ts";
import { evaluate } from "../lib/eval/evaluate.ts";
import { setBackend } from "../lib/kernels/backend.ts";
import { loadDataset } from "../lib/data/mod.ts";
import { lookup } from "../lib/validate.ts";
import { parseTrainArgs } from "../scripts/train.ts";
import { parseBenchArgs, torchArgs, torchRun } from "../scripts/bench.ts";
import { UsageError } from "../scripts/cli.ts";

// Names inherited from Object.prototype: `name in table` is true for each of them.
const INHERITED = ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"];

/** Runs a script with arguments; returns its exit code and stderr. */
async function run(script: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Asserts a one-line "error: --flag: expected one of …, got …" naming every valid choice. */
function assertNamesChoices(message: string, flag: string, choices: string[], bad: string) {
  const first = message.trim().split("\n")[0];
  assert.match(first, new RegExp(`^(error: )?--${flag}: expected one of `), first);
  for (const c of choices) assert.ok(first.includes(c), `${first} lacks "${c}"`);
  assert.ok(first.includes(`"${bad}"`), `${first} lacks the bad value`);
}

const TRAIN_FAMILIES: [string, string[]][] = [
  ["preset", ["tiny", "small", "paper", "reference"]],
  ["model", ["baseline", "symmetric", "p4m", "scale", "rotscale", "both", "all"]],
  ["dataset", ["auto", "cifar100", "cifar10", "fashion-mnist", "synthetic"]],
  ["backend", ["auto", "webgpu", "wasm", "cpu"]],
  ["optimizer", ["sgd", "adam"]],
  ["schedule", ["onecycle", "cosine", "constant"]],
  ["augment", ["none", "shift", "shift+rot90", "shift+rotate"]],
];

for (const [flag, choices] of TRAIN_FAMILIES) {
  Deno.test(`train --${flag}: inherited and unknown names are one-line errors naming the choices`, () => {
    for (const bad of [...INHERITED, "nope"]) {
      assert.throws(
        () => parseTrainArgs([`--${flag}`, bad]),
        (e: Error) => (assertNamesChoices(e.message, flag, choices, bad), true),
      );
    }
    // Every valid choice is accepted.
    for (const good of choices) parseTrainArgs([`--${flag}`, good]);
  });
}

Deno.test("train --model takes a comma-separated list, and names the bad member's choices", () => {
  assert.equal(parseTrainArgs(["--model", "scale,rotscale"]).options.model, "scale,rotscale");
  assert.throws(
    () => parseTrainArgs(["--model", "scale,toString"]),
    /^UsageError: --model: expected one of baseline, .* or all, or a comma-separated list of models \(got "scale,toString"\)$/,
  );
});

Deno.test("eval --sweep / --dataset / --backend: inherited names exit 2 with one line", async () => {
  for (
    const [flag, choices] of [
      ["sweep", ["full", "quick"]],
      ["dataset", ["cifar100", "cifar10", "fashion-mnist", "synthetic"]],
      ["backend", ["auto", "webgpu", "wasm", "cpu"]],
    ] as [string, string[]][]
  ) {
    const { code, stderr } = await run("scripts/eval.ts", [`--${flag}`, "constructor"]);
    assert.equal(code, 2, stderr);
    assertNamesChoices(stderr, flag, choices, "constructor");
  }
});

Deno.test("eval --pgd-steps / --pgd-restarts: a bad count exits 2 with one line naming the bound", async () => {
  for (const [flag, value] of [["pgd-restarts", "0"], ["pgd-steps", "2.5"], ["pgd-steps", "x"]]) {
    const { code, stderr } = await run("scripts/eval.ts", [`--${flag}=${value}`]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`--${flag}: expected an integer ≥ 1, got "${value}"`));
  }
});

Deno.test("serve --backend: an inherited name exits 2 with one line", async () => {
  const { code, stderr } = await run("scripts/serve.ts", ["--backend", "toString"]);
  assert.equal(code, 2, stderr);
  assertNamesChoices(stderr, "backend", ["auto", "webgpu", "wasm", "cpu"], "toString");
});

Deno.test("library lookups use own names only: preset, sweep, backend, dataset", async () => {
  for (const bad of INHERITED) {
    assert.throws(() => modelConfig("baseline", { preset: bad }), /preset/i);
    await assert.rejects(
      () =>
        evaluate([], { count: 0 } as never, {
          sweep: bad as never,
          seed: 1,
          limit: 1,
          advLimit: 0,
        }),
      /sweep: expected one of full, quick or study/,
    );
    await assert.rejects(() => setBackend(bad as never), /backend/i);
    await assert.rejects(() => loadDataset({ name: bad as never }), /name/);
  }
  assert.equal(lookup({ a: 1 }, "a", "thing"), 1);
  assert.throws(
    () => lookup({ a: 1, b: 2 }, "toString", "thing"),
    /^RangeError: thing: expected one of a or b, got "toString"$/,
  );
});

const BENCH_FAMILIES: [string, string[]][] = [
  ["backends", ["wasm", "workers", "native", "webgpu", "cpu"]],
  ["presets", ["tiny", "small", "paper", "reference"]],
  ["models", ["baseline", "symmetric", "p4m", "scale", "rotscale"]],
];

for (const [flag, choices] of BENCH_FAMILIES) {
  Deno.test(`bench --${flag}: inherited and unknown names, alone or in a list, name the choices`, () => {
    for (const bad of [...INHERITED, "nope", ""]) {
      for (const value of [bad, `${choices[0]},${bad}`]) {
        assert.throws(
          () => parseBenchArgs([`--${flag}`, value]),
          (e: Error) => (assertNamesChoices(e.message, flag, choices, bad), true),
        );
      }
    }
    // Every valid choice is accepted, alone and all together (duplicates dropped).
    const key = flag as "backends" | "presets" | "models";
    for (const good of choices) assert.deepEqual(parseBenchArgs([`--${flag}`, good])[key], [good]);
    const all = parseBenchArgs([`--${flag}`, [...choices, choices[0]].join(",")]);
    assert.deepEqual(all[key], choices);
  });
}

Deno.test("bench number flags: one-line errors naming the flag, the bound and the value", () => {
  const cases: [string, string, RegExp][] = [
    ["batch", "0", /^--batch: expected an integer ≥ 1, got "0"$/],
    ["batch", "6.5", /^--batch: expected an integer ≥ 1, got "6.5"$/],
    ["size", "32px", /^--size: expected an integer ≥ 1, got "32px"$/],
    ["classes", "1", /^--classes: expected an integer ≥ 2, got "1"$/],
    ["steps", "", /^--steps: expected an integer ≥ 1, got ""$/],
    ["warmup", "-1", /^--warmup: expected an integer ≥ 0, got "-1"$/],
    ["workers", "two", /^--workers: expected an integer ≥ 1, got "two"$/],
    ["top", "NaN", /^--top: expected an integer ≥ 1, got "NaN"$/],
    ["torch-threads", "Infinity", /^--torch-threads: expected an integer ≥ 1, got "Infinity"$/],
  ];
  for (const [flag, value, message] of cases) {
    // --flag=value: parseArgs reads a separate "-1" as a flag.
    assert.throws(() => parseBenchArgs([`--${flag}=${value}`]), (e: Error) => {
      assert.ok(e instanceof UsageError, `${flag}: ${e}`);
      assert.match(e.message, message);
      return true;
    });
  }
  // Below the smallest input a preset's models take (small: SPP {1, 2, 4} after two pools).
  assert.throws(
    () => parseBenchArgs(["--presets", "small", "--size", "12"]),
    /^UsageError: --size: expected an integer ≥ 13 \(the smallest input of baseline \/ small\), got "12"$/,
  );
  const a = parseBenchArgs(["--batch", "8", "--steps", "3", "--warmup", "0", "--size", "13"]);
  assert.deepEqual([a.batch, a.steps, a.warmup, a.size, a.models], [8, 3, 0, 13, [...MODEL_NAMES]]);
  assert.equal(a.presets, undefined);
});

Deno.test("bench --input: the input sets channels and default size and classes; a bad one is one line", () => {
  const plain = parseBenchArgs([]);
  assert.deepEqual(
    [plain.input, plain.size, plain.channels, plain.classes],
    ["cifar100", 32, 3, 100],
  );
  const fashion = parseBenchArgs(["--input", "fashion-mnist"]);
  assert.deepEqual(
    [fashion.input, fashion.size, fashion.channels, fashion.classes],
    ["fashion-mnist", 32, 1, 10],
  );
  // --size and --classes still override the input's.
  const other = parseBenchArgs(["--input=fashion-mnist", "--size", "24", "--classes", "5"]);
  assert.deepEqual([other.size, other.channels, other.classes], [24, 1, 5]);
  for (const bad of [...INHERITED, "fashion", ""]) {
    assert.throws(
      () => parseBenchArgs([`--input=${bad}`]),
      (
        e: Error,
      ) => (assertNamesChoices(e.message, "input", ["cifar100", "fashion-mnist"], bad), true),
    );
  }
});

Deno.test("bench: PyTorch runs the asked trunks at the run's batch and input, or says why not", () => {
  const fashion = torchRun(parseBenchArgs([
    "--input",
    "fashion-mnist",
    "--models",
    "p4m,scale,baseline",
    "--batch",
    "8",
    "--steps",
    "1",
    "--warmup",
    "0",
    "--torch-threads",
    "2",
  ]));
  assert.ok(!("why" in fashion), JSON.stringify(fashion));
  assert.deepEqual(torchArgs(fashion), [
    "2",
    ...["--models", "p4m,baseline", "--batch", "8", "--size", "32", "--channels", "1"],
    ...["--classes", "10", "--steps", "1", "--warmup", "0"],
  ]);
  // Without --steps / --warmup PyTorch keeps its own 10 timed steps after 2 warm-up.
  const plain = torchRun(parseBenchArgs([]));
  assert.ok(!("why" in plain));
  assert.deepEqual(
    [plain.models, plain.channels, plain.classes, plain.steps, plain.warmup],
    [["baseline", "symmetric", "p4m"], 3, 100, 10, 2],
  );
  const why = (args: string[]) => {
    const r = torchRun(parseBenchArgs(args));
    return "why" in r ? r.why : "runs";
  };
  assert.equal(why(["--no-torch"]), "--no-torch");
  assert.match(why(["--models", "scale,rotscale"]), /has only the baseline, symmetric, p4m trunks/);
  assert.match(why(["--presets", "small"]), /only the reference preset's trunks/);
  assert.match(why(["--size", "30"]), /^--size 30 is not a multiple of 4/);
  assert.equal(why(["--size", "28", "--presets", "reference,small"]), "runs");
});

Deno.test("bench: a bad name exits 2 with one line before anything runs", async () => {
  const { code, stderr } = await run("scripts/bench.ts", ["--models", "baseline,constructor"]);
  assert.equal(code, 2, stderr);
  assertNamesChoices(stderr, "models", [...MODEL_NAMES], "constructor");
});

Deno.test("bench:serve and bench_decode: bad names and numbers exit 2 with one line", async () => {
  const serve = await run("scripts/bench_serve.ts", ["--backend", "toString"]);
  assert.equal(serve.code, 2, serve.stderr);
  assertNamesChoices(serve.stderr, "backend", ["auto", "webgpu", "wasm", "cpu"], "toString");
  const infer = await run("scripts/bench_serve.ts", ["--infer-model", "constructor"]);
  assert.equal(infer.code, 2, infer.stderr);
  assertNamesChoices(infer.stderr, "infer-model", [...MODEL_NAMES], "constructor");
  for (
    const [script, args, line] of [
      [
        "scripts/bench_serve.ts",
        ["--requests", "0"],
        '--requests: expected an integer ≥ 1, got "0"',
      ],
      [
        "scripts/bench_serve.ts",
        ["--size", "64x"],
        '--size: expected WxH in positive integers, got "64x"',
      ],
      [
        "scripts/bench_decode.ts",
        ["--repeat", "1.5"],
        '--repeat: expected an integer ≥ 1, got "1.5"',
      ],
    ] as [string, string[], string][]
  ) {
    const { code, stderr } = await run(script, args);
    assert.equal(code, 2, stderr);
    assert.equal(stderr.split("\n")[0], `error: ${line}`);
  }
});
