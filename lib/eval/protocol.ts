/**
 * Adversarial-evaluation protocols, option by option, and the audit that runs three of them on
 * the same checkpoints (`deno task eval --protocol published`, docs/protocol.md):
 *
 * - `ours`: `deno task eval`'s attacks (attacks.ts) — pixels in [0, 1], every model in
 *   inference mode, PGD with a random start, 10 steps of 2.5·ε/steps, clipped to [0, 1].
 * - `published`: the evaluation scripts of Wang et al., NeurIPS 2025 (arXiv 2510.16171;
 *   github.com/ifratmitul/Role-of-Equivariance, `cifar10/*_test.py`, `cifar100/*_test.py`):
 *   inputs normalised with mean = std = 0.5, so u ∈ [−1, 1]; the baseline's adversarial
 *   images clipped to [0, 1] in u (every pixel darker than mid-grey becomes mid-grey), the
 *   symmetric models' to [−1, 1]; the baseline in inference mode (`model.eval()`), the
 *   symmetric models with batch norm in training mode (no `eval()`: batch statistics of each
 *   test batch of 128, for the attack's gradients and for the final classification alike);
 *   PGD with 40 steps of 0.01 in u, no random start; FGSM one step of ε; ε = 0.01 … 0.15 in u.
 * - `published-symmetric-fair`: `published` with the same clipping and batch-norm mode for
 *   both models. "The same" is read as the choices that are correct for both: clipped to
 *   [−1, 1] in u (the valid pixel range [0, 1]) and inference mode (what `eval()` gives, and
 *   what a deployed model runs in). Only the two asymmetric options change, so the
 *   difference `published − published-symmetric-fair` is what the asymmetry alone produces.
 *
 * ## How the published protocol runs on our models (why it is exact)
 *
 * Our checkpoints take pixels x ∈ [0, 1] and standardise inside (layers/standardize.ts), the
 * published models take u = (x − 0.5)/0.5 directly. The attack is therefore run in u: the
 * clean batch is mapped to u₀ = (x − 0.5)/0.5, every step, the ε-ball projection and the
 * clipping are done on u, and the model is fed x = 0.5·u + 0.5. This is the published attack,
 * not an approximation of it:
 *
 * - gradient sign: the loss as a function of u is L(0.5·u + 0.5), so ∇ᵤL = 0.5·∇ₓL by the
 *   chain rule; 0.5 > 0, hence sign(∇ᵤL) = sign(∇ₓL) element by element (zeros included),
 *   and the signed step α·sign(∇ᵤL) is the same whichever gradient it is computed from;
 * - clipping: x = 0.5·u + 0.5 is increasing, so it commutes with min and max: clipping u to
 *   [a, b] is clipping x to [0.5·a + 0.5, 0.5·b + 0.5] (the baseline's [0, 1] in u is
 *   [0.5, 1] in pixels, the symmetric models' [−1, 1] is [0, 1]), and the ε-ball of radius ε
 *   in u is the ball of radius ε/2 in x;
 * - what the network computes on an image is unchanged by where the normalisation sits; only
 *   the units of ε and α and the position of the clip box depend on it. The networks
 *   themselves differ from the published ones (our first layer standardises with the training
 *   set's mean/std), which is a property of the checkpoints, not of the protocol.
 *
 * The round trip u ↔ x costs at most float32 rounding (|Δx| ≤ 2⁻²⁴, ~6e-8).
 *
 * ## Batch norm in training mode does not change the checkpoint
 *
 * Our batch norm (layers/batch_norm.ts), like PyTorch's, moves its moving averages on every
 * training-mode call — the published scripts do too, but never read them afterwards. Here the
 * same in-memory model is evaluated under the other protocols next, so {@linkcode runAudit}
 * snapshots every weight before a training-mode evaluation and writes the snapshot back after
 * it ({@linkcode withWeightsRestored}); tests/protocol_test.ts checks the weights bit for bit.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { inputGradient } from "./attacks.ts";
import type { Split } from "../data/mod.ts";
import { imagesToTensor, logitsOf } from "../model/predict.ts";
import { Progress } from "../progress.ts";
import { lookup } from "../validate.ts";

/** The protocols `deno task eval --protocol` accepts. */
export const PROTOCOL_NAMES = ["ours", "published", "published-symmetric-fair"] as const;
/** One of {@linkcode PROTOCOL_NAMES}. */
export type ProtocolName = typeof PROTOCOL_NAMES[number];
/** How a protocol treats a model: the plain CNN or a symmetric (group-equivariant) one. */
export type Role = "baseline" | "symmetric";
/** Batch norm with moving averages (`predict`, PyTorch `eval()`) or with batch statistics. */
export type BatchNormMode = "inference" | "training";

/** What a protocol does to one role's model. */
export interface RoleChoice {
  /** Clip box of the adversarial images, in the protocol's attack-space units. */
  box: [number, number];
  batchNorm: BatchNormMode;
}

/** One protocol: every option that differs between the evaluations compared. */
export interface Protocol {
  /** The attack space u = (x − mean)/std, x the [0, 1] pixels; ε, steps and boxes are in u. */
  space: { mean: number; std: number };
  /** Signed-gradient steps of PGD. */
  pgdSteps: number;
  /** PGD step size in attack-space units, or ours' rule α = 2.5·ε/steps. */
  pgdStep: number | "2.5·ε/steps";
  /** PGD starts uniformly at random in the ε-ball (seeded per batch) instead of at x. */
  randomStart: boolean;
  /** Images per batch: the batch the statistics come from when batch norm is in training mode. */
  batchSize: number;
  baseline: RoleChoice;
  symmetric: RoleChoice;
}

/** Mean = std = 0.5: the published `transforms.Normalize((0.5,)*3, (0.5,)*3)`. */
export const PUBLISHED_SPACE = { mean: 0.5, std: 0.5 } as const;

/**
 * The ε grid of the audit, in the published normalised units (u = (x − 0.5)/0.5): the
 * published `epsilons` list. Every protocol is run at these perturbations (ours converts them
 * to pixels, ε_x = ε/2) so the three columns line up row by row; 8/255 of the pixel range is
 * ε = 0.063 here.
 */
export const AUDIT_EPS = Array.from({ length: 15 }, (_, i) => Number(((i + 1) / 100).toFixed(2)));

/** The ε of the audit's summary line: the grid point nearest to 8/255 of the pixel range. */
export const SUMMARY_EPS = 0.06;

/** Every protocol, option by option (docs/protocol.md renders this table). */
export const PROTOCOLS: Record<ProtocolName, Protocol> = {
  ours: {
    space: { mean: 0, std: 1 },
    pgdSteps: 10,
    pgdStep: "2.5·ε/steps",
    randomStart: true,
    batchSize: 200,
    baseline: { box: [0, 1], batchNorm: "inference" },
    symmetric: { box: [0, 1], batchNorm: "inference" },
  },
  published: {
    space: PUBLISHED_SPACE,
    pgdSteps: 40,
    pgdStep: 0.01,
    randomStart: false,
    batchSize: 128,
    baseline: { box: [0, 1], batchNorm: "inference" },
    symmetric: { box: [-1, 1], batchNorm: "training" },
  },
  "published-symmetric-fair": {
    space: PUBLISHED_SPACE,
    pgdSteps: 40,
    pgdStep: 0.01,
    randomStart: false,
    batchSize: 128,
    baseline: { box: [-1, 1], batchNorm: "inference" },
    symmetric: { box: [-1, 1], batchNorm: "inference" },
  },
};

/**
 * The protocol called `name`; throws a RangeError naming the choices otherwise.
 *
 * @example
 * ```ts
 * protocol("published").pgdSteps; // 40
 * ```
 */
export function protocol(name: string): Protocol {
  return lookup(PROTOCOLS, name, "protocol");
}

/**
 * The role a model plays in a protocol: `baseline` is the plain CNN, every other architecture
 * (symmetric, p4m, scale, rotscale) is group-equivariant and gets the symmetric models' options.
 */
export function roleOf(modelName: string): Role {
  return modelName === "baseline" ? "baseline" : "symmetric";
}

/** Pixels [0, 1] -> attack space: u = (x − mean)/std. */
export function toSpace(x: tf.Tensor4D, space: Protocol["space"]): tf.Tensor4D {
  return tf.tidy(() => x.sub(space.mean).div(space.std));
}

/** Attack space -> pixels: x = std·u + mean (what our models are fed). */
export function fromSpace(u: tf.Tensor4D, space: Protocol["space"]): tf.Tensor4D {
  return tf.tidy(() => u.mul(space.std).add(space.mean));
}

/** An audit ε (published units) in a protocol's attack space: the same pixel perturbation. */
export function epsInSpace(eps: number, p: Protocol): number {
  return eps * PUBLISHED_SPACE.std / p.space.std;
}

/** Logits of a batch in the role's batch-norm mode. */
export function logitsIn(model: tf.LayersModel, x: tf.Tensor4D, mode: BatchNormMode): tf.Tensor2D {
  return tf.tidy(() =>
    (mode === "training" ? model.apply(x, { training: true }) : logitsOf(model, x)) as tf.Tensor2D
  );
}

/** The clean batch clipped to the role's box (no attack): what clipping alone does to it. */
export function clipToBox(x: tf.Tensor4D, p: Protocol, role: Role): tf.Tensor4D {
  const [lo, hi] = p[role].box;
  return tf.tidy(() => fromSpace(toSpace(x, p.space).clipByValue(lo, hi) as tf.Tensor4D, p.space));
}

/**
 * One attack under a protocol, returned as pixels for our model. In the attack space u:
 * FGSM `u' = clip(u₀ + ε·sign ∇ᵤL, box)`; PGD from u₀ (or a seeded uniform start in the
 * ε-ball), `steps` times `u ← clip(clip(u + α·sign ∇ᵤL, u₀ − ε, u₀ + ε), box)` — the
 * published order (ε-ball, then box). L is the mean cross-entropy in the role's batch-norm
 * mode. `eps` is in the published units (see {@linkcode AUDIT_EPS}). Under `ours` this is
 * attacks.ts's fgsm / pgd to float rounding (tested).
 */
export function attackUnderProtocol(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  eps: number,
  options: { protocol: Protocol; role: Role; attack: "fgsm" | "pgd"; seed?: number },
): tf.Tensor4D {
  const { protocol: p, role, attack } = options;
  const { space } = p;
  const [lo, hi] = p[role].box;
  const training = p[role].batchNorm === "training";
  const e = epsInSpace(eps, p);
  // ∇ᵤL = std·∇ₓL with std > 0: the same sign, so the gradient is taken where the model is.
  const signedStep = (u: tf.Tensor4D, size: number) =>
    tf.tidy(() => {
      const g = inputGradient(model, fromSpace(u, space), labels, training);
      return u.add(g.sign().mul(size)) as tf.Tensor4D;
    });
  return tf.tidy(() => {
    const u0 = toSpace(x, space);
    if (attack === "fgsm") {
      return fromSpace(signedStep(u0, e).clipByValue(lo, hi) as tf.Tensor4D, space);
    }
    const alpha = p.pgdStep === "2.5·ε/steps" ? 2.5 * e / p.pgdSteps : p.pgdStep;
    const ballLo = u0.sub(e), ballHi = u0.add(e);
    const project = (u: tf.Tensor4D) =>
      u.maximum(ballLo).minimum(ballHi).clipByValue(lo, hi) as tf.Tensor4D;
    let u = p.randomStart
      ? project(u0.add(tf.randomUniform(u0.shape, -e, e, "float32", options.seed ?? 0)))
      : u0.clone();
    for (let s = 0; s < p.pgdSteps; s++) {
      const next = tf.tidy(() => project(signedStep(u, alpha)));
      u.dispose();
      u = next;
    }
    return fromSpace(u, space);
  });
}

/**
 * Runs `fn` and then writes every weight of `model` back to its value before the call
 * (training-mode batch norm moves the moving averages; nothing else in an evaluation writes
 * weights). The snapshot shares the tensors' data until a write replaces a variable's, so it
 * costs no copy of the weights that are not written.
 */
export async function withWeightsRestored<T>(
  model: tf.LayersModel,
  fn: () => Promise<T>,
): Promise<T> {
  const saved = model.weights.map((w) => tf.clone(w.read()));
  try {
    return await fn();
  } finally {
    // Assign on the variable itself: LayerVariable.write would re-apply a weight constraint.
    model.weights.forEach((w, i) => (w.read() as tf.Variable).assign(saved[i]));
    tf.dispose(saved);
  }
}

/** One row of the option-by-option table: the option and its value under each protocol. */
export interface ProtocolOption {
  option: string;
  values: Record<ProtocolName, string>;
}

const num = (v: number) => String(Number(v.toFixed(4)));
const in255 = (v: number) => `${num(v * 255)}/255`;

function spaceText(p: Protocol): string {
  const { mean, std } = p.space;
  if (mean === 0 && std === 1) return "pixels x ∈ [0, 1] (the model standardises inside)";
  return `u = (x − ${num(mean)})/${num(std)} ∈ [${num(-mean / std)}, ${num((1 - mean) / std)}]`;
}

function boxText(p: Protocol, role: Role): string {
  const [a, b] = p[role].box;
  const { mean, std } = p.space;
  const [xa, xb] = [a * std + mean, b * std + mean];
  if (mean === 0 && std === 1) return `[${num(a)}, ${num(b)}] pixels`;
  const dark = xa > 0 ? `: every pixel below ${num(xa)} becomes ${num(xa)} (mid-grey)` : "";
  return `[${num(a)}, ${num(b)}] in u = [${num(xa)}, ${num(xb)}] pixels${dark}`;
}

function bnText(p: Protocol, role: Role): string {
  return p[role].batchNorm === "training"
    ? "training mode: batch statistics of each test batch (PyTorch without eval())"
    : "inference mode: moving averages (predict / PyTorch eval())";
}

/**
 * The options of every protocol as text, one row per option, derived from
 * {@linkcode PROTOCOLS} (so the table cannot drift from what runs).
 *
 * @example
 * ```ts
 * protocolOptions().find((o) => o.option === "PGD steps")?.values.published; // "40"
 * ```
 */
export function protocolOptions(eps: number[] = AUDIT_EPS): ProtocolOption[] {
  const row = (option: string, f: (p: Protocol) => string): ProtocolOption => ({
    option,
    values: Object.fromEntries(PROTOCOL_NAMES.map((n) => [n, f(PROTOCOLS[n])])) as Record<
      ProtocolName,
      string
    >,
  });
  const [lo, hi] = [eps[0], eps.at(-1) as number];
  return [
    row("attack space (input normalisation)", spaceText),
    row("ε grid", (p) => {
      const [a, b] = [epsInSpace(lo, p), epsInSpace(hi, p)];
      return p.space.std === 1
        ? `${num(a)} … ${num(b)} pixels (${in255(a)} … ${
          in255(b)
        }), the published grid in pixels; deno task eval's own sweep is 1, 2, 4, 8 /255`
        : `${num(a)}, ${num(epsInSpace(eps[1] ?? lo, p))}, …, ${
          num(b)
        } in u (8/255 of the pixel range is ${num(2 * 8 / 255 / (2 * p.space.std))})`;
    }),
    row("FGSM", () => "one step x + ε·sign ∇L, clipped to the box"),
    row("PGD steps", (p) => String(p.pgdSteps)),
    row(
      "PGD step α",
      (p) =>
        typeof p.pgdStep === "number"
          ? `${num(p.pgdStep)} in u (${in255(p.pgdStep * p.space.std)} of the pixel range)`
          : `${p.pgdStep}`,
    ),
    row(
      "PGD start",
      (p) => p.randomStart ? "uniform in the ε-ball, seeded" : "x itself (no random start)",
    ),
    row("PGD projection", () => "ε-ball around x, then the box, after every step"),
    row("loss", () => "mean cross-entropy (its scale does not change the sign of the gradient)"),
    row("baseline: clip box", (p) => boxText(p, "baseline")),
    row("symmetric models: clip box", (p) => boxText(p, "symmetric")),
    row("baseline: batch norm", (p) => bnText(p, "baseline")),
    row("symmetric models: batch norm", (p) => bnText(p, "symmetric")),
    row(
      "batch size",
      (p) =>
        `${p.batchSize}${
          p.baseline.batchNorm === "training" || p.symmetric.batchNorm === "training"
            ? " (sets the batch statistics of the training-mode models)"
            : " (no effect in inference mode)"
        }`,
    ),
  ];
}

/** A model in the audit. */
export interface AuditModel {
  name: string;
  role: Role;
  model: tf.LayersModel;
}

/** One model under one protocol: accuracies on the attacked images. */
export interface ModelAudit {
  /** Unattacked images in the role's batch-norm mode. */
  clean: number;
  /** Unattacked images clipped to the role's box (the baseline's [0, 1] in u alone). */
  clipped: number;
  fgsm: { eps: number; acc: number }[];
  pgd: { eps: number; acc: number }[];
}

/** The PGD "gain" of a symmetric model over the baseline at one ε. */
export interface Gain {
  eps: number;
  /** accuracy(symmetric) / accuracy(baseline); null where the baseline is at 0. */
  ratio: number | null;
  /** accuracy(symmetric) − accuracy(baseline). */
  difference: number;
}

/** Gains of one symmetric model, per protocol, and what the asymmetry alone accounts for. */
export interface GainAudit {
  model: string;
  perProtocol: Record<ProtocolName, Gain[]>;
  /** `published − published-symmetric-fair`, per ε (ratio null where either ratio is). */
  asymmetry: Gain[];
  /** The same at {@linkcode SUMMARY_EPS} and averaged over the grid. */
  summary: {
    eps: number;
    published: Gain;
    fair: Gain;
    asymmetry: Gain;
    mean: { published: Gain; fair: Gain; asymmetry: Gain };
  };
}

/** Everything the audit measured. */
export interface Audit {
  /** ε grid in the published normalised units. */
  eps: number[];
  images: number;
  seed: number;
  protocols: Record<ProtocolName, Protocol>;
  results: Record<ProtocolName, Record<string, ModelAudit>>;
  gains: GainAudit[];
}

/** Options of {@linkcode runAudit}. */
export interface AuditOptions {
  /** Test images attacked (the first `limit`). */
  limit: number;
  /** Seeds ours' random start (seed + index of the batch's first image). */
  seed: number;
  /** ε grid in published units (default {@linkcode AUDIT_EPS}). */
  eps?: number[];
  progress?: boolean;
}

async function hits(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  labels: Int32Array,
  mode: BatchNormMode,
): Promise<number> {
  const predicted = tf.tidy(() => logitsIn(model, x, mode).argMax(1));
  const p = await predicted.data();
  predicted.dispose();
  let h = 0;
  for (let i = 0; i < labels.length; i++) if (p[i] === labels[i]) h++;
  return h;
}

/** One model under one protocol, batch by batch as the protocol batches. */
async function auditModel(
  m: AuditModel,
  test: Split,
  p: Protocol,
  n: number,
  eps: number[],
  seed: number,
  tick: () => void,
): Promise<ModelAudit> {
  const mode = p[m.role].batchNorm;
  const count = { clean: 0, clipped: 0, fgsm: eps.map(() => 0), pgd: eps.map(() => 0) };
  for (let start = 0; start < n; start += p.batchSize) {
    const size = Math.min(p.batchSize, n - start);
    const x = imagesToTensor(test, start, size);
    const labels = test.labels.subarray(start, start + size);
    const y = tf.tensor1d(labels, "int32");
    count.clean += await hits(m.model, x, labels, mode);
    const clipped = clipToBox(x, p, m.role);
    count.clipped += await hits(m.model, clipped, labels, mode);
    clipped.dispose();
    for (let e = 0; e < eps.length; e++) {
      for (const attack of ["fgsm", "pgd"] as const) {
        const adv = attackUnderProtocol(m.model, x, y, eps[e], {
          protocol: p,
          role: m.role,
          attack,
          seed: seed + start,
        });
        count[attack][e] += await hits(m.model, adv, labels, mode);
        adv.dispose();
      }
      tick();
    }
    tf.dispose([x, y]);
  }
  return {
    clean: count.clean / n,
    clipped: count.clipped / n,
    fgsm: eps.map((v, e) => ({ eps: v, acc: count.fgsm[e] / n })),
    pgd: eps.map((v, e) => ({ eps: v, acc: count.pgd[e] / n })),
  };
}

function gain(eps: number, sym: number, base: number): Gain {
  return { eps, ratio: base > 0 ? sym / base : null, difference: sym - base };
}

function minus(a: Gain, b: Gain): Gain {
  return {
    eps: a.eps,
    ratio: a.ratio === null || b.ratio === null ? null : a.ratio - b.ratio,
    difference: a.difference - b.difference,
  };
}

function meanGain(gains: Gain[]): Gain {
  const ratios = gains.map((g) => g.ratio);
  return {
    eps: NaN,
    ratio: ratios.includes(null)
      ? null
      : ratios.reduce((s: number, r) => s + (r as number), 0) / gains.length,
    difference: gains.reduce((s, g) => s + g.difference, 0) / gains.length,
  };
}

/** The PGD gains of every symmetric model over the baseline (none without a baseline). */
export function gainsOf(
  results: Record<ProtocolName, Record<string, ModelAudit>>,
  models: { name: string; role: Role }[],
  summaryEps = SUMMARY_EPS,
): GainAudit[] {
  const base = models.find((m) => m.role === "baseline");
  if (!base) return [];
  return models.filter((m) => m.role === "symmetric").map(({ name }) => {
    const perProtocol = Object.fromEntries(PROTOCOL_NAMES.map((p) => [
      p,
      results[p][name].pgd.map((r, i) => gain(r.eps, r.acc, results[p][base.name].pgd[i].acc)),
    ])) as Record<ProtocolName, Gain[]>;
    const pub = perProtocol.published, fair = perProtocol["published-symmetric-fair"];
    const asymmetry = pub.map((g, i) => minus(g, fair[i]));
    const at = pub.findIndex((g) => Math.abs(g.eps - summaryEps) < 1e-9);
    const i = at >= 0 ? at : pub.length - 1;
    const mean = { published: meanGain(pub), fair: meanGain(fair) };
    return {
      model: name,
      perProtocol,
      asymmetry,
      summary: {
        eps: pub[i].eps,
        published: pub[i],
        fair: fair[i],
        asymmetry: asymmetry[i],
        mean: { ...mean, asymmetry: minus(mean.published, mean.fair) },
      },
    };
  });
}

/**
 * The audit: every model under each of the three protocols on the first `limit` test images,
 * FGSM and PGD at every ε of the grid, and the PGD gains of the symmetric models over the
 * baseline. The weights are restored after every training-mode evaluation.
 *
 * @example
 * ```ts ignore
 * // not run: needs checkpoints written by `deno task train`
 * const audit = await runAudit(models.map((m) => ({ ...m, role: roleOf(m.name) })), dataset.test, { limit: 256, seed: 1 });
 * audit.gains[0].summary.asymmetry; // what the asymmetric clipping and batch-norm mode alone add
 * ```
 */
export async function runAudit(
  models: AuditModel[],
  test: Split,
  options: AuditOptions,
): Promise<Audit> {
  const eps = options.eps ?? AUDIT_EPS;
  const n = Math.min(options.limit || test.count, test.count);
  const batches = PROTOCOL_NAMES.reduce(
    (s, name) => s + Math.ceil(n / PROTOCOLS[name].batchSize),
    0,
  );
  const bar = options.progress === false
    ? undefined
    : new Progress("protocol audit", batches * models.length * eps.length, { unit: "ε" });
  let done = 0;
  const tick = () => bar?.update(++done, done);
  const results = {} as Record<ProtocolName, Record<string, ModelAudit>>;
  for (const name of PROTOCOL_NAMES) {
    const p = PROTOCOLS[name];
    results[name] = {};
    for (const m of models) {
      const run = () => auditModel(m, test, p, n, eps, options.seed, tick);
      results[name][m.name] = p[m.role].batchNorm === "training"
        ? await withWeightsRestored(m.model, run)
        : await run();
    }
  }
  bar?.done();
  const gains = gainsOf(results, models);
  return { eps, images: n, seed: options.seed, protocols: PROTOCOLS, results, gains };
}
