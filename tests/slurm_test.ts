/**
 * The experiment grid through a real single-node Slurm (no mock of sbatch): uses the cluster
 * that $SLURM_CONF points at (.ci/run starts one), else starts one with .ci/slurm.sh when
 * slurmctld is installed. Without Slurm the test is skipped on a developer's machine and fails
 * in CI (CI=true), so a CI that lost its Slurm cannot pass silently.
 */
import assert from "node:assert/strict";

const decoder = new TextDecoder();

async function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  try {
    const r = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    return { code: r.code, out: decoder.decode(r.stdout), err: decoder.decode(r.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { code: 127, out: "", err: `${cmd} not found` };
    throw e;
  }
}

const inCI = Deno.env.get("CI") === "true";
const given = Deno.env.get("SLURM_CONF");
const installed = (await sh("slurmctld", ["-V"])).code === 0;
const usable = given ? (await sh("sinfo", ["-h"])).code === 0 : installed;

Deno.test({
  name: "Slurm is available in CI",
  ignore: !inCI,
  fn: () => {
    assert.ok(
      usable,
      `CI=true but no usable Slurm: SLURM_CONF=${given ?? "(unset)"}, slurmctld ${
        installed ? "installed" : "missing"
      } (.ci/run installs slurm-wlm and starts it with .ci/slurm.sh)`,
    );
  },
});

Deno.test({
  name: "a 2 models × 2 seeds grid runs to completion as a real Slurm job array",
  ignore: !usable,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "symlab-slurm-" });
    let cluster: string | undefined;
    const env: Record<string, string> = {};
    try {
      if (given) {
        env.SLURM_CONF = given;
      } else {
        cluster = `${tmp}/cluster`;
        const start = await sh("bash", [".ci/slurm.sh", "start", cluster]);
        assert.equal(start.code, 0, start.err);
        env.SLURM_CONF = `${cluster}/slurm.conf`;
      }
      const out = `${tmp}/quick`;
      const experiment = (...args: string[]) =>
        sh(Deno.execPath(), ["run", "-A", "scripts/experiment.ts", ...args], env);
      const submit = await experiment(
        "run",
        "experiments/quick.yaml",
        "--out",
        out,
        "--slurm",
        "--slurm-args=-c 1 --time=10",
      );
      assert.equal(submit.code, 0, submit.err + submit.out);
      const id = submit.out.match(/submitted job (\d+): 4 array tasks/)?.[1];
      assert.ok(id, submit.out);
      const again = await experiment("run", "experiments/quick.yaml", "--out", out, "--slurm");
      assert.match(again.out, /(4 cells are already queued or running|nothing to submit)/);
      // Wait for the four markers (each cell ~10-15 s; 2 run at a time on 2 cores).
      const deadline = Date.now() + 150_000;
      let status = "";
      while (Date.now() < deadline) {
        status = (await experiment("status", out)).out;
        if (/^4\/4 done/m.test(status) || /[1-9]\d* failed/.test(status)) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      assert.match(status, /^4\/4 done, 0 failed/m, status);
      for (const line of status.split("\n").filter((l) => /-s\d-/.test(l))) {
        assert.match(line, /\bdone\b.*2\/2 epochs, evaluated/, line);
      }
      // Each task wrote its own Slurm log and its cell's log through the same cell runner.
      const logs = [...Deno.readDirSync(`${out}/slurm`)].map((e) => e.name)
        .filter((n) => n.startsWith(`${id}_`));
      assert.equal(logs.length, 4, logs.join(", "));
      const taskLog = Deno.readTextFileSync(`${out}/slurm/${logs.sort()[0]}`);
      assert.match(taskLog, /: done/);
      const cellLog = Deno.readTextFileSync(`${out}/baseline-s1-n64-shift/log.txt`);
      assert.match(cellLog, /OMP_NUM_THREADS=1 /); // -c 1: one thread per task
      const agg = await experiment("aggregate", out);
      assert.equal(agg.code, 0, agg.err);
      const summary = JSON.parse(Deno.readTextFileSync(`${out}/summary.json`));
      assert.equal(summary.metrics.baseline.clean.n, 2);
      assert.equal(summary.metrics.symmetric.clean.values.length, 2);
      assert.equal(summary.differences.symmetric.clean.n, 2);
      assert.equal(summary.claims.length, 5); // one size: no limited-data claim
      const resubmit = await experiment("run", "experiments/quick.yaml", "--out", out, "--slurm");
      assert.match(resubmit.out, /4 of 4 trained cells already done/);
      assert.match(resubmit.out, /nothing to submit/);
    } finally {
      if (cluster) await sh("bash", [".ci/slurm.sh", "stop", cluster]);
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
