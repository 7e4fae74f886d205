/**
 * `deno task bench`: training and inference throughput of both models on each backend, with
 * FLOPs, GFLOP/s, and PyTorch (peers/torch_reference.py) side by side. Prints a Markdown report
 * ready for the README; `--out FILE` also writes it. Run with --help for flags.
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { setBackend } from "../lib/kernels/backend.ts";
import {
  countParams,
  createModel,
  MODEL_NAMES,
  modelConfig,
  type ModelName,
} from "../lib/model/models.ts";
import { DataParallel } from "../lib/train/data_parallel.ts";
import { makeParallelTrain, makeSteps, profileKernels, time, trunkFlops } from "../bench/profile.ts";
import { nativeStatus, setNativeEnabled } from "../lib/kernels/mod.ts";

const HELP = `Usage: deno task bench [flags]

Measures training images/s (forward + backward + SGD-momentum step, warm-up excluded, median
step) and inference images/s of the baseline and symmetric models, and runs PyTorch's
reference trunks (../shared/peers/torch_reference.py with /usr/bin/python3) for comparison.

  --backends LIST   comma-separated: wasm (pure wasm SIMD), workers (pure wasm, training
                    batch split across --workers Deno workers; inference on one thread),
                    native (wasm + native oneDNN kernels), webgpu, cpu. Default: wasm,
                    workers on a multi-core machine, native when its library loads, webgpu
                    when an adapter exists (a software adapter gets few steps)
  --workers N       workers of the workers backend (default: the number of cores)
  --presets LIST    default reference,small (cpu and software WebGPU: small)
  --models LIST     default baseline,symmetric
  --batch N         default 64
  --size N          input height = width, default 32
  --classes N       default 100
  --steps N         timed training steps per model (default 7; cpu, software WebGPU: 1)
  --warmup N        untimed steps first (default 2; cpu, software WebGPU: 1)
  --profile         also print per-kernel times (tf.profile) of one training step per model
  --top N           kernels per profile table (default 10)
  --no-torch        skip PyTorch
  --torch-threads N threads for PyTorch (default: the number of cores)
  --out FILE        also write the report (Markdown) to FILE
  --help            this text`;

type BenchBackend = "wasm" | "workers" | "native" | "webgpu" | "cpu";

interface Row {
  backend: string;
  preset: string;
  model: ModelName;
  params: number;
  fwdFlops: number;
  trainFlops: number;
  trainImgS: number;
  inferImgS: number;
  steps: number;
  /** Share of the CPUs other processes used while this row was measured. */
  others: number | undefined;
}

interface TorchResult {
  baseline: { params: number; train_img_per_s: number };
  symmetric: { params: number; train_img_per_s: number };
}

function machine(): string {
  let cpu = "unknown CPU";
  let flags = "";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim() ?? cpu;
    const f = info.match(/^flags\s*:\s*(.*)$/m)?.[1]?.split(/\s+/) ?? [];
    flags = ["avx2", "fma", "avx512f"].filter((x) => f.includes(x)).join(", ");
  } catch { /* not Linux */ }
  const cores = navigator.hardwareConcurrency;
  return `${cores} cores, ${cpu}${
    flags ? ` (${flags})` : ""
  }, ${Deno.build.os}/${Deno.build.arch}, ` +
    `Deno ${Deno.version.deno}, tfjs ${tf.version.tfjs}`;
}

/**
 * Measures the share of all CPU time that *other* processes used between `start()` and the
 * returned function's call (from /proc/stat, minus this process and its waited-for children),
 * so that a reader can tell a quiet run from a disturbed one. Undefined off Linux.
 */
function otherLoad(): () => number | undefined {
  const sample = () => {
    const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].split(/\s+/).slice(1).map(Number);
    // utime, stime, cutime, cstime: fields 14-17 of /proc/self/stat.
    const me = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ").map(Number);
    return {
      idle: f[3] + f[4],
      total: f.reduce((x, y) => x + y, 0),
      own: me[11] + me[12] + me[13] + me[14],
    };
  };
  let a: ReturnType<typeof sample>;
  try {
    a = sample();
  } catch {
    return () => undefined;
  }
  return () => {
    const b = sample();
    const total = Math.max(b.total - a.total, 1);
    return Math.max(0, 1 - (b.idle - a.idle) / total - (b.own - a.own) / total);
  };
}

const pct = (x: number | undefined) => x === undefined ? "?" : `${Math.round(100 * x)}%`;

async function runTorch(threads: number): Promise<{ result?: TorchResult; note: string }> {
  const script = new URL("../bench/torch_reference.py", import.meta.url).pathname;
  const shown = "../shared/peers/torch_reference.py";
  try {
    await Deno.stat(script);
  } catch {
    return { note: `PyTorch skipped: ${shown} is absent` };
  }
  const python = "/usr/bin/python3";
  try {
    const probe = await new Deno.Command(python, { args: ["-c", "import torch"], stderr: "null" })
      .output();
    if (!probe.success) return { note: `PyTorch skipped: ${python} has no torch module` };
  } catch {
    return { note: `PyTorch skipped: ${python} is absent` };
  }
  const version = new TextDecoder().decode(
    (await new Deno.Command(python, { args: ["-c", "import torch; print(torch.__version__)"] })
      .output()).stdout,
  ).trim();
  const out = await new Deno.Command(python, { args: [script, String(threads)] }).output();
  if (!out.success) {
    return { note: `PyTorch failed: ${new TextDecoder().decode(out.stderr).slice(-300)}` };
  }
  const result = JSON.parse(new TextDecoder().decode(out.stdout)) as TorchResult;
  return {
    result,
    note: `PyTorch ${version}, ${threads} threads: ${shown} (batch 64, 10 timed steps, ` +
      `32×32×3, 100 classes)`,
  };
}

const fmt = (x: number, digits = 1) =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function backendLabel(b: BenchBackend, adapter?: string, software?: boolean): string {
  if (b === "native") return `wasm + ${nativeStatus().label}`;
  if (b === "webgpu") return `webgpu (${software ? "software adapter" : "adapter"}: ${adapter})`;
  if (b === "wasm") return "wasm (SIMD, 1 thread)";
  if (b === "workers") return `wasm (SIMD, ${workerCount} workers, data-parallel)`;
  return "cpu (plain JS)";
}

/** Workers of the `workers` backend (--workers). */
let workerCount = 1;

async function activate(b: BenchBackend): Promise<{ adapter?: string; software?: boolean }> {
  if (b === "webgpu") {
    const choice = await setBackend("webgpu");
    return { adapter: choice.adapter, software: /software/.test(choice.reason) };
  }
  await setBackend(b === "native" || b === "workers" ? "wasm" : b);
  if (b !== "cpu") setNativeEnabled(b === "native");
  return {};
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      backends: { type: "string" },
      workers: { type: "string" },
      presets: { type: "string" },
      models: { type: "string", default: MODEL_NAMES.join(",") },
      batch: { type: "string", default: "64" },
      size: { type: "string", default: "32" },
      classes: { type: "string", default: "100" },
      steps: { type: "string" },
      warmup: { type: "string" },
      profile: { type: "boolean", default: false },
      top: { type: "string", default: "10" },
      "no-torch": { type: "boolean", default: false },
      "torch-threads": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const batch = Number(values.batch), size = Number(values.size);
  const classes = Number(values.classes);
  const presetList = (values.presets ?? "reference,small").split(",");
  const modelList = values.models!.split(",") as ModelName[];
  const native = nativeStatus();
  workerCount = Number(values.workers ?? navigator.hardwareConcurrency);
  if (!Number.isInteger(workerCount) || workerCount < 1) {
    throw new Error(`--workers expects a positive integer, got ${values.workers}`);
  }
  let backends: BenchBackend[];
  if (values.backends) {
    backends = values.backends.split(",") as BenchBackend[];
    for (const b of backends) {
      if (!["wasm", "workers", "native", "webgpu", "cpu"].includes(b)) {
        throw new Error(`Unknown backend "${b}": expected wasm, workers, native, webgpu or cpu`);
      }
    }
    if (backends.includes("native") && !native.available) {
      throw new Error(`The native backend was requested but is unavailable: ${native.reason}`);
    }
  } else {
    backends = ["wasm"];
    if (workerCount > 1) backends.push("workers");
    if (native.available) backends.push("native");
    else console.error(`native kernels: not used (${native.reason})`);
    if (await navigator.gpu?.requestAdapter().catch(() => null)) backends.push("webgpu");
  }

  const lines: string[] = [];
  const say = (s = "") => {
    console.log(s);
    lines.push(s);
  };
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const command = `deno task bench ${Deno.args.join(" ")}`.trim();
  say(`## Speed (${date})`);
  say();
  say(`Machine: ${machine()}.`);
  say(
    `Command: \`${command}\`. Batch ${batch}, ${size}×${size}×3, ${classes} classes, ` +
      `SGD momentum 0.9; training = forward + backward + update, median step after warm-up.`,
  );

  let torch: TorchResult | undefined;
  if (!values["no-torch"]) {
    const threads = Number(values["torch-threads"] ?? navigator.hardwareConcurrency);
    console.error("running PyTorch ...");
    const load = otherLoad();
    const t = await runTorch(threads);
    torch = t.result;
    say(`${t.note}; other processes' CPU share meanwhile: ${pct(load())}.`);
  }
  say();

  const rows: Row[] = [];
  const profiles: { title: string; kernels: Awaited<ReturnType<typeof profileKernels>> }[] = [];
  for (const b of backends) {
    const { adapter, software } = await activate(b);
    const label = backendLabel(b, adapter, software);
    const slow = b === "cpu" || software === true;
    const steps = Number(values.steps ?? (slow ? 1 : 7));
    const warmup = Number(values.warmup ?? (slow ? 1 : 2));
    // A software adapter needs minutes per reference step: the small preset unless asked.
    const presetsHere = slow && !values.presets ? ["small"] : presetList;
    for (const preset of presetsHere) {
      for (const name of modelList) {
        console.error(`${label} / ${preset} / ${name} ...`);
        const model = createModel(name, { preset, numClasses: classes });
        const config = modelConfig(name, { preset, numClasses: classes });
        const flops = trunkFlops(config, size, size);
        const stepOptions = { batch, height: size, width: size, channels: 3, numClasses: classes };
        const s = makeSteps(model, stepOptions);
        const load = otherLoad();
        let train: Awaited<ReturnType<typeof time>>;
        if (b === "workers") {
          const dp = await DataParallel.create(config, workerCount);
          const p = makeParallelTrain(model, dp, stepOptions);
          train = await time(() => p.train(), steps, warmup).finally(() => {
            p.dispose();
            dp.close();
          });
        } else {
          train = await time(() => s.train(), steps, warmup);
        }
        const infer = await time(() => s.infer(), slow ? steps : Math.max(steps, 3), 1);
        // Workers' kernels run in the workers, out of tf.profile's sight.
        if (values.profile && !slow && b !== "workers") {
          profiles.push({
            title: `${name} / ${preset} / ${label}`,
            kernels: await profileKernels(() => s.train()),
          });
        }
        s.dispose();
        model.dispose();
        rows.push({
          backend: label,
          preset,
          model: name,
          params: countParams(model),
          fwdFlops: flops.forward,
          trainFlops: flops.training,
          trainImgS: batch / (train.medianMs / 1000),
          inferImgS: batch / (infer.medianMs / 1000),
          steps,
          others: load(),
        });
        const r = rows.at(-1)!;
        console.error(`  train ${fmt(r.trainImgS)} img/s, inference ${fmt(r.inferImgS)} img/s`);
      }
    }
  }

  say(
    "| model | preset | backend | params | conv MFLOP/img (fwd) | train img/s | train GFLOP/s | " +
      "inference img/s | inference GFLOP/s | PyTorch train img/s | symlab / PyTorch | others' CPU |",
  );
  say("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const r of rows) {
    const pt = torch && r.preset === "reference" ? torch[r.model].train_img_per_s : undefined;
    say(
      `| ${r.model} | ${r.preset} | ${r.backend} | ${r.params.toLocaleString("en-US")} | ` +
        `${fmt(r.fwdFlops / 1e6)} | ${fmt(r.trainImgS)} | ${
          fmt((r.trainImgS * r.trainFlops) / 1e9)
        } | ` +
        `${fmt(r.inferImgS)} | ${fmt((r.inferImgS * r.fwdFlops) / 1e9)} | ` +
        `${pt === undefined ? "–" : fmt(pt)} | ${
          pt === undefined ? "–" : fmt(r.trainImgS / pt, 2) + "×"
        } | ${pct(r.others)} |`,
    );
  }
  say();
  say(
    "Training GFLOP/s count forward + input gradient + filter gradient of every conv (≈ 3× the " +
      'forward FLOPs); PyTorch runs only the `reference` trunks. "others\' CPU" is the share ' +
      "of both cores that other processes used during the row (0% on a quiet machine). " +
      rows.filter((r) => r.steps < 5).map((r) => `${r.backend}: ${r.steps} timed step(s).`)
        .filter((v, i, a) => a.indexOf(v) === i).join(" "),
  );
  const top = Number(values.top);
  for (const p of profiles) {
    const total = p.kernels.reduce((a, k) => a + k.ms, 0);
    say();
    say(`### Kernels of one training step: ${p.title} (total ${fmt(total, 0)} ms in kernels)`);
    say();
    say("| kernel | ms | calls | share |");
    say("|---|--:|--:|--:|");
    for (const k of p.kernels.slice(0, top)) {
      say(`| ${k.name} | ${fmt(k.ms)} | ${k.calls} | ${fmt((100 * k.ms) / total, 0)}% |`);
    }
  }
  if (values.out) {
    await Deno.writeTextFile(values.out, lines.join("\n") + "\n");
    console.error(`wrote ${values.out}`);
  }
}

if (import.meta.main) await main();
