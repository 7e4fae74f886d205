/**
 * Liveness and readiness: `GET /health` (the process answers), `GET /ready` (models loaded;
 * 503 with the usual error body before, and once shutdown has begun), and the Open Inference Protocol (KServe v2) aliases
 * `GET /v2/health/live`, `GET /v2/health/ready` (`{ "live" | "ready": bool }`, 503 when not
 * ready, as Kubernetes probes read the status).
 *
 * @module
 */
import { Hono } from "hono";
import { isReady, requireReady } from "./guards.ts";
import type { ServerState } from "./state.ts";

/** Health routes over the server's state. */
export function healthRoutes(state: ServerState): Hono {
  return new Hono()
    .get("/health", (c) => c.json({ status: "ok" }))
    .get("/v2/health/live", (c) => c.json({ live: true }))
    .get(
      "/ready",
      requireReady(state),
      (c) => c.json({ ready: true, models: state.models.map((m) => m.name) }),
    )
    .get("/v2/health/ready", (c) => c.json({ ready: isReady(state) }, isReady(state) ? 200 : 503));
}
