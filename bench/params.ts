/**
 * Parameter counts of every model at every preset (10 and 100 classes, 32×32×3 input), as a
 * Markdown table: `deno run -A bench/params.ts docs/results/params.md`. The presets keep every
 * model within ±10% of the baseline's count; the last column says how far each is.
 *
 * @module
 */
import { countParams, createModel, MODEL_NAMES, presets } from "../lib/model/models.ts";
import { setBackend } from "../lib/kernels/backend.ts";
import { codeVersion } from "../lib/provenance.ts";

await setBackend("cpu");
const { commit, dirty } = codeVersion();
const lines = [
  "# Parameter counts",
  "",
  `\`deno run -A bench/params.ts docs/results/params.md\` at commit ${
    commit?.slice(0, 7) ?? "unknown"
  }${dirty ? " (with uncommitted changes)" : ""}; input 32×32×3.`,
  "",
  `| preset | classes | ${MODEL_NAMES.join(" | ")} | largest deviation from baseline |`,
  `| --- | --: | ${MODEL_NAMES.map(() => "--:").join(" | ")} | --: |`,
];
for (const preset of Object.keys(presets)) {
  for (const numClasses of [10, 100]) {
    const counts = MODEL_NAMES.map((m) => {
      const model = createModel(m, { preset, numClasses });
      const n = countParams(model);
      model.dispose();
      return n;
    });
    const worst = Math.max(...counts.map((n) => Math.abs(n / counts[0] - 1)));
    lines.push(
      `| ${preset} | ${numClasses} | ${
        counts.map((n) => n.toLocaleString("en-US")).join(" | ")
      } | ${(100 * worst).toFixed(1)}% |`,
    );
  }
}
const out = Deno.args[0];
if (out) await Deno.writeTextFile(out, lines.join("\n") + "\n");
else console.log(lines.join("\n"));
