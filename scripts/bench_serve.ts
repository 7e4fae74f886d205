/**
 * `deno task bench:serve`: latency and throughput of POST /classify with the default
 * transforms (original + rotations 90/180/270, both models), over real HTTP on this machine,
 * and the process's RSS before and after, to show memory does not grow with requests.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { encode as encodePng } from "fast-png";
import { setBackend } from "../lib/backend.ts";
import { saveCheckpoint } from "../lib/checkpoint.ts";
import { countParams, createModel, MODEL_NAMES, modelConfig } from "../lib/models.ts";
import { loadServedModels } from "../lib/serve.ts";
import { createApp, createState } from "../routes/app.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    checkpoints: { type: "string" },
    requests: { type: "string", default: "200" },
    backend: { type: "string", default: "auto" },
  },
});

const backend = await setBackend(values.backend as "auto");
console.log(`backend: ${backend.name} (${backend.reason})`);
let dir = values.checkpoints ?? "checkpoints";
let note = `checkpoints from ${dir}`;
if (!(await Deno.stat(`${dir}/symmetric/meta.json`).catch(() => null))) {
  dir = await Deno.makeTempDir();
  note = "no checkpoints found: small-preset models with random weights, 32×32×3, 100 classes";
  for (const name of MODEL_NAMES) {
    const config = modelConfig(name, { numClasses: 100 });
    const model = createModel(name, { numClasses: 100 });
    await saveCheckpoint(`${dir}/${name}`, model, {
      meta: {
        model: name,
        config,
        dataset: {
          name: "synthetic",
          source: "random",
          classNames: [...Array(100).keys()].map(String),
        },
        epoch: 0,
        history: [],
        backend: backend.name,
        params: countParams(model),
        training: { inputSize: [32, 32] },
      },
    });
  }
}
console.log(note);
const models = await loadServedModels(dir);
const app = createApp(createState(models, { queue: 64 }));
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
const url = `http://127.0.0.1:${server.addr.port}/classify`;

const w = 64, h = 48;
const pixels = new Uint8Array(w * h * 3).map((_, i) => (i * 37) % 256);
const png = encodePng({ width: w, height: h, data: pixels, channels: 3 });
const send = async () => {
  const form = new FormData();
  form.append("img", new File([png as Uint8Array<ArrayBuffer>], "x.png"));
  const res = await fetch(url, { method: "POST", body: form });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  await res.json();
};

const rssMb = () => Deno.memoryUsage().rss / 1e6;
for (let i = 0; i < 10; i++) await send(); // warm-up
const rssStart = rssMb();
const n = Number(values.requests);
const rows: string[] = [];
for (const concurrency of [1, 8]) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < n) {
      const t = performance.now();
      await send();
      latencies.push(performance.now() - t);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  rows.push(
    `| ${concurrency} | ${latencies.length} | ${q(0.5).toFixed(1)} | ${q(0.99).toFixed(1)} | ${
      (latencies.length / seconds).toFixed(1)
    } |`,
  );
}
const rssEnd = rssMb();
await server.shutdown();
const cpu =
  (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ??
    "?";
console.log(
  `\n${navigator.hardwareConcurrency} cores, ${cpu}, ${new Date().toISOString().slice(0, 10)}`,
);
console.log(
  `POST /classify, ${w}×${h} PNG, default transforms (original + 3 rotations), ${
    models.map((m) => m.name).join(" + ")
  }\n`,
);
console.log("| concurrency | requests | p50 ms | p99 ms | requests/s |");
console.log("|---|---|---|---|---|");
for (const r of rows) console.log(r);
console.log(
  `\nRSS after warm-up ${rssStart.toFixed(0)} MB, after ${2 * n} more requests ${
    rssEnd.toFixed(0)
  } MB`,
);
