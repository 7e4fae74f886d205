/**
 * Prometheus text metrics (exposition format 0.0.4) at `GET /metrics`: requests by route and
 * status, a request latency histogram, the inference queue's depth and capacity, and the
 * size of every model call (requests and images per micro-batch).
 *
 * @module
 */
import { Hono } from "hono";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const IMAGE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];
const REQUEST_BUCKETS = [1, 2, 4, 8, 16, 32, 64];

type Hist = { bounds: number[]; buckets: number[]; sum: number; count: number };

const hist = (bounds: number[]): Hist => ({
  bounds,
  buckets: new Array(bounds.length).fill(0),
  sum: 0,
  count: 0,
});

function observe(h: Hist, v: number): void {
  h.bounds.forEach((b, i) => {
    if (v <= b) h.buckets[i]++; // cumulative: each bucket counts every value ≤ its bound
  });
  h.sum += v;
  h.count++;
}

/** A label value escaped as the exposition format requires (backslash, quote, newline). */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function renderHistogram(name: string, help: string, h: Hist): string[] {
  return [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} histogram`,
    ...h.bounds.map((b, i) => `${name}_bucket{le="${b}"} ${h.buckets[i]}`),
    `${name}_bucket{le="+Inf"} ${h.count}`,
    `${name}_sum ${h.sum}`,
    `${name}_count ${h.count}`,
  ];
}

/** Gauges read at scrape time. */
export interface Gauges {
  queueDepth: number;
  queueCapacity: number;
  modelsLoaded: number;
}

/**
 * Counters and histograms kept in memory.
 *
 * @example
 * ```ts
 * const m = new Metrics();
 * m.observeRequest("/classify", 200, 0.021);
 * m.render({ queueDepth: 0, queueCapacity: 64, modelsLoaded: 2 }); // the exposition text
 * ```
 */
export class Metrics {
  readonly requests = new Map<string, { route: string; status: number; n: number }>();
  readonly latency: Hist = hist(LATENCY_BUCKETS);
  readonly batchImages: Hist = hist(IMAGE_BUCKETS);
  readonly batchRequests: Hist = hist(REQUEST_BUCKETS);

  /** Counts a finished request (route pattern, not the raw path, to bound the label set). */
  observeRequest(route: string, status: number, seconds: number): void {
    const key = `${route} ${status}`;
    const entry = this.requests.get(key) ?? { route, status, n: 0 };
    entry.n++;
    this.requests.set(key, entry);
    observe(this.latency, seconds);
  }

  /** Records one model call of a micro-batch. */
  observeBatch(requests: number, images: number): void {
    observe(this.batchRequests, requests);
    observe(this.batchImages, images);
  }

  /** The exposition text. */
  render(g: Gauges): string {
    const lines = [
      "# HELP symlab_http_requests_total HTTP requests by route and status.",
      "# TYPE symlab_http_requests_total counter",
      ...[...this.requests.values()].map((r) =>
        `symlab_http_requests_total{route="${label(r.route)}",status="${r.status}"} ${r.n}`
      ),
      ...renderHistogram(
        "symlab_http_request_duration_seconds",
        "Request latency in seconds, from the first byte of the request to the response.",
        this.latency,
      ),
      "# HELP symlab_inference_queue_depth Requests waiting for or in a model call.",
      "# TYPE symlab_inference_queue_depth gauge",
      `symlab_inference_queue_depth ${g.queueDepth}`,
      "# HELP symlab_inference_queue_capacity Requests allowed to wait before 503.",
      "# TYPE symlab_inference_queue_capacity gauge",
      `symlab_inference_queue_capacity ${g.queueCapacity}`,
      "# HELP symlab_models_loaded Models being served.",
      "# TYPE symlab_models_loaded gauge",
      `symlab_models_loaded ${g.modelsLoaded}`,
      ...renderHistogram(
        "symlab_inference_batch_images",
        "Images (originals + transforms) per model call.",
        this.batchImages,
      ),
      ...renderHistogram(
        "symlab_inference_batch_requests",
        "Requests micro-batched into one model call.",
        this.batchRequests,
      ),
    ];
    return lines.join("\n") + "\n";
  }
}

/** `GET /metrics`. */
export function metricsRoutes(metrics: Metrics, gauges: () => Gauges): Hono {
  return new Hono().get(
    "/metrics",
    (c) => c.text(metrics.render(gauges()), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
}
