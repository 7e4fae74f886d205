/// <reference lib="dom" />
/**
 * The page in a real browser: headless Chromium (Debian's `chromium`, or `$CHROMIUM`) driven by
 * puppeteer-core against the real server as a subprocess. Nothing downloads a browser. Without
 * Chromium the tests are skipped locally and fail in CI (`CI=true`), where .ci/run installs it.
 *
 * With `SYMLAB_SCREENSHOTS=<dir>` the results for the sneaker sample are also saved as
 * `<dir>/page.png` (1280 px wide) and `<dir>/page-phone.png` (390 px), from the checkpoints in
 * `SYMLAB_SCREENSHOT_CHECKPOINTS` when set (e.g. real Fashion-MNIST models), else the tiny
 * test ones.
 */
import assert from "node:assert/strict";
import puppeteer, {
  type Browser,
  type ElementHandle,
  type HTTPRequest,
  type Page,
} from "puppeteer-core";
import { useBackend } from "./helpers.ts";
import { trainTinyCheckpoints } from "./server_fixtures.ts";

await useBackend("wasm");

const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
const inCi = Deno.env.get("CI") === "true";
const hasChromium = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
const photo = new URL("../routes/static/samples/cat.jpg", import.meta.url);

if (!hasChromium && inCi) {
  Deno.test("Chromium is installed for the browser tests", () => {
    throw new Error(
      `Expected Chromium at ${CHROMIUM} (CI=true): install Debian's chromium (.ci/run does) or set CHROMIUM`,
    );
  });
}

/** The real server as a subprocess on a free port, ready once it prints "ready:". */
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
  // Keep draining its output so that it never blocks on a full pipe.
  const drained = (async () => {
    while (!(await reader.read()).done);
  })();
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
    await drained;
    await child.stderr.cancel();
  };
  return { base: `http://127.0.0.1:${port}`, stop };
}

async function launch(): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/** Every request the page makes must go to our server: the page works offline. */
function sameOriginOnly(page: Page, base: string): string[] {
  const foreign: string[] = [];
  page.on("request", (r: HTTPRequest) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith("data:") && !url.startsWith("blob:")) {
      foreign.push(url);
    }
  });
  return foreign;
}

async function openPage(browser: Browser, base: string, width = 1280) {
  const page = await browser.newPage();
  // Generous: the suite runs in parallel on small CI machines, and the models run on wasm.
  page.setDefaultTimeout(120_000);
  await page.setViewport({ width, height: 900 });
  const foreign = sameOriginOnly(page, base);
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${(e as Error).message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${base}/`, { waitUntil: "networkidle0" });
  await page.waitForSelector("#models input[name=model]");
  return { page, foreign, problems };
}

interface Shown {
  model: string;
  transform: string;
  score: string;
  scoreText: string;
  top1: string;
  agrees: string;
  seen: string;
}

/** What the page shows per model and transform, read from the DOM. */
function shownResults(page: Page): Promise<{ cards: Shown[]; originals: Record<string, string> }> {
  return page.evaluate(() => {
    const cards = [...document.querySelectorAll("section.model .card[data-transform]")].map((
      c,
    ) => ({
      model: (c.closest("section.model") as HTMLElement).dataset.model!,
      transform: (c as HTMLElement).dataset.transform!,
      score: (c as HTMLElement).dataset.score!,
      scoreText: c.querySelector(".score .value")!.textContent!,
      top1: c.querySelector(".top1")!.textContent!,
      agrees: (c as HTMLElement).dataset.agrees!,
      seen: (c.querySelector("img.seen") as HTMLImageElement).src,
    }));
    const originals = Object.fromEntries(
      [...document.querySelectorAll("section.model")].map((s) => [
        (s as HTMLElement).dataset.model!,
        s.querySelector(".card.original .top1")!.textContent!,
      ]),
    );
    return { cards, originals };
  });
}

async function screenshots(browser: Browser, base: string, out: string) {
  await Deno.mkdir(out, { recursive: true });
  for (const [width, name] of [[1280, "page.png"], [390, "page-phone.png"]] as const) {
    const { page } = await openPage(browser, base, width);
    // A Fashion-MNIST sample: the classes the real models were trained on.
    await page.click('button.sample[data-sample="/static/samples/sneaker.png"]');
    await page.waitForSelector("#preview:not([hidden])");
    await page.click('input[name=rotate][value="45"]');
    await page.click('input[name=scale][value="2"]');
    await page.click("#go");
    await page.waitForSelector("section.model .card[data-transform]");
    await page.screenshot({ path: `${out}/${name}`, fullPage: true });
    await page.close();
  }
}

Deno.test({
  name: "browser: a photo through the file input shows the JSON API's scores and top-1 labels",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    await trainTinyCheckpoints(dir);
    const server = await startServer(dir);
    const browser = await launch();
    try {
      const { page, foreign, problems } = await openPage(browser, server.base);
      const offered = await page.$$eval(
        "#models input[name=model]",
        (xs) => xs.map((x) => (x as HTMLInputElement).value),
      );
      const listed = await (await fetch(`${server.base}/models`)).json();
      assert.deepEqual(offered, listed.models.map((m: { name: string }) => m.name));

      // The keyboard reaches the file input, a sample, a transform and the button.
      const focused: string[] = [];
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press("Tab");
        focused.push(
          await page.evaluate(() => {
            const a = document.activeElement as HTMLInputElement;
            return a.id || a.dataset?.sample || `${a.name}=${a.value}`;
          }),
        );
      }
      for (
        const want of ["file", "/static/samples/cat.jpg", "rotate=45", "scale=2", "flip=h", "go"]
      ) {
        assert.ok(focused.includes(want), `Tab reaches ${want}: ${focused.join(" ")}`);
      }

      // The photo through the page's file input; one more angle, a zoom and a mirror, by keyboard.
      const input = await page.$("input#file") as ElementHandle<HTMLInputElement> | null;
      await input!.uploadFile(photo.pathname);
      await page.waitForSelector("#preview:not([hidden])");
      for (
        const sel of [
          'input[name=rotate][value="45"]',
          'input[name=scale][value="2"]',
          'input[name=flip][value="h"]',
        ]
      ) {
        await page.focus(sel);
        await page.keyboard.press("Space");
      }
      // Hold the API's answer until the spinner has been seen.
      let release!: () => void;
      const held = new Promise<void>((r) => release = r);
      let query = "";
      await page.setRequestInterception(true);
      page.on("request", async (r) => {
        if (r.url().includes("/classify")) {
          query = new URL(r.url()).search;
          await held;
        }
        await r.continue();
      });
      await page.focus("#go");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#status .spinner");
      assert.equal(await page.$eval("#go", (b) => (b as HTMLButtonElement).disabled), true);
      assert.equal(await page.$eval("#results", (r) => r.getAttribute("aria-busy")), "true");
      release();
      await page.waitForFunction(
        () => document.querySelectorAll("section.model .card[data-transform]").length === 12,
      );
      assert.equal(await page.$("#status .spinner"), null, "the spinner is gone");

      // The same image and query through the JSON API.
      const params = new URLSearchParams(query);
      assert.equal(params.get("rotate"), "90,180,270,45");
      assert.equal(params.get("scale"), "2");
      assert.equal(params.get("flip"), "h");
      assert.equal(params.get("model"), null, "every model: no model list in the query");
      assert.equal(params.get("inputs"), "png");
      const form = new FormData();
      form.append("img", new File([await Deno.readFile(photo)], "cat.jpg", { type: "image/jpeg" }));
      const api = await (await fetch(`${server.base}/classify${query}`, {
        method: "POST",
        body: form,
      })).json();
      const { cards, originals } = await shownResults(page);
      assert.equal(cards.length, 12);
      for (const name of ["baseline", "symmetric"]) {
        const m = api.models[name];
        assert.equal(originals[name], m.original.top[0].label, `${name}: original top-1`);
        m.transforms.forEach((t: {
          kind: string;
          value: number | string;
          invariance: number;
          top1Agrees: boolean;
          top: { label: string }[];
        }, i: number) => {
          const shown = cards.find((c) =>
            c.model === name && c.transform === `${t.kind}:${t.value}`
          );
          assert.ok(shown, `${name} ${t.kind}:${t.value} is shown`);
          assert.equal(Number(shown.score), t.invariance, `${name} ${t.kind}:${t.value} score`);
          assert.equal(shown.scoreText, t.invariance.toFixed(3));
          assert.equal(shown.top1, t.top[0].label, `${name} ${t.kind}:${t.value} top-1`);
          assert.equal(shown.agrees, String(t.top1Agrees));
          assert.equal(shown.seen, `data:image/png;base64,${m.inputs.transforms[i]}`);
        });
      }
      // The symmetric model keeps quarter turns; the page shows it as 1.000.
      for (
        const c of cards.filter((c) =>
          c.model === "symmetric" && /^rotate:(90|180|270)$/.test(c.transform)
        )
      ) {
        assert.equal(c.scoreText, "1.000", c.transform);
      }
      assert.deepEqual(foreign, [], "no request leaves the server");
      assert.deepEqual(problems, []);

      // Readable at phone width: nothing wider than the screen.
      await page.setViewport({ width: 390, height: 844 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(overflow <= 390, `page is ${overflow} px wide at a 390 px viewport`);

      const out = Deno.env.get("SYMLAB_SCREENSHOTS");
      if (out) {
        const real = Deno.env.get("SYMLAB_SCREENSHOT_CHECKPOINTS");
        if (real) {
          const other = await startServer(real);
          try {
            await screenshots(browser, other.base, out);
          } finally {
            await other.stop();
          }
        } else await screenshots(browser, server.base, out);
      }
    } finally {
      await browser.close();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "browser: an API error is shown as its message, and the page keeps working",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    await trainTinyCheckpoints(dir, { models: ["symmetric"] });
    const server = await startServer(dir);
    const browser = await launch();
    try {
      const { page, foreign } = await openPage(browser, server.base);
      // Submitting before choosing anything says what is missing, without calling the API.
      await page.click("#go");
      await page.waitForSelector("#error:not([hidden])");
      assert.match(await page.$eval("#error", (e) => e.textContent!), /Choose a picture first/);

      const text = `${dir}/notes.png`;
      await Deno.writeTextFile(text, "these are notes, not a picture");
      const form = new FormData();
      form.append("img", new File([await Deno.readFile(text)], "notes.png"));
      const api = await fetch(`${server.base}/classify?rotate=90,180,270&topk=5&inputs=png`, {
        method: "POST",
        body: form,
      });
      assert.equal(api.status, 400);
      const { error } = await api.json();

      await (await page.$("input#file") as ElementHandle<HTMLInputElement> | null)!.uploadFile(
        text,
      );
      await page.click("#go");
      await page.waitForFunction(() =>
        !document.querySelector<HTMLElement>("#error")!.hidden &&
        !document.querySelector("#go")!.hasAttribute("disabled")
      );
      const shown = await page.$eval("#error", (e) => e.textContent!);
      assert.equal(shown, `${error.message} (HTTP 400, ${error.code})`);
      assert.equal(await page.$$eval("section.model", (s) => s.length), 0);

      // A sample after the error: the error goes, results come.
      await page.click('button.sample[data-sample="/static/samples/sneaker.png"]');
      await page.waitForSelector("#error[hidden]");
      await page.click("#go");
      await page.waitForSelector('section.model[data-model="symmetric"] .card[data-transform]');
      assert.equal(await page.$eval("#error", (e) => (e as HTMLElement).hidden), true);
      assert.deepEqual(foreign, []);
    } finally {
      await browser.close();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
