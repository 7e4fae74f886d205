/**
 * Slurm: the cells that are not done go out as one job array (`sbatch --array`, one task per
 * cell); each task runs `scripts/experiment.ts cell OUT --index $SLURM_ARRAY_TASK_ID`, the same
 * code as a local run, so markers, logs and resume behave identically. The job ids are kept in
 * `<out>/slurm/jobs.json` so that `status` can ask `squeue` (and `sacct`, where accounting is
 * configured) about the tasks.
 *
 * @module
 */
import { shellQuote } from "./cell.ts";

/** The repository root (scripts/experiment.ts lives there), from this module's location. */
export const REPO_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** sbatch/squeue missing or refusing; the message is one line. */
export class SlurmError extends Error {
  override name = "SlurmError";
}

/** A submitted array: its job id and the cell indices it covers. */
export interface Submission {
  jobId: string;
  indices: number[];
  submittedAt: string;
}

/** The array spec `0-3,5,7-8` for sorted indices. */
export function arraySpec(indices: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length;) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j] + 1) j++;
    parts.push(i === j ? `${indices[i]}` : `${indices[i]}-${indices[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** The batch script of an experiment's array (written to `<out>/slurm/job.sh`). */
export function jobScript(out: string, name: string, deno = Deno.execPath()): string {
  return [
    "#!/bin/bash",
    `#SBATCH --job-name=symlab-${name}`,
    `#SBATCH --output=${out}/slurm/%A_%a.out`,
    "# One cell per array task; oneDNN/OpenMP threads = the CPUs Slurm gave the task.",
    "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}",
    `exec ${shellQuote(deno)} run -A ${shellQuote(`${REPO_ROOT}/scripts/experiment.ts`)} cell ${
      shellQuote(out)
    } --index "$SLURM_ARRAY_TASK_ID"`,
    "",
  ].join("\n");
}

async function command(
  name: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await new Deno.Command(name, { args, stdout: "piped", stderr: "piped" }).output();
    const d = new TextDecoder();
    return { code: r.code, stdout: d.decode(r.stdout), stderr: d.decode(r.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new SlurmError(`${name} not found: is this a Slurm login node? (PATH has no ${name})`);
    }
    throw e;
  }
}

/**
 * Submits the given cell indices as one array; `slurmArgs` (partition, time, GPUs, account,
 * CPUs per task…) go to sbatch before the script. Returns the job id.
 *
 * @example
 * ```ts ignore
 * // not run: needs a Slurm cluster
 * const s = await submitArray("runs/grid", "grid", [0, 1, 2], ["--partition=gpu", "-c", "8"]);
 * ```
 */
export async function submitArray(
  out: string,
  name: string,
  indices: number[],
  slurmArgs: string[] = [],
): Promise<Submission> {
  if (!indices.length) throw new SlurmError("no cell left to submit: every cell is done");
  // Tasks start in the submission directory, but a job may outlive a shell's cd: absolute path.
  out = await Deno.realPath(out);
  await Deno.mkdir(`${out}/slurm`, { recursive: true });
  const script = `${out}/slurm/job.sh`;
  await Deno.writeTextFile(script, jobScript(out, name));
  const r = await command("sbatch", [
    "--parsable",
    `--array=${arraySpec(indices)}`,
    ...slurmArgs,
    script,
  ]);
  if (r.code !== 0) {
    throw new SlurmError(`sbatch failed (exit ${r.code}): ${r.stderr.trim().split("\n").at(-1)}`);
  }
  // --parsable prints "jobid" or "jobid;cluster".
  const jobId = r.stdout.trim().split(";")[0];
  if (!/^\d+$/.test(jobId)) throw new SlurmError(`sbatch printed no job id: "${r.stdout.trim()}"`);
  const submission = { jobId, indices, submittedAt: new Date().toISOString() };
  const jobs = await readSubmissions(out);
  await Deno.writeTextFile(
    `${out}/slurm/jobs.json`,
    JSON.stringify([...jobs, submission], null, 2) + "\n",
  );
  return submission;
}

/** The arrays submitted for an experiment directory (none when never submitted). */
export async function readSubmissions(out: string): Promise<Submission[]> {
  try {
    return JSON.parse(await Deno.readTextFile(`${out}/slurm/jobs.json`));
  } catch {
    return [];
  }
}

/** Expands squeue's `12_[3-5,7%2]` / `12_4` job ids into `[jobId, index]` pairs. */
export function expandTaskIds(id: string): [string, number][] {
  const m = id.match(/^(\d+)_(\d+)$/);
  if (m) return [[m[1], Number(m[2])]];
  const r = id.match(/^(\d+)_\[([^\]]+)\]$/);
  if (!r) return [];
  const out: [string, number][] = [];
  for (const part of r[2].split("%")[0].split(",")) {
    const [a, b] = part.split("-").map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push([r[1], i]);
  }
  return out;
}

/**
 * Slurm's state for each cell index of the submitted arrays, from `squeue` (queued and
 * running tasks) and `sacct` when accounting answers (finished ones). The newest submission
 * wins for an index submitted twice. Indices Slurm no longer knows are absent.
 */
export async function slurmStates(submissions: Submission[]): Promise<Map<number, string>> {
  const states = new Map<number, string>();
  if (!submissions.length) return states;
  const ids = submissions.map((s) => s.jobId);
  const newest = new Map<number, string>();
  for (const s of submissions) for (const i of s.indices) newest.set(i, s.jobId);
  const take = (jobId: string, index: number, state: string) => {
    if (newest.get(index) === jobId) states.set(index, state);
  };
  const acct = await command("sacct", [
    "-n",
    "-P",
    "-X",
    "-j",
    ids.join(","),
    "-o",
    "JobID,State",
  ]).catch(() => undefined);
  if (acct?.code === 0) {
    for (const line of acct.stdout.trim().split("\n").filter(Boolean)) {
      const [id, state] = line.split("|");
      for (const [job, index] of expandTaskIds(id)) take(job, index, state.split(" ")[0]);
    }
  }
  // One squeue per array: squeue fails as a whole when any listed job is already purged.
  for (const id of ids) {
    const q = await command("squeue", ["-h", "-r", "-j", id, "-o", "%i %T"]).catch(
      () => undefined,
    );
    if (q?.code !== 0) continue;
    for (const line of q.stdout.trim().split("\n").filter(Boolean)) {
      const [task, state] = line.trim().split(/\s+/);
      for (const [job, index] of expandTaskIds(task)) take(job, index, state);
    }
  }
  return states;
}
