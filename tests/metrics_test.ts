/**
 * `GET /metrics` over real HTTP from the app serving tiny checkpoints: Debian's
 * `promtool check metrics` accepts the live exposition without a complaint, and the process
 * metrics (resident memory, CPU seconds, event-loop lag) agree with what the process measures
 * of itself. Fails instead of skipping when CI=true and promtool is missing (.ci/run installs
 * Debian's `prometheus`).
 */
import assert from "node:assert/strict";
import { loadModels } from "../lib/model/checkpoint.ts";
import { createApp, createState } from "../routes/app.ts";
import { METRICS_CONTENT_TYPE } from "../routes/metrics.ts";
import { requireInCI, useBackend } from "./helpers.ts";
import { corruptPng, multipart, testPng, trainTinyCheckpoints } from "./server_fixtures.ts";

const hasPromtool = (() => {
  try {
    return new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();
requireInCI("promtool", hasPromtool, "apt-get install prometheus (Debian's package has promtool)");

/** promtool check metrics on the text: exit code and everything it printed. */
async function promtool(text: string): Promise<{ code: number; said: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, said: said.trim() };
}

/** The value of an unlabelled sample, or NaN. */
const sample = (text: string, name: string) =>
  Number(text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1] ?? NaN);

Deno.test({
  name: "/metrics: promtool accepts the live exposition; process metrics match the process",
  ignore: !hasPromtool,
  fn: async () => {
    await useBackend("wasm");
    const dir = await Deno.makeTempDir();
    await trainTinyCheckpoints(dir);
    const app = createApp(createState(await loadModels(dir), { queue: 4 }));
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    try {
      // Every kind of series: a 200 with a model call, a 400, a 404 and a 405.
      const post = (body: FormData) =>
        fetch(`${base}/classify?rotate=90`, { method: "POST", body }).then((r) => {
          r.body?.cancel();
          return r.status;
        });
      assert.equal(await post(multipart(testPng())), 200);
      assert.equal(await post(multipart(corruptPng())), 400);
      assert.equal((await fetch(`${base}/nope`).then((r) => (r.body?.cancel(), r))).status, 404);
      // Let the sampler run, then block the event loop for 200 ms: the next scrape shows it.
      await new Promise((r) => setTimeout(r, 50));
      const until = performance.now() + 200;
      while (performance.now() < until) { /* busy */ }
      await new Promise((r) => setTimeout(r, 20));

      const rssBefore = Deno.memoryUsage().rss;
      const res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), METRICS_CONTENT_TYPE);
      const text = await res.text();
      const rssAfter = Deno.memoryUsage().rss;
      const checked = await promtool(text);
      assert.equal(checked.code, 0, `promtool check metrics failed: ${checked.said}`);
      assert.equal(checked.said, "", `promtool complained: ${checked.said}`);

      // Resident memory: the process's own RSS, read just before and just after the scrape (it
      // moves with the GC; a read after promtool ran was 13% off under CI's parallel load),
      // within 10% of the range of the two.
      const rss = sample(text, "process_resident_memory_bytes");
      const [lo, hi] = [Math.min(rssBefore, rssAfter), Math.max(rssBefore, rssAfter)];
      assert.ok(
        rss >= 0.9 * lo && rss <= 1.1 * hi,
        `process_resident_memory_bytes ${rss} vs the process's ${rssBefore}…${rssAfter}`,
      );
      // CPU seconds: user + system = total, positive, and no more than the cores × wall time.
      const user = sample(text, "process_cpu_user_seconds_total");
      const system = sample(text, "process_cpu_system_seconds_total");
      const total = sample(text, "process_cpu_seconds_total");
      assert.ok(
        total > 0 && Math.abs(user + system - total) < 1e-6,
        `cpu ${user}+${system}=${total}`,
      );
      const wall = performance.now() / 1000;
      assert.ok(total <= navigator.hardwareConcurrency * wall + 0.1, `cpu ${total} s in ${wall} s`);
      // Event-loop lag: the 200 ms block is the maximum since the last scrape and lands in the
      // histogram above 0.1 s; the next scrape's maximum starts again from the quiet loop.
      const max = sample(text, "symlab_event_loop_lag_max_seconds");
      assert.ok(max >= 0.15 && max < 5, `symlab_event_loop_lag_max_seconds ${max}`);
      const count = sample(text, "symlab_event_loop_lag_seconds_count");
      const under = Number(
        text.match(/^symlab_event_loop_lag_seconds_bucket\{le="0\.1"\} (\d+)$/m)?.[1],
      );
      assert.ok(count > 0 && under < count, `lag histogram: ${under} of ${count} under 0.1 s`);
      assert.doesNotMatch(text, /nodejs_eventloop_lag/, "prom-client's lag is left out");
      await new Promise((r) => setTimeout(r, 50));
      const again = await (await fetch(`${base}/metrics`)).text();
      const quiet = sample(again, "symlab_event_loop_lag_max_seconds");
      assert.ok(quiet < 0.1, `max after a quiet 50 ms: ${quiet}`);
      assert.equal((await promtool(again)).said, "");
      // The server's own series are there too.
      assert.match(text, /^symlab_http_requests_total\{route="\/classify",status="200"\} 1$/m);
      assert.match(text, /^symlab_http_requests_total\{route="\/classify",status="400"\} 1$/m);
      assert.match(text, /^symlab_inference_batch_images_count [1-9]\d*$/m);
      assert.match(text, /^symlab_models_loaded 2$/m);
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
