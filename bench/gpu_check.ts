/**
 * The checks of the GPU run (bench/gpu.sh) that bench and train do not make: which WebGPU
 * adapter Deno gets, and whether every model with 90° turns built in (group p4…, and p4m with
 * mirrors too) is invariant on that adapter: max |softmax(f(g·x)) − softmax(f(x))| ≤ 1e-4 over a
 * seeded batch, for each group element g other than the identity, at each preset.
 *
 * Usage: deno run -A bench/gpu_check.ts [--allow-software] [--presets reference,paper]
 *          [--models LIST] [--size 32] [--out FILE]
 *
 * Prints Markdown (and appends it to --out). Exit status: 0 every check passed, 1 an
 * invariance check failed, 2 no WebGPU adapter, or only a software one without
 * --allow-software.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { setBackend } from "../lib/kernels/backend.ts";
import { createModel, MODEL_NAMES, type ModelName, MODELS } from "../lib/model/models.ts";
import { actImage } from "../layers/group.ts";

/** The invariance bound the GPU run asks for (issue 17). */
export const TOLERANCE = 1e-4;

/** A group element as it acts on an NHWC batch. */
export interface GroupElement {
  name: string;
  apply: (x: tf.Tensor4D) => tf.Tensor4D;
}

/**
 * The non-identity elements of the group a model is built exactly invariant to, from its
 * registry entry (`MODELS[name].exact`, layers/group.ts), each acting on NHWC batches: p4 → its
 * three turns; p4m → the turns, the mirrors and the mirrors after each turn; Z2 (translations;
 * the scale family's scales are approximate) → none.
 *
 * @example
 * ```ts
 * groupElements("p4m").map((g) => g.name); // ["turn 90°", "turn 180°", "turn 270°", "flip h", …]
 * ```
 */
export function groupElements(name: ModelName): GroupElement[] {
  const group = MODELS[name].exact;
  return group.elementNames.slice(1).map((element, i) => ({
    name: element,
    apply: (x: tf.Tensor4D) => actImage(group, x, i + 1),
  }));
}

/** Max |a − b| of two tensors, read asynchronously (webgpu cannot read synchronously). */
async function maxAbs(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const [v] = await d.data();
  d.dispose();
  return v;
}

/** One row of the invariance table. */
export interface InvarianceRow {
  model: ModelName;
  preset: string;
  element: string;
  probDiff: number;
  logitDiff: number;
  ok: boolean;
}

/**
 * Measures invariance of a freshly built model (seeded weights, inference mode) on a seeded
 * batch of `n` images of `size`², for each of `elements` (default: its family's group).
 */
export async function checkInvariance(
  name: ModelName,
  preset: string,
  size = 32,
  n = 4,
  elements: GroupElement[] = groupElements(name),
): Promise<InvarianceRow[]> {
  const model = createModel(name, { preset, numClasses: 100, seed: 1 });
  const x = tf.randomUniform([n, size, size, 3], 0, 1, "float32", 7) as tf.Tensor4D;
  const logits = model.predict(x) as tf.Tensor;
  const p = tf.softmax(logits);
  const rows: InvarianceRow[] = [];
  for (const g of elements) {
    const gx = g.apply(x);
    const gl = model.predict(gx) as tf.Tensor;
    const gp = tf.softmax(gl);
    const probDiff = await maxAbs(p, gp), logitDiff = await maxAbs(logits, gl);
    rows.push({
      model: name,
      preset,
      element: g.name,
      probDiff,
      logitDiff,
      ok: probDiff <= TOLERANCE,
    });
    tf.dispose([gx, gl, gp]);
  }
  tf.dispose([x, logits, p]);
  model.dispose();
  return rows;
}

/** The adapter Deno's WebGPU gives, as Markdown lines, and whether it is a software one. */
async function describeAdapter(): Promise<{ lines: string[]; found: boolean }> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  const adapter = await gpu?.requestAdapter({ powerPreference: "high-performance" });
  const lines = ["## WebGPU adapter", ""];
  const backend = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "(unset: every backend wgpu knows)";
  if (!adapter) {
    lines.push(
      `No adapter (navigator.gpu ${gpu ? "present" : "absent"}; ` +
        `DENO_WEBGPU_BACKEND ${backend}).`,
    );
    return { lines, found: false };
  }
  const info = adapter.info as GPUAdapterInfo & Record<string, unknown>;
  lines.push("| field | value |", "| --- | --- |");
  for (
    const key of [
      "description",
      "vendor",
      "architecture",
      "device",
      "isFallbackAdapter",
      "subgroupMinSize",
      "subgroupMaxSize",
    ]
  ) {
    if (info[key] !== undefined && info[key] !== "") lines.push(`| ${key} | ${info[key]} |`);
  }
  lines.push(`| DENO_WEBGPU_BACKEND | ${backend} |`);
  const l = adapter.limits;
  for (
    const key of [
      "maxBufferSize",
      "maxStorageBufferBindingSize",
      "maxComputeWorkgroupStorageSize",
      "maxComputeInvocationsPerWorkgroup",
      "maxComputeWorkgroupSizeX",
      "maxComputeWorkgroupsPerDimension",
    ] as const
  ) {
    lines.push(`| limits.${key} | ${l[key]} |`);
  }
  lines.push(`| features | ${[...adapter.features].sort().join(", ")} |`);
  return { lines, found: true };
}

const fmt = (v: number) => v === 0 ? "0" : v.toExponential(1);
const row = (label: string, r: InvarianceRow, verdict: string) =>
  `| ${label} | ${r.preset} | ${r.element} | ${fmt(r.probDiff)} | ${
    fmt(r.logitDiff)
  } | ${verdict} |`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "allow-software": { type: "boolean", default: false },
      presets: { type: "string", default: "reference,paper" },
      models: { type: "string", default: MODEL_NAMES.join(",") },
      size: { type: "string", default: "32" },
      out: { type: "string" },
    },
  });
  const lines: string[] = [];
  const say = (...s: string[]) => {
    for (const line of s) console.log(line);
    lines.push(...s);
  };
  const flush = () =>
    values.out && Deno.writeTextFileSync(values.out, lines.join("\n") + "\n\n", { append: true });
  const adapter = await describeAdapter();
  say(...adapter.lines, "");
  if (!adapter.found) {
    flush();
    return 2;
  }
  const choice = await setBackend("webgpu");
  say(`tfjs backend: ${choice.name}, ${choice.reason}.`, "");
  if (/software adapter/.test(choice.reason) && !values["allow-software"]) {
    say(
      "Only a software adapter: no GPU numbers from it (pass --allow-software to test the script).",
    );
    flush();
    return 2;
  }
  const models = values.models!.split(",") as ModelName[];
  for (const m of models) {
    if (!(MODEL_NAMES as readonly string[]).includes(m)) {
      throw new Error(`--models: expected names from ${MODEL_NAMES.join(", ")}, got "${m}"`);
    }
  }
  const size = Number(values.size);
  const checked = models.filter((m) => groupElements(m).length > 0);
  say(
    `## Invariance on the GPU (${size}×${size}, 4 images, max over the batch; bound ${TOLERANCE})`,
    "",
  );
  say(
    `Models with 90° turns built in: ${checked.join(", ") || "none"}; ` +
      `not checked (no turns in their group): ${
        models.filter((m) => !checked.includes(m)).join(", ") || "none"
      }.`,
    "",
  );
  say(
    "| model | preset | g | max \\|Δp\\| | max \\|Δlogit\\| | ≤ 1e-4 |",
    "| --- | --- | --- | --- | --- | --- |",
  );
  let failed = 0;
  const presetList = values.presets!.split(",");
  for (const preset of presetList) {
    for (const m of checked) {
      for (const r of await checkInvariance(m, preset, size)) {
        if (!r.ok) failed++;
        say(row(r.model, r, r.ok ? "yes" : "**no**"));
      }
    }
  }
  // A control: the baseline has no turns built in, so the same measure must see it change.
  const [c] = await checkInvariance("baseline", presetList[0], size, 4, [
    groupElements("symmetric")[0],
  ]);
  if (c.ok) failed++;
  say(
    row(
      "baseline (control)",
      c,
      c.ok ? "**yes: the check cannot see a change**" : "no, as it should",
    ),
  );
  say(
    "",
    failed
      ? `**${failed} check(s) failed.**`
      : "Every check is within the bound; the control is not.",
  );
  flush();
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
