// The page's one script (served as is, no build step). It calls the JSON API as any client
// would: GET /models for the models to offer, POST /classify?…&inputs=png for the results, and
// renders them with DOM methods (textContent, never innerHTML, so labels cannot inject markup).

const $ = (id) => document.getElementById(id);
const form = $("form");
const fileInput = $("file");
const drop = $("drop");
const preview = $("preview");
const dropText = $("drop-text");
const statusEl = $("status");
const errorEl = $("error");
const results = $("results");
const go = $("go");

/** The picture to send: a File from the picker or a drop, or a sample fetched from the server. */
let picture = null;
let models = [];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "style") {
      for (const [p, x] of Object.entries(v)) node.style.setProperty(p, x);
    } else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role") {
      node.setAttribute(k, v);
    } else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

function setPicture(blob, name) {
  picture = { blob, name };
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(blob);
  preview.alt = `chosen picture: ${name}`;
  preview.hidden = false;
  dropText.textContent = `${name} — choose another, or drop one here`;
  hideError();
}

function showError(text) {
  errorEl.textContent = text;
  errorEl.hidden = false;
}

function hideError() {
  errorEl.hidden = true;
  errorEl.textContent = "";
}

fileInput.addEventListener("change", () => {
  const f = fileInput.files?.[0];
  if (f) setPicture(f, f.name);
});
for (const type of ["dragenter", "dragover"]) {
  drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
}
for (const type of ["dragleave", "drop"]) {
  drop.addEventListener(type, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  const f = e.dataTransfer?.files?.[0];
  if (f) setPicture(f, f.name);
});
for (const button of document.querySelectorAll("button.sample")) {
  button.addEventListener("click", async () => {
    const res = await fetch(button.dataset.sample);
    if (!res.ok) return showError(`Could not load the sample (${res.status})`);
    setPicture(await res.blob(), button.title);
    for (const b of document.querySelectorAll("button.sample")) {
      b.setAttribute("aria-pressed", "false");
    }
    button.setAttribute("aria-pressed", "true");
  });
}

async function loadModels() {
  const box = $("models");
  try {
    const res = await fetch("/models");
    const body = await res.json();
    models = body.models ?? [];
    box.replaceChildren(
      ...models.map((m) =>
        el(
          "label",
          { class: "chip", title: `${m.parameters} parameters, input ${m.inputSize.join("×")}` },
          el("input", { type: "checkbox", name: "model", value: m.name, checked: true }),
          ` ${m.name}`,
        )
      ),
    );
    if (models.length === 0) {
      box.replaceChildren(el("span", { class: "hint" }, "no models loaded yet; reload shortly"));
    }
  } catch (e) {
    box.replaceChildren(el("span", { class: "hint" }, `could not list the models: ${e.message}`));
  }
}

/** Checked values plus the free-text field (if any), as one comma-separated list. */
function values(name, more) {
  const picked = [...form.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);
  const text = more ? $(more).value : "";
  const typed = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return [...picked, ...typed];
}

function describe(t) {
  if (t.kind === "flip") return t.value === "h" ? "flip left-right" : "flip upside down";
  return t.kind === "rotate" ? `rotate ${t.value}°` : `zoom ×${t.value}`;
}

/**
 * Green at 1, through amber, to red at 0.5 and below, on a square so the top end spreads out:
 * 1.0 is green (hue 120), 0.9 yellow-green (77), 0.8 amber (43), 0.6 red (5).
 */
function scoreColour(score) {
  const t = Math.max(0, Math.min(1, (score - 0.5) / 0.5));
  return `hsl(${Math.round(120 * t * t)} 75% 38%)`;
}

function topList(top) {
  return el(
    "ol",
    { class: "top" },
    top.map((t) =>
      el(
        "li",
        { style: { "--p": String(t.probability) } },
        el("span", { class: "label" }, t.label),
        el("span", { class: "pct" }, `${(t.probability * 100).toFixed(1)}%`),
        el("span", { class: "bar", "aria-hidden": "true" }),
      )
    ),
  );
}

function seen(png, what) {
  return el("img", {
    class: "seen",
    src: `data:image/png;base64,${png}`,
    alt: `${what}, as the model saw it`,
  });
}

function card(model, t, i) {
  const score = t.invariance;
  const colour = scoreColour(score);
  return el(
    "article",
    {
      class: "card",
      "data-transform": `${t.kind}:${t.value}`,
      "data-score": String(score),
      "data-top1": t.top[0]?.label ?? "",
      "data-agrees": String(t.top1Agrees),
    },
    model.inputs ? seen(model.inputs.transforms[i], describe(t)) : null,
    el("h4", {}, describe(t)),
    el(
      "div",
      {
        class: "score",
        role: "meter",
        "aria-valuemin": "0",
        "aria-valuemax": "1",
        "aria-valuenow": String(score),
        "aria-label": `invariance score of ${describe(t)}`,
        style: { "--s": String(score), "--c": colour },
      },
      el("span", { class: "value" }, score.toFixed(3)),
      el("span", { class: "track", "aria-hidden": "true" }, el("span", { class: "fill" })),
    ),
    el(
      "p",
      { class: t.top1Agrees ? "agree yes" : "agree no" },
      t.top1Agrees ? "✓ same top-1: " : "✗ top-1 now: ",
      el("span", { class: "top1" }, t.top[0]?.label ?? "?"),
    ),
    topList(t.top),
  );
}

function modelSection(m) {
  const mean = m.meanInvariance;
  const agree = m.transforms.filter((t) => t.top1Agrees).length;
  return el(
    "section",
    { class: "model", "data-model": m.model },
    el(
      "h3",
      {},
      el("span", { class: "name" }, m.model),
      mean === null ? null : el(
        "span",
        { class: "mean", style: { "--c": scoreColour(mean) } },
        `mean invariance ${mean.toFixed(3)}`,
      ),
      el("span", { class: "agree-count" }, `top-1 kept in ${agree} of ${m.transforms.length}`),
      el(
        "span",
        { class: "ms" },
        `${m.ms.toFixed(1)} ms model call (${m.batch.images} images in ${m.batch.requests} request${
          m.batch.requests === 1 ? "" : "s"
        })`,
      ),
    ),
    el(
      "div",
      { class: "cards" },
      el(
        "article",
        { class: "card original", "data-top1": m.original.top[0]?.label ?? "" },
        m.inputs ? seen(m.inputs.original, "the original") : null,
        el("h4", {}, "original"),
        el(
          "p",
          { class: "agree" },
          "top-1: ",
          el("span", { class: "top1" }, m.original.top[0]?.label ?? "?"),
        ),
        topList(m.original.top),
      ),
      m.transforms.map((t, i) => card(m, t, i)),
    ),
  );
}

async function classify(query) {
  const body = new FormData();
  body.append("img", picture.blob, picture.name);
  const res = await fetch(`/classify?${query}`, { method: "POST", body });
  let json = null;
  try {
    json = await res.json();
  } catch {
    // A proxy's HTML error page: fall through with the status alone.
  }
  if (!res.ok) {
    const e = json?.error;
    throw new Error(e ? `${e.message} (HTTP ${res.status}, ${e.code})` : `HTTP ${res.status}`);
  }
  return json;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  hideError();
  if (!picture) return showError("Choose a picture first: a file, a drop, or a sample.");
  const chosen = [...form.querySelectorAll("input[name=model]:checked")].map((i) => i.value);
  if (chosen.length === 0) return showError("Choose at least one model.");
  const rotate = values("rotate", "rotate-more");
  const scale = values("scale", "scale-more");
  const flip = values("flip");
  if (rotate.length + scale.length + flip.length === 0) {
    return showError("Choose at least one transform.");
  }
  const params = new URLSearchParams({ topk: $("topk").value, inputs: "png" });
  if (rotate.length) params.set("rotate", rotate.join(","));
  if (scale.length) params.set("scale", scale.join(","));
  if (flip.length) params.set("flip", flip.join(","));
  // One request (one batch per model on the server): every model by default, else the list.
  if (chosen.length !== models.length) params.set("model", chosen.join(","));
  const queries = [params];
  go.disabled = true;
  results.setAttribute("aria-busy", "true");
  statusEl.replaceChildren(
    el("span", { class: "spinner", "aria-hidden": "true" }),
    " Classifying…",
  );
  const started = performance.now();
  try {
    const bodies = await Promise.all(queries.map((q) => classify(q.toString())));
    const ms = performance.now() - started;
    const sections = bodies.flatMap((b) => Object.values(b.models)).map(modelSection);
    const { image } = bodies[0];
    results.replaceChildren(
      el(
        "p",
        { class: "summary" },
        `${image.type.toUpperCase()} ${image.width}×${image.height}; server ${
          bodies.map((b) => b.ms.toFixed(1)).join(" + ")
        } ms, round trip ${ms.toFixed(0)} ms.`,
      ),
      ...sections,
    );
    statusEl.textContent = "Done.";
  } catch (err) {
    results.replaceChildren();
    statusEl.textContent = "";
    showError(err.message);
  } finally {
    go.disabled = false;
    results.removeAttribute("aria-busy");
  }
});

loadModels();
