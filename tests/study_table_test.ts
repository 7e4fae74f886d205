import assert from "node:assert/strict";

const SCRIPT = new URL("../bench/study_table.ts", import.meta.url).pathname;
const STUDY = new URL("../docs/results/study/fashion-mnist-tiny", import.meta.url).pathname;

/** The table rows study_table prints, keyed "model | claim", the cell text as value. */
async function rows(args: string[]): Promise<Map<string, string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const found = new Map<string, string>();
  let model = "";
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const head = line.match(/^\*\*(.+) − baseline\*\*/);
    if (head) model = head[1];
    const row = line.match(/^\| ([^|]+) \| [^|]+ \| (.+) \|$/);
    if (row && row[1] !== "claim" && row[1] !== "---") found.set(`${model} | ${row[1]}`, row[2]);
  }
  return found;
}

Deno.test("study_table --size: the claims at the main size are the summary's own, and the smallest size's clean row is its limited-data claim", async () => {
  const main = await rows([STUDY]);
  const full = await rows(["--size", "54000", STUDY]);
  const smallest = await rows(["--size", "300", STUDY]);
  assert.ok(full.size > 0);
  for (const [key, text] of full) assert.equal(text, main.get(key), key);
  for (const model of ["symmetric", "p4m", "baseline+tta"]) {
    const limited = main.get(
      `${model} | better use of limited training data (smallest training set)`,
    )!;
    const at300 = smallest.get(`${model} | better learning and generalisation (Fig. 2)`)!;
    assert.ok(limited.includes("size 300"), limited);
    assert.equal(at300, limited, model);
  }
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, "--size", "123", STUDY],
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /no size 123 \(sizes: /);
});

Deno.test("study_docs: a marked block is replaced whole, and a missing marker is an error", async () => {
  const { replaceBlock } = await import("../bench/study_docs.ts");
  const text = "a\n<!-- t -->\nold\n<!-- /t -->\nb";
  assert.equal(replaceBlock(text, "t", "new"), "a\n<!-- t -->\n\nnew\n\n<!-- /t -->\nb");
  assert.equal(
    replaceBlock(replaceBlock(text, "t", "x"), "t", "new"),
    replaceBlock(text, "t", "new"),
  );
  assert.throws(() => replaceBlock(text, "u", "new"), /no <!-- u --> … <!-- \/u --> block/);
});
