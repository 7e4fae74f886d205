/**
 * Prometheus metrics at `GET /metrics`, kept by `prom-client` (the standard Node client, which
 * runs unchanged under Deno): requests by route and status, a request latency histogram, the
 * inference queue's depth and capacity, the size of every model call (requests and images per
 * micro-batch), and the process: resident memory (`process_resident_memory_bytes`), CPU seconds
 * (`process_cpu_seconds_total`, user and system, counted from the first server's start, as
 * prom-client counts them), heap and open files, and the event-loop lag.
 *
 * The lag is our own sampler: prom-client's `nodejs_eventloop_lag_*` read Node's
 * `monitorEventLoopDelay`, which under Deno 2.9 reports microseconds through a 200 ms block, so
 * those are left out. A 10 ms timer (unref'd: it never keeps the process alive) records how
 * late it fires, into `symlab_event_loop_lag_seconds` and the maximum since the last scrape.
 *
 * The text passes `promtool check metrics`: prom-client's three `nodejs_active_*_total`
 * gauges, which promtool flags (a `_total` suffix on a non-counter), are left out too.
 *
 * @module
 */
import { Hono } from "hono";
import client from "prom-client";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const IMAGE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];
const REQUEST_BUCKETS = [1, 2, 4, 8, 16, 32, 64];

/** The exposition format's content type, as prom-client writes it. */
export const METRICS_CONTENT_TYPE: string = client.Registry.PROMETHEUS_CONTENT_TYPE;

const LAG_INTERVAL_MS = 10;
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

// prom-client's defaults that are wrong or flagged here (see the module doc).
const LEFT_OUT = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
  ...["", "_min", "_max", "_mean", "_stddev", "_p50", "_p90", "_p99"].map((s) =>
    `nodejs_eventloop_lag${s}_seconds`
  ),
];

// Process metrics describe the one process, however many servers (or tests) it runs: one
// registry and one lag sampler for them, made on first use, shared by every Metrics.
let processRegistry: client.Registry | undefined;
function processMetrics(): client.Registry {
  if (processRegistry) return processRegistry;
  const registry = processRegistry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  for (const name of LEFT_OUT) registry.removeSingleMetric(name);
  const lag = new client.Histogram({
    name: "symlab_event_loop_lag_seconds",
    help: `How late a ${LAG_INTERVAL_MS} ms timer fires: time the event loop was busy elsewhere.`,
    buckets: LAG_BUCKETS,
    registers: [registry],
  });
  let max = 0;
  new client.Gauge({
    name: "symlab_event_loop_lag_max_seconds",
    help: "The largest event-loop lag since the previous scrape.",
    registers: [registry],
    collect() {
      this.set(max);
      max = 0;
    },
  });
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const late = Math.max(0, now - last - LAG_INTERVAL_MS) / 1000;
    last = now;
    lag.observe(late);
    max = Math.max(max, late);
  }, LAG_INTERVAL_MS);
  Deno.unrefTimer(timer);
  return registry;
}

/** Gauges read at scrape time. */
export interface Gauges {
  queueDepth: number;
  queueCapacity: number;
  modelsLoaded: number;
}

/**
 * The server's counters and histograms, plus the process metrics, rendered on demand.
 *
 * @example
 * ```ts
 * const m = new Metrics();
 * m.observeRequest("/classify", 200, 0.021);
 * await m.render({ queueDepth: 0, queueCapacity: 64, modelsLoaded: 2 }); // the exposition text
 * ```
 */
export class Metrics {
  readonly #registry = new client.Registry();
  readonly #requests = new client.Counter({
    name: "symlab_http_requests_total",
    help: "HTTP requests by route and status.",
    labelNames: ["route", "status"] as const,
    registers: [this.#registry],
  });
  readonly #latency = new client.Histogram({
    name: "symlab_http_request_duration_seconds",
    help: "Request latency in seconds, from the first byte of the request to the response.",
    buckets: LATENCY_BUCKETS,
    registers: [this.#registry],
  });
  readonly #gauges = {
    queueDepth: this.#gauge(
      "symlab_inference_queue_depth",
      "Requests waiting for or in a model call.",
    ),
    queueCapacity: this.#gauge(
      "symlab_inference_queue_capacity",
      "Requests allowed to wait before 503.",
    ),
    modelsLoaded: this.#gauge("symlab_models_loaded", "Models being served."),
  };
  readonly #batchImages = new client.Histogram({
    name: "symlab_inference_batch_images",
    help: "Images (originals + transforms) per model call.",
    buckets: IMAGE_BUCKETS,
    registers: [this.#registry],
  });
  readonly #batchRequests = new client.Histogram({
    name: "symlab_inference_batch_requests",
    help: "Requests micro-batched into one model call.",
    buckets: REQUEST_BUCKETS,
    registers: [this.#registry],
  });

  constructor() {
    processMetrics(); // the event loop is sampled from the first server on
  }

  #gauge(name: string, help: string): client.Gauge {
    return new client.Gauge({ name, help, registers: [this.#registry] });
  }

  /** Counts a finished request (route pattern, not the raw path, to bound the label set). */
  observeRequest(route: string, status: number, seconds: number): void {
    this.#requests.inc({ route, status: String(status) });
    this.#latency.observe(seconds);
  }

  /** Records one model call of a micro-batch. */
  observeBatch(requests: number, images: number): void {
    this.#batchRequests.observe(requests);
    this.#batchImages.observe(images);
  }

  /** The exposition text: this server's metrics, then the process's. */
  async render(g: Gauges): Promise<string> {
    for (const key of ["queueDepth", "queueCapacity", "modelsLoaded"] as const) {
      this.#gauges[key].set(g[key]);
    }
    const own = await this.#registry.metrics();
    return `${own}\n${await processMetrics().metrics()}`;
  }
}

/** `GET /metrics`. */
export function metricsRoutes(metrics: Metrics, gauges: () => Gauges): Hono {
  return new Hono().get(
    "/metrics",
    async (c) =>
      c.text(await metrics.render(gauges()), 200, { "content-type": METRICS_CONTENT_TYPE }),
  );
}
