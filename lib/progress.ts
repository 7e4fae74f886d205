/**
 * Progress lines for long jobs: a bar redrawn in place on a terminal, plain lines (about every
 * 10%) otherwise, with rate and ETA.
 *
 * Kept our own (60 lines) rather than `cli-progress`: off a terminal that one prints a line per
 * timer tick (`noTTYOutput`), where the Slurm and CI logs our long jobs write want one per 10%.
 *
 * @module
 */

/** Formats seconds as "1h02m", "3m05s" or "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** A progress reporter writing to stderr. */
export class Progress {
  readonly #tty: boolean;
  readonly #start = performance.now();
  readonly #total: number;
  readonly #label: string;
  readonly #unit: string;
  #lastPlain = -1;
  #write: (s: string) => void;

  constructor(
    label: string,
    total: number,
    options: { unit?: string; tty?: boolean; write?: (s: string) => void } = {},
  ) {
    this.#label = label;
    this.#total = total;
    this.#unit = options.unit ?? "img";
    this.#tty = options.tty ?? Deno.stderr.isTerminal();
    const encoder = new TextEncoder();
    this.#write = options.write ?? ((s) => Deno.stderr.writeSync(encoder.encode(s)));
  }

  /**
   * Reports `done` of `total` steps, `items` processed so far, and extra fields; `etaSeconds`
   * replaces the ETA of equal steps where the caller knows the steps left cost differently.
   */
  update(done: number, items: number, fields = "", etaSeconds?: number): void {
    const elapsed = (performance.now() - this.#start) / 1000;
    const rate = items / Math.max(elapsed, 1e-9);
    const eta = etaSeconds ?? (done > 0 ? elapsed * (this.#total - done) / done : NaN);
    const pct = this.#total ? done / this.#total : 1;
    const text = `${this.#label} ${done}/${this.#total} ${fields} ${
      rate.toFixed(1)
    } ${this.#unit}/s ETA ${formatDuration(eta)}`;
    if (this.#tty) {
      const width = 20;
      const filled = Math.round(pct * width);
      this.#write(`\r\x1b[2K[${"#".repeat(filled)}${".".repeat(width - filled)}] ${text}`);
    } else {
      const decile = Math.floor(pct * 10);
      if (decile > this.#lastPlain || done === this.#total) {
        this.#lastPlain = decile;
        this.#write(`${text}\n`);
      }
    }
  }

  /** Ends the bar (moves to a new line on a terminal). */
  done(): void {
    if (this.#tty) this.#write("\n");
  }
}
