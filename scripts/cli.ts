/**
 * What every entry point in scripts/ shares: flag parsing with one-line errors, number and
 * name flags, and `runMain`, which turns a thrown error into one line on stderr and an exit
 * code (2 for bad usage, 1 for a failure).
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import type { z } from "zod";
import { expectedOneOf, firstIssue } from "../lib/validate.ts";

/** A bad flag or flag value: exit code 2 and a pointer to --help. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * `node:util`'s strict parseArgs with its errors as {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * const values = parseFlags(Deno.args, { out: { type: "string" }, help: { type: "boolean" } });
 * ```
 */
export function parseFlags<T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true }>>["values"] {
  try {
    return parseArgs({ args, options, strict: true }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `weightDecay` → `--weight-decay`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** A number flag (`fallback` when absent); `integer` and `min` narrow what is accepted. */
export function numberFlag(
  flag: string,
  value: string | undefined,
  fallback: number,
  { integer = false, min = -Infinity }: { integer?: boolean; min?: number } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    const what = integer ? "an integer" : "a number";
    const bound = min > -Infinity ? ` ≥ ${min}` : "";
    throw new UsageError(`--${flag}: expected ${what}${bound}, got "${value}"`);
  }
  return n;
}

/** A flag whose value must be one of `choices` (compared as own names, never inherited keys). */
export function choiceFlag<T extends string>(
  flag: string,
  value: string | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag}: ${expectedOneOf(choices)}, got "${value}"`);
  }
  return value as T;
}

/** A zod error on an options object as a usage error naming the flag and the value given. */
export function optionsError(error: z.ZodError, raw: Record<string, unknown>): UsageError {
  const key = String(error.issues[0].path[0] ?? "");
  const message = firstIssue(error).slice(key.length + 2);
  return new UsageError(`${flagName(key)}: ${message} (got ${JSON.stringify(raw[key])})`);
}

/**
 * Runs a script's main and exits: its return value, 2 on a {@linkcode UsageError}, 1 on any
 * other error, each as one line on stderr.
 */
export async function runMain(main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (e) {
    const usage = e instanceof UsageError;
    console.error(`error: ${(e as Error).message ?? String(e)}`);
    if (usage) console.error("Run with --help for the flags.");
    code = usage ? 2 : 1;
  }
  Deno.exit(code);
}
