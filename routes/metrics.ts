/**
 * Prometheus text metrics (exposition format 0.0.4) at `GET /metrics`: requests by route and
 * status, a request latency histogram, the inference queue depth, and batch sizes.
 *
 * @module
 */
import { Hono } from "hono";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32];

/** Counters and histograms kept in memory. */
export class Metrics {
  readonly requests = new Map<string, number>(); // `route|status`
  readonly latency = { buckets: new Array(LATENCY_BUCKETS.length).fill(0), sum: 0, count: 0 };
  readonly batch = { buckets: new Array(BATCH_BUCKETS.length).fill(0), sum: 0, count: 0 };

  observeRequest(route: string, status: number, seconds: number): void {
    const key = `${route}|${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    observe(this.latency, LATENCY_BUCKETS, seconds);
  }

  observeBatch(size: number): void {
    observe(this.batch, BATCH_BUCKETS, size);
  }

  /** The exposition text. */
  render(queueDepth: number): string {
    const lines = [
      "# HELP symlab_http_requests_total HTTP requests by route and status.",
      "# TYPE symlab_http_requests_total counter",
    ];
    for (const [key, n] of this.requests) {
      const [route, status] = key.split("|");
      lines.push(`symlab_http_requests_total{route="${route}",status="${status}"} ${n}`);
    }
    lines.push(
      ...histogram(
        "symlab_http_request_duration_seconds",
        "Request latency.",
        LATENCY_BUCKETS,
        this.latency,
      ),
    );
    lines.push(
      "# HELP symlab_inference_queue_depth Inference jobs waiting or running.",
      "# TYPE symlab_inference_queue_depth gauge",
      `symlab_inference_queue_depth ${queueDepth}`,
    );
    lines.push(
      ...histogram(
        "symlab_inference_batch_size",
        "Images per model call (original + transforms).",
        BATCH_BUCKETS,
        this.batch,
      ),
    );
    return lines.join("\n") + "\n";
  }
}

type Hist = { buckets: number[]; sum: number; count: number };

function observe(h: Hist, bounds: number[], v: number): void {
  bounds.forEach((b, i) => {
    if (v <= b) h.buckets[i]++;
  });
  h.sum += v;
  h.count++;
}

function histogram(name: string, help: string, bounds: number[], h: Hist): string[] {
  return [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} histogram`,
    ...bounds.map((b, i) => `${name}_bucket{le="${b}"} ${h.buckets[i]}`),
    `${name}_bucket{le="+Inf"} ${h.count}`,
    `${name}_sum ${h.sum}`,
    `${name}_count ${h.count}`,
  ];
}

/** `GET /metrics`. */
export function metricsRoutes(metrics: Metrics, queueDepth: () => number): Hono {
  return new Hono().get(
    "/metrics",
    (c) =>
      c.text(metrics.render(queueDepth()), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
}
