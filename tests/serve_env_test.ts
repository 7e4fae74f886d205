/**
 * `deno task serve` where deployments run it: `PORT` and `SYMLAB_CHECKPOINTS` from the
 * environment (the real server as a subprocess on a free port), flags over the environment,
 * KServe's `/mnt/models` after both, and each choice printed with its reason.
 */
import assert from "node:assert/strict";
import { chooseCheckpoints, choosePort, KSERVE_MODEL_DIR } from "../scripts/serve.ts";
import { UsageError } from "../scripts/cli.ts";
import { trainTinyCheckpoints } from "./server_fixtures.ts";
import { useBackend } from "./helpers.ts";

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir, { models: ["symmetric"] });

/** A port nothing listens on now (the OS's pick, released at once). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The server with `args` and exactly `env` for PORT / SYMLAB_CHECKPOINTS, until "ready:". */
async function start(args: string[], env: Record<string, string>) {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "scripts/serve.ts",
      "--host",
      "127.0.0.1",
      "--backend",
      "wasm",
      "--quiet",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", PORT: "", SYMLAB_CHECKPOINTS: "", ...env },
  });
  const child = command.spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready:")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited early: ${out}`);
    out += value;
  }
  const stop = async () => {
    child.kill("SIGTERM");
    while (!(await reader.read()).done);
    await child.stderr.cancel();
    return (await child.status).code;
  };
  return { out, stop };
}

Deno.test("serve: PORT and SYMLAB_CHECKPOINTS from the environment are honoured and said", async () => {
  const port = freePort();
  const server = await start([], { PORT: String(port), SYMLAB_CHECKPOINTS: dir });
  try {
    assert.match(
      server.out,
      new RegExp(
        `port: ${port} \\(from PORT\\); checkpoints: ${dir} \\(from SYMLAB_CHECKPOINTS\\)`,
      ),
    );
    assert.match(server.out, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}/?\\n`));
    const { models } = await (await fetch(`http://127.0.0.1:${port}/models`)).json();
    assert.deepEqual(models.map((m: { name: string }) => m.name), ["symmetric"]);
    assert.equal(models[0].checkpoint.dir, `${dir}/symmetric`);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

Deno.test("serve: --port and --checkpoints beat PORT and SYMLAB_CHECKPOINTS", async () => {
  const port = freePort();
  const server = await start(["--port", String(port), "--checkpoints", dir], {
    PORT: "not a port",
    SYMLAB_CHECKPOINTS: `${dir}/nothing-here`,
  });
  try {
    assert.match(
      server.out,
      new RegExp(`port: ${port} \\(--port\\); checkpoints: ${dir} \\(--checkpoints\\)`),
    );
    assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

Deno.test("serve: a bad PORT is a one-line usage error (exit 2) before anything starts", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/serve.ts", "--checkpoints", dir],
    env: { NO_COLOR: "1", PORT: "80a", SYMLAB_CHECKPOINTS: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const lines = new TextDecoder().decode(out.stderr).trim().split("\n");
  assert.equal(lines[0], 'error: PORT: expected an integer port in 0–65535, got "80a"');
  assert.equal(new TextDecoder().decode(out.stdout), "");
});

Deno.test("choosePort / chooseCheckpoints: flag, then environment, then KServe's mount, then the default", () => {
  assert.deepEqual(choosePort("9000", "8080"), { value: 9000, reason: "--port" });
  assert.deepEqual(choosePort(undefined, "8080"), { value: 8080, reason: "from PORT" });
  assert.deepEqual(choosePort(undefined, ""), {
    value: 8000,
    reason: "default (no --port, no PORT)",
  });
  assert.deepEqual(choosePort(undefined, undefined).value, 8000);
  for (const bad of ["-1", "65536", "8080.5", " 8080", "x"]) {
    assert.throws(() => choosePort(undefined, bad), UsageError, bad);
  }
  assert.throws(
    () => choosePort("x", undefined),
    /^UsageError: --port: expected an integer ≥ 0, got "x"$/,
  );

  const mounted = (d: string) => d === KSERVE_MODEL_DIR;
  const none = () => false;
  assert.deepEqual(chooseCheckpoints("a", "b", mounted), { value: "a", reason: "--checkpoints" });
  assert.deepEqual(chooseCheckpoints(undefined, "b", mounted), {
    value: "b",
    reason: "from SYMLAB_CHECKPOINTS",
  });
  const kserve = chooseCheckpoints(undefined, undefined, mounted);
  assert.equal(kserve.value, "/mnt/models");
  assert.match(kserve.reason, /^KServe's model mount/);
  assert.equal(chooseCheckpoints(undefined, "", mounted).value, "/mnt/models", "empty = unset");
  assert.deepEqual(chooseCheckpoints(undefined, undefined, none).value, "checkpoints");
  assert.match(chooseCheckpoints(undefined, undefined, none).reason, /no \/mnt\/models\)$/);
});

Deno.test("serve_env: clean up", async () => {
  await Deno.remove(dir, { recursive: true });
});
