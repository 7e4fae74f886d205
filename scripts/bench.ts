/**
 * `deno task bench`: training and inference throughput of every model on each backend, with
 * conv FLOPs, GFLOP/s, and PyTorch (bench/torch_reference.py: the baseline, symmetric and p4m
 * `reference` trunks) side by side, on random images of one input's shape (`--input`: CIFAR-100's
 * 32×32×3 or Fashion-MNIST's padded 32×32×1). Prints a Markdown report ready for the README;
 * `--out FILE` also writes it; `--flops` prints only the FLOPs per image of each model and
 * preset. Run with --help for flags.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { setBackend } from "../lib/kernels/backend.ts";
import {
  countParams,
  createModel,
  minInputSize,
  MODEL_NAMES,
  modelConfig,
  type ModelName,
  presets,
} from "../lib/model/models.ts";
import { DataParallel } from "../lib/train/data_parallel.ts";
import {
  makeParallelTrain,
  makeSteps,
  PLAIN_CONV_CHANNELS,
  plainConvStep,
  profileKernels,
  time,
  trunkFlops,
} from "../bench/profile.ts";
import { nativeStatus, setNativeEnabled } from "../lib/kernels/mod.ts";
import { optionsHelp, parseOptions, runMain, UsageError } from "./cli.ts";

/** The backends `--backends` takes (workers and native are wasm set-ups, not tfjs backends). */
export const BENCH_BACKENDS = ["wasm", "workers", "native", "webgpu", "cpu"] as const;
type BenchBackend = typeof BENCH_BACKENDS[number];

const PRESET_NAMES = Object.keys(presets);
const TORCH_SCRIPT = "bench/torch_reference.py";
/** The trunks bench/torch_reference.py has, each exactly the symlab model of the reference preset. */
export const TORCH_MODELS: readonly ModelName[] = ["baseline", "symmetric", "p4m"];
/** The preset whose trunks bench/torch_reference.py builds. */
const TORCH_PRESET = "reference";

/**
 * The inputs `--input` takes: the shape of the images (random ones of that shape are timed) and
 * the class count. `fashion-mnist` is what the study trains on: 28×28 grey images padded to
 * 32×32×1 by lib/data/fashion_mnist.ts (so that the three pools keep map sizes even).
 */
export const BENCH_INPUTS = {
  cifar100: { size: 32, channels: 3, classes: 100, what: "CIFAR-100's shape" },
  "fashion-mnist": {
    size: 32,
    channels: 1,
    classes: 10,
    what: "Fashion-MNIST as the study trains on it, 28×28 padded to 32×32",
  },
} as const;
export type BenchInput = keyof typeof BENCH_INPUTS;
const INPUT_NAMES = Object.keys(BENCH_INPUTS) as BenchInput[];

/**
 * Pythons tried for torch when --python is not given: a pyenv or venv python3 first on PATH
 * does not see Debian's python3-torch, which is installed for /usr/bin/python3.
 */
const DEFAULT_PYTHONS = ["python3", "/usr/bin/python3"];
/** Timed and warm-up steps of PyTorch unless --steps / --warmup say otherwise. */
const TORCH_STEPS = { steps: 10, warmup: 2 };

const cores = navigator.hardwareConcurrency;
const count = (min: number) => z.number().int().min(min);

/** Every flag of `deno task bench`, its default and its help (scripts/cli.ts derives them). */
export const BenchOptionsSchema = z.strictObject({
  backends: z.array(z.enum(BENCH_BACKENDS)).optional().meta({
    arg: "LIST",
    help: "comma-separated, of {choices}: wasm is pure wasm SIMD, workers pure wasm with the " +
      "training batch split across --workers Deno workers (inference on one thread), native " +
      "wasm + native oneDNN kernels. Default: wasm, workers on a multi-core machine, native " +
      "when its library loads, webgpu when an adapter exists (a software adapter gets few steps)",
  }),
  workers: count(1).default(cores).meta({
    arg: "N",
    help: "workers of the workers backend (default: the number of cores, {default})",
  }),
  presets: z.array(z.enum(PRESET_NAMES as [string, ...string[]])).optional().meta({
    arg: "LIST",
    help: "{choices}; default reference,small (cpu and software WebGPU: small)",
  }),
  models: z.array(z.enum(MODEL_NAMES)).optional().meta({
    arg: "LIST",
    help: "{choices}; default all of them",
  }),
  input: z.enum(INPUT_NAMES as [BenchInput, ...BenchInput[]]).default("cifar100").meta({
    help: "{choices} (default {default}): the images' shape and the classes; cifar100: " +
      "32×32×3, 100 classes; fashion-mnist: 32×32×1 (28×28 padded, as the study trains on " +
      "it), 10 classes",
  }),
  batch: count(1).default(64).meta({ arg: "N" }),
  size: count(1).optional().meta({
    arg: "N",
    help: "input height = width (default: the input's, 32)",
  }),
  classes: count(2).optional().meta({
    arg: "N",
    help: "default: the input's (100, or 10 for fashion-mnist)",
  }),
  steps: count(1).optional().meta({
    arg: "N",
    help: "timed training steps per model (default 7; cpu, software WebGPU: 1; PyTorch: " +
      `${TORCH_STEPS.steps})`,
  }),
  warmup: count(0).optional().meta({
    arg: "N",
    help:
      `untimed steps first (default 2; cpu, software WebGPU: 1; PyTorch: ${TORCH_STEPS.warmup})`,
  }),
  profile: z.boolean().default(false).meta({
    help: "also print per-kernel times (tf.profile) of one training step per model",
  }),
  top: count(1).default(10).meta({ arg: "N", help: "kernels per profile table" }),
  flops: z.boolean().default(false).meta({
    help: "print only the conv FLOPs per image and parameters of each model and preset (no timing)",
  }),
  noTorch: z.boolean().default(false).meta({ help: "skip PyTorch" }),
  python: z.string().min(1).optional().meta({
    arg: "CMD",
    help: "the Python with torch (default: python3 on PATH if it has torch, else /usr/bin/python3)",
  }),
  torchThreads: count(1).default(cores).meta({
    arg: "N",
    help: "threads for PyTorch (default: the number of cores, {default})",
  }),
  out: z.string().min(1).optional().meta({
    arg: "FILE",
    help: "also write the report (Markdown) to FILE",
  }),
});

const HELP = `Usage: deno task bench [flags]

Measures training images/s (forward + backward + SGD-momentum step, warm-up excluded, median
step) and inference images/s of each model on random images of one input's shape, and runs
PyTorch's reference trunks (${TORCH_SCRIPT}: ${TORCH_MODELS.join(", ")} only)
with Python for comparison at the same batch, input and classes.

${optionsHelp(BenchOptionsSchema)}`;

/** `list` without repeats, in first-listed order. */
function unique<T>(list: T[] | undefined): T[] | undefined {
  return list?.filter((n, i) => list.indexOf(n) === i);
}

/** The validated flags of `deno task bench`. */
export interface BenchArgs {
  help: boolean;
  /** Undefined: choose from what this machine has. */
  backends?: BenchBackend[];
  workers: number;
  /** Undefined: reference and small (small only on slow backends). */
  presets?: string[];
  models: ModelName[];
  /** The images' shape and classes (--size and --classes override its size and classes). */
  input: BenchInput;
  /** Channels of the input images (of `input`). */
  channels: number;
  batch: number;
  size: number;
  classes: number;
  steps?: number;
  warmup?: number;
  profile: boolean;
  top: number;
  flops: boolean;
  torch: boolean;
  /** Pythons to try in order: --python, or python3 on PATH then Debian's /usr/bin/python3. */
  pythons: string[];
  torchThreads: number;
  out?: string;
}

/**
 * Parses and validates bench's flags: lists of own names (backends, presets, models) and
 * numbers, each a {@linkcode UsageError} of one line naming the flag and what it expects.
 */
export function parseBenchArgs(args: string[]): BenchArgs {
  const { help, options: o } = parseOptions(BenchOptionsSchema, args);
  const shape = BENCH_INPUTS[o.input];
  const parsed: BenchArgs = {
    help,
    backends: unique(o.backends),
    workers: o.workers,
    presets: unique(o.presets),
    models: unique(o.models) ?? [...MODEL_NAMES],
    input: o.input,
    channels: shape.channels,
    batch: o.batch,
    size: o.size ?? shape.size,
    classes: o.classes ?? shape.classes,
    steps: o.steps,
    warmup: o.warmup,
    profile: o.profile,
    top: o.top,
    flops: o.flops,
    torch: !o.noTorch,
    pythons: o.python === undefined ? [...DEFAULT_PYTHONS] : [o.python],
    torchThreads: o.torchThreads,
    out: o.out,
  };
  // The pools halve the input and an SPP head needs as many cells as its finest level.
  for (const preset of parsed.presets ?? ["reference", "small"]) {
    for (const model of parsed.models) {
      const need = minInputSize(modelConfig(model, { preset }));
      if (parsed.size < need) {
        throw new UsageError(
          `--size: expected an integer ≥ ${need} (the smallest input of ${model} / ${preset}), got "${parsed.size}"`,
        );
      }
    }
  }
  return parsed;
}

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
  /** 1-minute load average when the row ended. */
  load: number;
}

/** What bench/torch_reference.py prints: one entry per trunk it ran (of TORCH_MODELS). */
const TorchResultSchema = z.record(
  z.string(),
  z.object({ params: z.number(), train_img_per_s: z.number() }).passthrough(),
);
type TorchResult = z.infer<typeof TorchResultSchema>;

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

/**
 * The first of `pythons` that imports torch, with its torch and Python versions, or why none
 * does (each candidate's reason, joined).
 */
async function findTorch(
  pythons: string[],
): Promise<{ python: string; version: string; pyVersion: string } | { why: string }> {
  const reasons: string[] = [];
  for (const python of pythons) {
    try {
      const probe = await new Deno.Command(python, {
        args: ["-c", "import sys, torch; print(torch.__version__, sys.version.split()[0])"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (probe.success) {
        const [version, pyVersion] = new TextDecoder().decode(probe.stdout).trim().split(" ");
        return { python, version, pyVersion };
      }
      const err = new TextDecoder().decode(probe.stderr).trim().split("\n").at(-1);
      reasons.push(`"${python}" has no usable torch module (${err})`);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message;
      reasons.push(`no Python at "${python}" (${why})`);
    }
  }
  return { why: reasons.join("; ") };
}

/** What PyTorch runs: the trunks of `models` at the run's batch, input and classes. */
export interface TorchRun {
  models: ModelName[];
  batch: number;
  size: number;
  channels: number;
  classes: number;
  steps: number;
  warmup: number;
  threads: number;
}

/**
 * The PyTorch run that matches bench's flags, or why there is none: no model or preset it has
 * was asked for, or an input size that its pools (2×2, flooring) would shrink differently from
 * symlab's (which pad odd sizes, layers/symmetric_max_pool.ts).
 */
export function torchRun(a: BenchArgs): TorchRun | { why: string } {
  if (!a.torch) return { why: "--no-torch" };
  const models = a.models.filter((m) => TORCH_MODELS.includes(m));
  if (models.length === 0) {
    return { why: `${TORCH_SCRIPT} has only the ${TORCH_MODELS.join(", ")} trunks` };
  }
  if (a.presets && !a.presets.includes(TORCH_PRESET)) {
    return { why: `${TORCH_SCRIPT} has only the ${TORCH_PRESET} preset's trunks` };
  }
  const even = 2 ** (presets[TORCH_PRESET].widths.baseline.length - 1);
  if (a.size % even !== 0) {
    return {
      why: `--size ${a.size} is not a multiple of ${even}: PyTorch's 2×2 pools would drop ` +
        "rows that symlab's pad, so the trunks would differ",
    };
  }
  const { batch, size, channels, classes, torchThreads: threads } = a;
  return {
    models,
    batch,
    size,
    channels,
    classes,
    steps: a.steps ?? TORCH_STEPS.steps,
    warmup: a.warmup ?? TORCH_STEPS.warmup,
    threads,
  };
}

/** bench/torch_reference.py's arguments for a run. */
export function torchArgs(run: TorchRun): string[] {
  return [
    String(run.threads),
    ...["models", "batch", "size", "channels", "classes", "steps", "warmup"].flatMap((k) => {
      const v = run[k as keyof TorchRun];
      return [`--${k}`, Array.isArray(v) ? v.join(",") : String(v)];
    }),
  ];
}

/**
 * Runs bench/torch_reference.py with the first of `pythons` that has torch, or says in one
 * sentence why the comparison is skipped: the script is absent, no Python can be run, or none
 * has torch.
 */
async function runTorch(
  pythons: string[],
  run: TorchRun,
): Promise<{ result?: TorchResult; python?: string; note: string }> {
  const script = new URL("../bench/torch_reference.py", import.meta.url).pathname;
  const skipped = (why: string) => ({ note: `PyTorch comparison skipped: ${why}` });
  try {
    await Deno.stat(script);
  } catch {
    return skipped(`${TORCH_SCRIPT} is absent from this checkout`);
  }
  const found = await findTorch(pythons);
  if ("why" in found) {
    return skipped(
      `${found.why}; install torch (Debian: apt install python3-torch) or pass --python`,
    );
  }
  const { python, version, pyVersion } = found;
  const out = await new Deno.Command(python, {
    args: [script, ...torchArgs(run)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  let parsed: ReturnType<typeof TorchResultSchema.safeParse> | undefined;
  try {
    parsed = out.success ? TorchResultSchema.safeParse(JSON.parse(text)) : undefined;
  } catch { /* not JSON: reported below */ }
  if (!parsed?.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
    return {
      note: `PyTorch failed (${TORCH_SCRIPT}, exit ${out.code}): ${err || text.slice(0, 200)}`,
    };
  }
  const { batch, size, channels, classes, steps, warmup, threads } = run;
  return {
    result: parsed.data,
    python,
    note:
      `PyTorch ${version} (${python}, Python ${pyVersion}), ${threads} threads: ${TORCH_SCRIPT} ` +
      `(${Object.keys(parsed.data).join(", ")} trunk${
        Object.keys(parsed.data).length === 1 ? "" : "s"
      } of the ${TORCH_PRESET} preset, batch ` +
      `${batch}, ${size}×${size}×${channels}, ${classes} classes, median of ${steps} timed ` +
      `step(s) after ${warmup} warm-up)`,
  };
}

/**
 * PyTorch's GFLOP/s on the plain-conv yardstick (`torch_reference.py --plain-conv`, at the
 * run's batch, size, steps and threads), or why there is none.
 */
async function runTorchPlainConv(
  python: string,
  run: TorchRun,
): Promise<{ gflops: number } | { why: string }> {
  const script = new URL("../bench/torch_reference.py", import.meta.url).pathname;
  const out = await new Deno.Command(python, {
    args: [
      script,
      String(run.threads),
      "--plain-conv",
      ...["batch", "size", "steps", "warmup"].flatMap((k) => [
        `--${k}`,
        String(run[k as keyof TorchRun]),
      ]),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const parsed = z.object({ plain_conv_gflops: z.number() }).safeParse(
    (() => {
      try {
        return JSON.parse(new TextDecoder().decode(out.stdout));
      } catch {
        return undefined;
      }
    })(),
  );
  if (out.success && parsed.success) return { gflops: parsed.data.plain_conv_gflops };
  const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
  return { why: `${TORCH_SCRIPT} --plain-conv failed (exit ${out.code}): ${err}` };
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

const loadavg = () => Deno.loadavg()[0];

/** The models' input shape for bench's flags (any height and width, the input's channels). */
const inputShape = (a: BenchArgs): [null, null, number] => [null, null, a.channels];

/** `--flops`: conv FLOPs per image and parameters of each model and preset, no timing. */
function flopsReport(a: BenchArgs, say: (s?: string) => void): void {
  // Every row first: building the first model makes tfjs print its banner on stdout.
  const rows = (a.presets ?? PRESET_NAMES).flatMap((preset) => {
    const options = { preset, numClasses: a.classes, inputShape: inputShape(a) };
    const base = trunkFlops(modelConfig("baseline", options), a.size, a.size).forward;
    return a.models.map((name) => {
      const model = createModel(name, options);
      const params = countParams(model);
      model.dispose();
      const f = trunkFlops(modelConfig(name, options), a.size, a.size);
      return `| ${preset} | ${name} | ${params.toLocaleString("en-US")} | ` +
        `${fmt(f.forward / 1e6)} | ${fmt(f.training / 1e6)} | ${fmt(f.forward / base, 2)} |`;
    });
  });
  say(
    `Conv FLOPs per image at ${a.size}×${a.size}×${a.channels} (input ${a.input}; ` +
      `${a.classes} classes for the parameters); ` +
      "a multiply-add counts as two; training = forward + filter gradients + input gradients " +
      "past the first layer.",
  );
  say();
  say("| preset | model | params | fwd MFLOP/img | training MFLOP/img | fwd × baseline |");
  say("|---|---|--:|--:|--:|--:|");
  rows.forEach((r) => say(r));
}

async function main(): Promise<number> {
  const a = parseBenchArgs(Deno.args);
  if (a.help) {
    console.log(HELP);
    return 0;
  }
  const lines: string[] = [];
  const say = (s = "") => {
    console.log(s);
    lines.push(s);
  };
  const write = async () => {
    if (!a.out) return;
    await Deno.writeTextFile(a.out, lines.join("\n") + "\n");
    console.error(`wrote ${a.out}`);
  };
  if (a.flops) {
    await setBackend("cpu"); // only to build the models and count their weights
    flopsReport(a, say);
    await write();
    return 0;
  }
  const native = nativeStatus();
  workerCount = a.workers;
  let backends: BenchBackend[];
  if (a.backends) {
    backends = a.backends;
    if (backends.includes("native") && !native.available) {
      throw new UsageError(`--backends: native was requested but is unavailable: ${native.reason}`);
    }
  } else {
    backends = ["wasm"];
    if (workerCount > 1) backends.push("workers");
    if (native.available) backends.push("native");
    else console.error(`native kernels: not used (${native.reason})`);
    if (await navigator.gpu?.requestAdapter().catch(() => null)) backends.push("webgpu");
  }

  const { batch, size, classes } = a;
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const command = `deno task bench ${Deno.args.join(" ")}`.trim();
  say(`## Speed (${date})`);
  say();
  say(
    `Machine: ${machine()}; load average at the start ${
      Deno.loadavg().map((v) => v.toFixed(2)).join(" ")
    }.`,
  );
  say(
    `Command: \`${command}\`. Input ${a.input} (${BENCH_INPUTS[a.input].what}; random ` +
      `images of its shape): batch ${batch}, ${size}×${size}×${a.channels}, ${classes} classes, ` +
      `SGD momentum 0.9; training = forward + backward + update, median step after warm-up.`,
  );

  let torch: TorchResult | undefined;
  let torchPlain: { gflops: number } | { why: string } = { why: "no PyTorch run" };
  const plan = torchRun(a);
  if ("why" in plan) {
    say(`PyTorch comparison skipped: ${plan.why}.`);
  } else {
    console.error("running PyTorch ...");
    const load = otherLoad();
    const t = await runTorch(a.pythons, plan);
    torch = t.result;
    if (!torch) console.error(t.note);
    if (t.python) torchPlain = await runTorchPlainConv(t.python, plan);
    say(`${t.note}; other processes' CPU share meanwhile: ${pct(load())}.`);
  }
  say();

  const rows: Row[] = [];
  /** Training GFLOP/s of the plain-conv yardstick on each backend (by label). */
  const plain = new Map<string, number>();
  const profiles: { title: string; kernels: Awaited<ReturnType<typeof profileKernels>> }[] = [];
  for (const b of backends) {
    const { adapter, software } = await activate(b);
    const label = backendLabel(b, adapter, software);
    const slow = b === "cpu" || software === true;
    const steps = a.steps ?? (slow ? 1 : 7);
    const warmup = a.warmup ?? (slow ? 1 : 2);
    // A software adapter needs minutes per reference step: the small preset unless asked.
    const presetsHere = a.presets ?? (slow ? ["small"] : ["reference", "small"]);
    for (const preset of presetsHere) {
      for (const name of a.models) {
        console.error(`${label} / ${preset} / ${name} ...`);
        const options = { preset, numClasses: classes, inputShape: inputShape(a) };
        const model = createModel(name, options);
        const config = modelConfig(name, options);
        const flops = trunkFlops(config, size, size);
        const stepOptions = {
          batch,
          height: size,
          width: size,
          channels: a.channels,
          numClasses: classes,
        };
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
        const others = load();
        // Workers' kernels run in the workers, out of tf.profile's sight.
        if (a.profile && !slow && b !== "workers") {
          profiles.push({
            title: `${name} / ${preset} / ${label}`,
            kernels: await profileKernels(() => s.train()),
          });
        }
        s.dispose();
        const params = countParams(model);
        model.dispose();
        rows.push({
          backend: label,
          preset,
          model: name,
          params,
          fwdFlops: flops.forward,
          trainFlops: flops.training,
          trainImgS: batch / (train.medianMs / 1000),
          inferImgS: batch / (infer.medianMs / 1000),
          steps,
          others,
          load: loadavg(),
        });
        const r = rows.at(-1)!;
        console.error(
          `  train ${fmt(r.trainImgS)} img/s, inference ${fmt(r.inferImgS)} img/s ` +
            `(load ${fmt(r.load, 2)})`,
        );
      }
    }
    // The yardstick: a plain 64 → 64 3×3 conv's three training passes, after the models (in a
    // heap they grew, as a training step finds it) and after 10 warm-up steps, since its first
    // steps fault in fresh pages for their 48 MB of tensors (data-parallel workers and slow
    // backends have none).
    if (!slow && b !== "workers") {
      console.error(
        `${label} / plain ${PLAIN_CONV_CHANNELS} → ${PLAIN_CONV_CHANNELS} 3×3 conv ...`,
      );
      const pc = plainConvStep(batch, size);
      const t = await time(() => pc.run(), Math.max(steps, 7), Math.max(warmup, 10))
        .finally(() => pc.dispose());
      plain.set(label, pc.flops / (t.medianMs / 1000) / 1e9);
    }
  }

  const torchRow = (r: Row) =>
    torch && r.preset === TORCH_PRESET && Object.hasOwn(torch, r.model)
      ? torch[r.model]
      : undefined;
  const gflops = (r: Row) => ({
    train: (r.trainImgS * r.trainFlops) / 1e9,
    infer: (r.inferImgS * r.fwdFlops) / 1e9,
  });
  say(
    "| model | preset | backend | params | conv MFLOP/img (fwd) | train img/s | train GFLOP/s | " +
      "inference img/s | inference GFLOP/s | GFLOP/s ÷ symmetric's (train, inference) | " +
      "train GFLOP/s ÷ plain conv's (symlab, PyTorch) | " +
      "PyTorch train img/s | symlab / PyTorch | others' CPU | load avg |",
  );
  say("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const r of rows) {
    const p4 = rows.find((q) =>
      q.model === "symmetric" && q.backend === r.backend && q.preset === r.preset
    );
    const g = gflops(r);
    const ratio = p4
      ? `${fmt(g.train / gflops(p4).train, 2)}, ${fmt(g.infer / gflops(p4).infer, 2)}`
      : "—";
    const pt = torchRow(r)?.train_img_per_s;
    const own = plain.get(r.backend);
    const ofPlain = [own, "gflops" in torchPlain ? torchPlain.gflops : undefined]
      .map((v) => v === undefined ? "—" : fmt(g.train / v, 2)).join(", ");
    say(
      `| ${r.model} | ${r.preset} | ${r.backend} | ${r.params.toLocaleString("en-US")} | ` +
        `${fmt(r.fwdFlops / 1e6)} | ${fmt(r.trainImgS)} | ${fmt(g.train)} | ` +
        `${fmt(r.inferImgS)} | ${fmt(g.infer)} | ${ratio} | ${ofPlain} | ` +
        `${pt === undefined ? "—" : fmt(pt)} | ${
          pt === undefined ? "—" : fmt(r.trainImgS / pt, 2) + "×"
        } | ${pct(r.others)} | ${fmt(r.load, 2)} |`,
    );
  }
  say();
  const yardstick = [
    ...[...plain].map(([label, v]) => `${fmt(v)} GFLOP/s on ${label}`),
    "gflops" in torchPlain ? `${fmt(torchPlain.gflops)} GFLOP/s in PyTorch` : undefined,
  ].filter((v) => v !== undefined);
  if (yardstick.length) {
    say(
      `Plain ${PLAIN_CONV_CHANNELS} → ${PLAIN_CONV_CHANNELS} 3×3 convolution (batch ${batch}, ` +
        `${size}×${size}, channels-last, no bias; forward + input gradient + filter gradient on a ` +
        `fixed output gradient, bench/profile.ts plainConvStep, ${TORCH_SCRIPT} --plain-conv): ` +
        `${yardstick.join(", ")}${
          "why" in torchPlain && plan && !("why" in plan) ? ` (PyTorch: ${torchPlain.why})` : ""
        }.`,
    );
    say();
  }
  const notes = [
    "Training GFLOP/s count forward + filter gradient of every conv2d call + input gradient " +
    "past the first layer (bench/profile.ts, checked against the kernels tfjs runs in " +
    "tests/profile_test.ts); the scale layers' basis matmul and the filter-bank gathers are " +
    "per step, not per image, and not counted.",
    `"others' CPU" is the share of all ${navigator.hardwareConcurrency} cores that other ` +
    "processes used during the row (0% on a quiet machine); load avg is the 1-minute load " +
    "average when the row ended.",
  ];
  if (torch) {
    const lacking = a.models.filter((m) => !Object.hasOwn(torch!, m));
    notes.push(
      `PyTorch: "—" for ${
        lacking.length
          ? `${lacking.join(", ")} (${TORCH_SCRIPT} has only the ${
            TORCH_MODELS.join(", ")
          } trunks) and for `
          : ""
      }presets other than ${TORCH_PRESET}.`,
    );
    for (const [m, t] of Object.entries(torch)) {
      const ours = rows.find((r) => r.model === m && torchRow(r));
      if (ours && ours.params !== t.params) {
        notes.push(`PyTorch's ${m} has ${t.params} parameters against symlab's ${ours.params}.`);
      }
    }
  }
  notes.push(
    ...rows.filter((r) => r.steps < 5).map((r) => `${r.backend}: ${r.steps} timed step(s).`)
      .filter((v, i, all) => all.indexOf(v) === i),
  );
  say(notes.join(" "));
  for (const p of profiles) {
    const total = p.kernels.reduce((sum, k) => sum + k.ms, 0);
    say();
    say(`### Kernels of one training step: ${p.title} (total ${fmt(total, 0)} ms in kernels)`);
    say();
    say("| kernel | ms | calls | share |");
    say("|---|--:|--:|--:|");
    for (const k of p.kernels.slice(0, a.top)) {
      say(`| ${k.name} | ${fmt(k.ms)} | ${k.calls} | ${fmt((100 * k.ms) / total, 0)}% |`);
    }
  }
  await write();
  return 0;
}

if (import.meta.main) runMain(main);
