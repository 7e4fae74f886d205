/**
 * Provenance: what made a result. Every checkpoint (`meta.json`) and every report records the
 * symlab version (deno.json's `version`), the git commit of the code and whether the tree had
 * uncommitted changes, the Deno, V8, tfjs and oneDNN versions, the backend and the command line.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import denoJson from "../deno.json" with { type: "json" };
import { nativeStatus } from "./kernels/native/mod.ts";

/** symlab's version, maintained in deno.json. */
export const VERSION: string = denoJson.version;

/** What made a checkpoint or report. */
export interface Provenance {
  symlab: string;
  /** `git rev-parse HEAD` of the code, or null outside a git checkout / without git. */
  commit: string | null;
  /** The tree had uncommitted changes to tracked files (null when unknown). */
  dirty: boolean | null;
  deno: string;
  v8: string;
  tfjs: string;
  /** e.g. "2.6.3", or null when the native path is unavailable or off. */
  onednn: string | null;
  backend: string;
  /** The command line as typed, e.g. "deno task train --preset tiny". */
  command: string;
}

const ROOT = new URL("..", import.meta.url).pathname;

function git(args: string[]): string | null {
  try {
    const out = new Deno.Command("git", { args: ["-C", ROOT, ...args], stderr: "null" })
      .outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null; // no git, or no --allow-run
  }
}

let cached: { commit: string | null; dirty: boolean | null } | undefined;

/** The commit and dirtiness of the checkout this code runs from (read once per process). */
export function codeVersion(): { commit: string | null; dirty: boolean | null } {
  if (!cached) {
    const commit = git(["rev-parse", "HEAD"]);
    const status = commit === null ? null : git(["status", "--porcelain", "--untracked-files=no"]);
    cached = { commit, dirty: status === null ? null : status.length > 0 };
  }
  return cached;
}

/**
 * The provenance of a result made now, on `backend`, by `command` (default: this process's
 * script and arguments).
 *
 * @example
 * ```ts
 * const p = provenance("wasm + native oneDNN"); // { symlab: "0.2.0", commit: "ab12…", … }
 * ```
 */
export function provenance(backend: string, command = commandLine()): Provenance {
  const native = nativeStatus();
  return {
    symlab: VERSION,
    ...codeVersion(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    tfjs: tf.version.tfjs,
    onednn: native.enabled ? native.version ?? null : null,
    backend,
    command,
  };
}

/** This process's command line: the script relative to the repository, then its arguments. */
export function commandLine(): string {
  const main = Deno.mainModule.startsWith(`file://${ROOT}`)
    ? Deno.mainModule.slice(`file://${ROOT}`.length)
    : Deno.mainModule;
  const quote = (a: string) => /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`;
  return [`deno run ${main}`, ...Deno.args.map(quote)].join(" ");
}
