/**
 * Writes the protocol audit ({@linkcode runAudit}): `report.json` (every number, the protocol
 * options and provenance), `report.md` (the option table, FGSM and PGD accuracy with the three
 * protocols side by side for each model, the symmetric-vs-baseline PGD gains and the line
 * saying how much of the gain the asymmetry alone produces) and one SVG figure.
 *
 * @module
 */
import type { ReportContext } from "./report.ts";
import { lineChart } from "./plots.ts";
import {
  type Audit,
  type Gain,
  PROTOCOL_NAMES,
  type ProtocolName,
  protocolOptions,
  roleOf,
  SUMMARY_EPS,
} from "./protocol.ts";

/** Provenance of an audit report (the eval report's, without the sweep). */
export type AuditContext = Omit<ReportContext, "sweep"> & {
  /** The protocol asked for with --protocol (the audit always runs all three). */
  requested: ProtocolName;
};

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const pts = (v: number) => `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)}`;
const ratio = (g: Gain) => g.ratio === null ? "— (baseline at 0)" : `${g.ratio.toFixed(2)}×`;
const dratio = (g: Gain) =>
  g.ratio === null ? "—" : `${g.ratio >= 0 ? "+" : ""}${g.ratio.toFixed(2)}`;
const SHORT: Record<ProtocolName, string> = {
  ours: "ours",
  published: "published",
  "published-symmetric-fair": "fair",
};

function accuracyTable(audit: Audit, attack: "fgsm" | "pgd"): string {
  const models = Object.keys(audit.results.ours);
  const cols = models.flatMap((m) => PROTOCOL_NAMES.map((p) => `${m} ${SHORT[p]}`));
  const lines = [
    `| ε (u) | ε (/255) | ${cols.join(" | ")} |`,
    `|---|---|${cols.map(() => "---").join("|")}|`,
    `| clean | 0 | ${
      models.flatMap((m) => PROTOCOL_NAMES.map((p) => pct(audit.results[p][m].clean))).join(" | ")
    } |`,
    `| clipped, no attack | 0 | ${
      models.flatMap((m) => PROTOCOL_NAMES.map((p) => pct(audit.results[p][m].clipped))).join(
        " | ",
      )
    } |`,
    ...audit.eps.map((eps, i) =>
      `| ${eps} | ${(eps * 255 / 2).toFixed(2)} | ${
        models.flatMap((m) => PROTOCOL_NAMES.map((p) => pct(audit.results[p][m][attack][i].acc)))
          .join(" | ")
      } |`
    ),
  ];
  return lines.join("\n");
}

function gainTable(audit: Audit): string[] {
  return audit.gains.flatMap((g) => {
    const per = g.perProtocol;
    return [
      `### ${g.model} vs baseline`,
      "",
      "| ε (u) | ratio ours | ratio published | ratio fair | ratio: published − fair | difference ours (points) | difference published | difference fair | difference: published − fair |",
      "|---|---|---|---|---|---|---|---|---|",
      ...audit.eps.map((eps, i) =>
        `| ${eps} | ${ratio(per.ours[i])} | ${ratio(per.published[i])} | ${
          ratio(per["published-symmetric-fair"][i])
        } | ${dratio(g.asymmetry[i])} | ${pts(per.ours[i].difference)} | ${
          pts(per.published[i].difference)
        } | ${pts(per["published-symmetric-fair"][i].difference)} | ${
          pts(g.asymmetry[i].difference)
        } |`
      ),
      "",
    ];
  });
}

/** The computed sentence per symmetric model: how much of the published gain is asymmetry. */
export function asymmetrySentences(audit: Audit): string[] {
  const base = Object.keys(audit.results.ours).find((m) => roleOf(m) === "baseline");
  return audit.gains.map((g) => {
    const s = g.summary;
    const i = audit.eps.indexOf(s.eps);
    const floor = base !== undefined && i >= 0 &&
      (["published", "published-symmetric-fair"] as const).every((p) =>
        audit.results[p][g.model].pgd[i].acc === 0 && audit.results[p][base].pgd[i].acc === 0
      );
    const atFloor = floor
      ? ` Both models are at 0% there under both protocols, so that ε has no gain to split; the average over the grid below is the informative number.`
      : "";
    const share = s.published.difference !== 0
      ? ` (${(100 * s.asymmetry.difference / s.published.difference).toFixed(0)}% of it)`
      : "";
    return `**${g.model} vs baseline, PGD at ε = ${s.eps} (≈ ${
      (s.eps * 255 / 2).toFixed(1)
    }/255):** published protocol ${ratio(s.published)}, ${
      pts(s.published.difference)
    } points; same clipping and mode for both ${ratio(s.fair)}, ${
      pts(s.fair.difference)
    } points. The asymmetry alone produces ${dratio(s.asymmetry)} of the ratio and ${
      pts(s.asymmetry.difference)
    } points of the difference${share}.${atFloor} Averaged over ε = ${audit.eps[0]} … ${
      audit.eps.at(-1)
    }: published ${ratio(s.mean.published)}, ${pts(s.mean.published.difference)}; fair ${
      ratio(s.mean.fair)
    }, ${pts(s.mean.fair.difference)}; asymmetry ${dratio(s.mean.asymmetry)} of the ratio, ${
      pts(s.mean.asymmetry.difference)
    } points.`;
  });
}

/**
 * Writes report.json, report.md and pgd-accuracy-vs-epsilon.svg under `out`; returns the
 * file names.
 *
 * @example
 * ```ts ignore
 * // not run: needs an audit of trained checkpoints
 * await writeProtocolReport("reports/synthetic/protocol", audit, context);
 * ```
 */
export async function writeProtocolReport(
  out: string,
  audit: Audit,
  context: AuditContext,
): Promise<string[]> {
  await Deno.mkdir(out, { recursive: true });
  const options = protocolOptions(audit.eps);
  const figure = "pgd-accuracy-vs-epsilon.svg";
  const rows = PROTOCOL_NAMES.flatMap((p) =>
    Object.entries(audit.results[p]).flatMap(([model, r]) =>
      r.pgd.map((row) => ({ model, protocol: p, eps: row.eps, acc: row.acc }))
    )
  );
  await Deno.writeTextFile(
    `${out}/${figure}`,
    await lineChart(
      "PGD accuracy under each protocol",
      rows,
      { field: "eps", title: "ε (published normalised units; 0.063 = 8/255)" },
      { field: "acc", title: "accuracy" },
      "model",
      "protocol",
    ),
  );
  const sentences = asymmetrySentences(audit);
  const report = {
    ...context,
    kind: "protocol audit",
    options,
    ...audit,
    summary: sentences,
    figures: [figure],
  };
  await Deno.writeTextFile(`${out}/report.json`, JSON.stringify(report, null, 2) + "\n");
  const md = [
    `# symlab protocol audit: ${context.dataset.name}`,
    "",
    `${audit.images} test images attacked under each protocol, seed ${audit.seed} (ours' random start), backend ${context.backend}, ${context.date}; asked for --protocol ${context.requested}.`,
    `Checkpoints: ${
      Object.entries(context.checkpoints).map(([n, c]) =>
        `${n} ${c.preset} epoch ${c.epoch} (${c.params.toLocaleString("en-US")} params, sha256 ${
          c.weightsSha256.slice(0, 12)
        }…)`
      ).join("; ")
    }; the same weights for every column (restored after each training-mode evaluation).`,
    "",
    "## What the asymmetry alone produces",
    "",
    ...(sentences.length
      ? sentences.flatMap((s) => [s, ""])
      : ["No baseline and symmetric pair among the checkpoints: no gain to split.", ""]),
    "## Protocols, option by option",
    "",
    "ours = `deno task eval`; published = Wang et al., NeurIPS 2025 evaluation scripts; fair = published with the same clipping and batch-norm mode for both models. Rows marked ≠ differ from ours.",
    "",
    "| option | ours | published | fair |",
    "|---|---|---|---|",
    ...options.map((o) => {
      const mark = (p: ProtocolName) => p !== "ours" && o.values[p] !== o.values.ours ? "≠ " : "";
      return `| ${o.option} | ${o.values.ours} | ${mark("published")}${o.values.published} | ${
        mark("published-symmetric-fair")
      }${o.values["published-symmetric-fair"]} |`;
    }),
    "",
    "## PGD accuracy",
    "",
    "ε in the published normalised units u = (x − 0.5)/0.5 and as /255 of the pixel range; ours runs at the same pixel perturbations. \"clipped, no attack\" is the clean images clipped to the protocol's box (the baseline's [0, 1] in u turns every pixel darker than mid-grey into mid-grey).",
    "",
    accuracyTable(audit, "pgd"),
    "",
    `![${figure}](${figure})`,
    "",
    "## FGSM accuracy",
    "",
    accuracyTable(audit, "fgsm"),
    "",
    "## PGD gain of the symmetric models over the baseline",
    "",
    `ratio = accuracy(symmetric) / accuracy(baseline), difference in points; published − fair is the part of the gain that the asymmetric clipping and batch-norm mode produce alone. Summary line at ε = ${SUMMARY_EPS}, the grid point nearest to 8/255.`,
    "",
    ...gainTable(audit),
  ].join("\n");
  await Deno.writeTextFile(`${out}/report.md`, md);
  return ["report.json", "report.md", figure];
}
