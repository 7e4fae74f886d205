/**
 * Parameter counts of every model at every preset (32×32×3 input with 10 and 100 classes, and
 * Fashion-MNIST's 32×32×1 with 10: `deno task bench`'s inputs), as a Markdown table:
 * `deno run -A bench/params.ts docs/results/params.md`. The presets keep every model within
 * ±10% of the baseline's count; the last column says how far each is. The PyTorch trunks of
 * bench/torch_reference.py have the reference rows' counts (tests/torch_reference_test.ts).
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
  }${dirty ? " (with uncommitted changes)" : ""}; input 32×32×C (C = 3 channels, or 1 for ` +
  "Fashion-MNIST padded to 32×32 as the study trains on it).",
  "",
  `| preset | input | classes | ${MODEL_NAMES.join(" | ")} | largest deviation from baseline |`,
  `| --- | --- | --: | ${MODEL_NAMES.map(() => "--:").join(" | ")} | --: |`,
];
/** `deno task bench`'s inputs (its --input) by channels, with their class counts. */
const INPUTS = [
  { label: "32×32×3", channels: 3, classes: [10, 100] },
  { label: "32×32×1 (fashion-mnist)", channels: 1, classes: [10] },
];
for (const preset of Object.keys(presets)) {
  for (const { label, channels, classes } of INPUTS) {
    for (const numClasses of classes) {
      const counts = MODEL_NAMES.map((m) => {
        const model = createModel(m, { preset, numClasses, inputShape: [null, null, channels] });
        const n = countParams(model);
        model.dispose();
        return n;
      });
      const worst = Math.max(...counts.map((n) => Math.abs(n / counts[0] - 1)));
      lines.push(
        `| ${preset} | ${label} | ${numClasses} | ${
          counts.map((n) => n.toLocaleString("en-US")).join(" | ")
        } | ${(100 * worst).toFixed(1)}% |`,
      );
    }
  }
}
const out = Deno.args[0];
if (out) await Deno.writeTextFile(out, lines.join("\n") + "\n");
else console.log(lines.join("\n"));
