/**
 * Evaluation options: the one schema from which `deno task eval`'s flags, help and checks come
 * (scripts/cli.ts derives them), which an experiment cell's `eval-options.json` is read with
 * (lib/experiment/task.ts), and whose fields an experiment file's `eval:` block reuses
 * (lib/experiment/spec.ts). {@linkcode runEvaluation} (run.ts) takes what it returns.
 *
 * @module
 */
import { z } from "zod";
import { BACKEND_NAMES } from "../kernels/backend.ts";
import { DATASET_NAMES } from "../data/mod.ts";
import { EVAL_SEED, PGD_RESTARTS, type SweepName, SWEEPS } from "./measures.ts";
import { AUDIT_EPS, PROTOCOL_NAMES, PROTOCOLS } from "./protocol.ts";
import { parseWith } from "../validate.ts";

const SWEEP_NAMES = Object.keys(SWEEPS) as [SweepName, ...SweepName[]];

/** Every evaluation option, its default and its help (`.meta`, read by scripts/cli.ts). */
export const EvalOptionsSchema = z.strictObject({
  checkpoints: z.string().min(1).default("checkpoints").meta({
    arg: "DIR",
    help: "holding baseline/, symmetric/, … (default {default}), one checkpoint each",
  }),
  dataset: z.enum(DATASET_NAMES).optional().meta({
    help: "override the dataset recorded in the checkpoints",
  }),
  dataDir: z.string().min(1).optional().meta({
    arg: "DIR",
    help: "an extracted copy of that dataset; for a folder dataset the folder recorded in " +
      "meta.json unless given (its split, size and channels are the recorded ones, and a " +
      "folder whose split changed is refused)",
  }),
  limit: z.number().int().min(0).default(2000).meta({
    arg: "N",
    help: "test images (default {default}; 0 = all)",
  }),
  advLimit: z.number().int().min(0).default(500).meta({ arg: "N", help: "test images attacked" }),
  sweep: z.enum(SWEEP_NAMES).default("full"),
  seed: z.number().int().min(0).default(EVAL_SEED).meta({
    arg: "N",
    help: "seed of the sampled transforms and the attacks' random starts (default {default}, " +
      "the seed of training's per-epoch metrics)",
  }),
  pgdSteps: z.number().int().min(1).max(10_000).optional().meta({
    arg: "N",
    help:
      `PGD steps (default: the sweep's, full ${SWEEPS.full.pgdSteps}, quick ${SWEEPS.quick.pgdSteps})`,
  }),
  pgdRestarts: z.number().int().min(1).max(100).default(PGD_RESTARTS).meta({
    arg: "N",
    help: "PGD random starts per image, the worst case kept",
  }),
  backend: z.enum(BACKEND_NAMES).default("auto"),
  tta: z.array(z.string().min(1)).optional().meta({
    arg: "MODEL[,MODEL]",
    help: "also evaluate each listed loaded model averaged over the four quarter turns at " +
      'test time (lib/model/tta.ts), as "<model>+tta": every measure runs on it, the attacks ' +
      "included (they differentiate the averaged model)",
  }),
  protocol: z.enum(PROTOCOL_NAMES).default("ours").meta({
    help: "{choices} (default {default}; docs/protocol.md, below)",
  }),
  out: z.string().min(1).optional().meta({
    arg: "DIR",
    help: "report directory (default reports/<dataset>, or reports/<dataset>/protocol for " +
      "the audit)",
  }),
}).superRefine((o, ctx) => {
  // The audit's roles (baseline vs symmetric clipping and batch-norm mode) name trained models.
  if (o.tta !== undefined && o.protocol !== "ours") {
    ctx.addIssue({ code: "custom", path: ["tta"], message: "applies to `protocol` ours only" });
  }
});

/** Validated evaluation options. */
export type EvalOptions = z.output<typeof EvalOptionsSchema>;

/** What `--protocol` chooses between, for the help (docs/protocol.md has the whole story). */
export const PROTOCOL_HELP = `Protocols:
  ours                      the sweep above; attacks on [0, 1] pixels, every model in
                            inference mode, PGD ${PROTOCOLS.ours.pgdSteps} steps of 2.5·ε/steps from a random start
  published                 the audit: Wang et al. (NeurIPS 2025)'s evaluation reproduced —
                            inputs normalised with mean = std = 0.5 (u ∈ [−1, 1]); the
                            baseline's adversarial images clipped to [0, 1] in u (dark pixels
                            become mid-grey), the symmetric models' to [−1, 1]; symmetric
                            models with batch norm in training mode (batches of ${PROTOCOLS.published.batchSize}), the
                            baseline in inference mode; PGD ${PROTOCOLS.published.pgdSteps} steps of ${PROTOCOLS.published.pgdStep} in u, no random
                            start; FGSM and PGD at ε = ${AUDIT_EPS[0]} … ${
  AUDIT_EPS.at(-1)
} in u (8/255 of the pixel
                            range is 0.063) — side by side with ours and
                            published-symmetric-fair at the same ε, on the first --adv-limit
                            test images
  published-symmetric-fair  the same audit (the three columns are always run together); fair
                            = published with both models clipped to [−1, 1] and in inference
                            mode`;

/**
 * Reads evaluation options (an options file's contents), naming `what` and the field when
 * they do not fit.
 *
 * @example
 * ```ts
 * parseEvalOptions({ checkpoints: "runs/x/cell/selected", sweep: "quick" }).limit; // 2000
 * ```
 */
export function parseEvalOptions(raw: unknown, what = "eval options"): EvalOptions {
  return parseWith(EvalOptionsSchema, raw, what);
}
