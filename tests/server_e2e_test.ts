/**
 * The real server as a subprocess: curl against it, a bounded mixed load, graceful SIGTERM.
 */
import assert from "node:assert/strict";
import { multipart, testPng, trainTinyCheckpoints } from "./server_fixtures.ts";
import { useBackend } from "./helpers.ts";

await useBackend("wasm");

async function startServer(dir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "scripts/serve.ts",
      "--checkpoints",
      dir,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--backend",
      "wasm",
      "--quiet",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let port = 0;
  while (!out.includes("ready:")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited early: ${out}`);
    out += value;
    port = Number(out.match(/listening on http:\/\/[^:]+:(\d+)/)?.[1] ?? port);
  }
  return { child, port, reader, out: () => out };
}

Deno.test("curl -F img=@… /classify?rotate=90 against the real server, then SIGTERM", async () => {
  const dir = await Deno.makeTempDir();
  await trainTinyCheckpoints(dir);
  await Deno.writeFile(`${dir}/cat.png`, testPng());
  const server = await startServer(dir);
  const curl = await new Deno.Command("curl", {
    args: [
      "-sS",
      "-F",
      `img=@${dir}/cat.png`,
      `http://127.0.0.1:${server.port}/classify?rotate=90`,
    ],
    stdout: "piped",
  }).output();
  assert.equal(curl.code, 0);
  const body = JSON.parse(new TextDecoder().decode(curl.stdout));
  assert.equal(body.models.symmetric.transforms[0].value, 90);
  assert.ok(Math.abs(body.models.symmetric.transforms[0].invariance - 1) <= 1e-4);
  server.child.kill("SIGTERM");
  const status = await server.child.status;
  let rest = "";
  while (true) {
    const { value, done } = await server.reader.read();
    if (done) break;
    rest += value;
  }
  await server.child.stderr.cancel();
  assert.equal(status.code, 0);
  assert.match(rest, /SIGTERM: finishing requests in flight/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bounded load: 200 requests, 8 concurrent, good ones succeed, bad ones get their error", async () => {
  const dir = await Deno.makeTempDir();
  await trainTinyCheckpoints(dir);
  const server = await startServer(dir);
  const base = `http://127.0.0.1:${server.port}`;
  const png = testPng();
  const cases = [
    { make: () => multipart(png), query: "?rotate=90", status: 200 },
    { make: () => multipart(new TextEncoder().encode("nope")), query: "", status: 400 },
    { make: () => multipart(new TextEncoder().encode("GIF89a....")), query: "", status: 415 },
    { make: () => multipart(png), query: "?rotate=x", status: 422 },
  ];
  let next = 0;
  const failures: string[] = [];
  const latencies: number[] = [];
  const worker = async () => {
    while (next < 200) {
      const i = next++;
      const c = cases[i % cases.length];
      const t = performance.now();
      const res = await fetch(`${base}/classify${c.query}`, { method: "POST", body: c.make() });
      const json = await res.json();
      latencies.push(performance.now() - t);
      if (res.status !== c.status) failures.push(`#${i}: ${res.status} ${JSON.stringify(json)}`);
      if (c.status !== 200 && !json.error?.code) failures.push(`#${i}: no error body`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  assert.deepEqual(failures, []);
  assert.equal(latencies.length, 200);
  assert.equal((await fetch(`${base}/health`)).status, 200);
  server.child.kill("SIGTERM");
  assert.equal((await server.child.status).code, 0);
  await server.reader.cancel();
  await server.child.stderr.cancel();
  await Deno.remove(dir, { recursive: true });
});
