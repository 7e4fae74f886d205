import assert from "node:assert/strict";
import { modelConfig } from "../lib/model/models.ts";
import { evaluate } from "../lib/eval/evaluate.ts";
import { setBackend } from "../lib/kernels/backend.ts";
import { loadDataset } from "../lib/data/mod.ts";
import { lookup } from "../lib/validate.ts";
import { parseTrainArgs } from "../scripts/train.ts";

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
      /sweep: expected one of full or quick/,
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
