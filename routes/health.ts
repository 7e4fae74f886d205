/**
 * Liveness and readiness: `GET /health`, `GET /ready`, and the Open Inference Protocol (KServe
 * v2) aliases `GET /v2/health/live`, `GET /v2/health/ready`.
 *
 * @module
 */
import { Hono } from "hono";
import type { ServerState } from "./app.ts";

/** Health routes over the server's state. */
export function healthRoutes(state: ServerState): Hono {
  const live = { status: "ok" };
  const ready = () => state.models.length > 0;
  const readyBody = () =>
    ready() ? { ready: true, models: state.models.map((m) => m.name) } : {
      ready: false,
      error: { code: "loading", message: state.loadError ?? "models are loading" },
    };
  return new Hono()
    .get("/health", (c) => c.json(live))
    .get("/v2/health/live", (c) => c.json({ live: true }))
    .get("/ready", (c) => c.json(readyBody(), ready() ? 200 : 503))
    .get("/v2/health/ready", (c) => c.json({ ready: ready() }, ready() ? 200 : 503));
}
