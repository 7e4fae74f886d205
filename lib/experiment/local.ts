/**
 * Runs an experiment's cells on this machine, `jobs` at a time, with the cores divided between
 * them (OpenMP threads per cell = ⌊cores / jobs⌋, at least 1: no oversubscription), and a
 * progress line over the whole grid.
 *
 * @module
 */
import { formatDuration } from "../progress.ts";
import { type CellResult, cellStatus, runCell } from "./cell.ts";
import { type Cell, type ExperimentSpec, isTrained } from "./spec.ts";

/** Options of {@linkcode runLocal}. */
export interface LocalOptions {
  /** Cells at a time (≥ 1). */
  jobs: number;
  /** Cores to divide (default: this machine's). */
  cores?: number;
  /** Abort to stop: running cells are interrupted (train saves), no new cell starts. */
  signal?: AbortSignal;
  /**
   * Receives the progress line (default: stderr, every 2 s and on every change; off a terminal
   * only when it changed).
   */
  progress?: (line: string) => void;
  /** Milliseconds between progress lines (default 2000). */
  intervalMs?: number;
  deno?: string;
}

/** What the run did, cell by cell. */
export interface LocalSummary {
  results: CellResult[];
  threads: number;
  interrupted: boolean;
}

/** The threads each of `jobs` concurrent cells gets on `cores` cores. */
export function threadsPerCell(cores: number, jobs: number): number {
  return Math.max(1, Math.floor(cores / jobs));
}

/**
 * Runs every cell that is not done; a failing cell is recorded and the others go on. `+tta`
 * cells are left out: their base cell's eval measures them (lib/experiment/spec.ts).
 *
 * @example
 * ```ts ignore
 * // not run: trains and evaluates the whole grid
 * const { results } = await runLocal(spec, expandCells(spec), "runs/smoke", { jobs: 2 });
 * ```
 */
export async function runLocal(
  spec: ExperimentSpec,
  cells: Cell[],
  out: string,
  options: LocalOptions,
): Promise<LocalSummary> {
  cells = cells.filter(isTrained);
  const cores = options.cores ?? navigator.hardwareConcurrency;
  const threads = threadsPerCell(cores, options.jobs);
  const results: CellResult[] = [];
  const queue = [...cells];
  const running = new Map<string, Cell>();
  const started = performance.now();
  let finishedHere = 0;
  const before = (await Promise.all(cells.map((c) => cellStatus(out, c))))
    .filter((s) => s.state === "done").length;
  // Off a terminal (a log file) a line is written only when it says something new.
  let last = "";
  const write = options.progress ?? ((line: string) => {
    if (line === last && !Deno.stderr.isTerminal()) return;
    last = line;
    console.error(line);
  });

  const report = async () => {
    const done = before + results.filter((r) => r.outcome === "done").length;
    const failed = results.filter((r) => r.outcome === "failed").length;
    const now = await Promise.all([...running.values()].map(async (c) => {
      const s = await cellStatus(out, c);
      const where = s.step === "eval"
        ? "eval"
        : s.logEpoch
        ? `epoch ${s.logEpoch.join("/")}`
        : "starting";
      return `${c.id} ${where}`;
    }));
    const elapsed = (performance.now() - started) / 1000;
    const rate = finishedHere / Math.max(elapsed, 1e-9) * 60;
    const left = cells.length - done - failed;
    const eta = finishedHere ? left / (finishedHere / elapsed) : NaN;
    write(
      `cells ${done}/${cells.length} done${failed ? `, ${failed} failed` : ""}` +
        (now.length ? ` | running: ${now.join(", ")}` : "") +
        ` | ${rate.toFixed(2)} cells/min, ETA ${formatDuration(eta)}`,
    );
  };

  const worker = async () => {
    while (queue.length && !options.signal?.aborted) {
      const cell = queue.shift()!;
      running.set(cell.id, cell);
      const r = await runCell(spec, cell, out, {
        threads,
        signal: options.signal,
        deno: options.deno,
      });
      running.delete(cell.id);
      if (r.outcome !== "skipped") results.push(r);
      if (r.outcome === "done" || r.outcome === "failed") finishedHere++;
      if (r.outcome === "failed") {
        write(`cell ${r.id} failed in ${r.failure!.step}: ${r.failure!.lastLine}`);
      }
      if (r.outcome === "done" || r.outcome === "failed") await report();
    }
  };
  const timer = setInterval(() => void report(), options.intervalMs ?? 2000);
  try {
    await report();
    await Promise.all(Array.from({ length: Math.min(options.jobs, cells.length) }, worker));
  } finally {
    clearInterval(timer);
  }
  return { results, threads, interrupted: options.signal?.aborted === true };
}
