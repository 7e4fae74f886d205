/**
 * The server's limits and state, in a module of their own so that the app factory and its
 * sub-apps all import from here and never from each other.
 *
 * @module
 */
import type { LoadedModel } from "../lib/model/checkpoint.ts";
import { InferenceQueue } from "../lib/serve/queue.ts";
import { Metrics } from "./metrics.ts";

/** Limits of the server; every one is a `deno task serve` flag. */
export interface Limits {
  /** Largest request body, checked while reading (default 10 MiB). */
  maxBodyBytes: number;
  /** Largest image, checked from its header before decoding (default 40 MP). */
  maxPixels: number;
  /** Requests that may wait for the models; one more gets 503 (default 64). */
  queue: number;
  /** Most images (originals + transforms) in one micro-batched model call (default 64). */
  maxBatchImages: number;
  /** Time allowed to upload a body; a slower upload gets 408 (default 30 s). */
  bodyTimeoutMs: number;
}

/** Default limits. */
export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 10 * 1024 * 1024,
  maxPixels: 40_000_000,
  queue: 64,
  maxBatchImages: 64,
  bodyTimeoutMs: 30_000,
};

/** Everything the routes read; `models` is empty until loaded. */
export interface ServerState {
  models: LoadedModel[];
  loadError?: string;
  limits: Limits;
  queue: InferenceQueue;
  metrics: Metrics;
  /** Requests being handled now (bodies still uploading included). */
  inFlight: number;
  /** Set on SIGINT/SIGTERM: /ready and /classify answer 503 while in-flight requests finish. */
  draining: boolean;
}

/** Builds the server state for a set of models (empty while loading). */
export function createState(models: LoadedModel[] = [], limits: Partial<Limits> = {}): ServerState {
  const all = { ...DEFAULT_LIMITS, ...limits };
  const metrics = new Metrics();
  const queue = new InferenceQueue({
    capacity: all.queue,
    maxBatchImages: all.maxBatchImages,
    onModelCall: (_model, requests, images) => metrics.observeBatch(requests, images),
  });
  return { models, limits: all, queue, metrics, inFlight: 0, draining: false };
}
