/**
 * Validation helpers shared by every module that takes options: zod's first issue as a
 * one-line message, and lookups of user-given names (presets, sweeps, models, …) that use own
 * properties only (`"toString" in {}` is true) and name the valid choices when they fail.
 *
 * @module
 */
import type { z } from "zod";

/**
 * The first issue of a zod error as `path: message` (`(value)` when the root is wrong).
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const r = z.object({ lr: z.number() }).safeParse({ lr: "x" });
 * if (!r.success) firstIssue(r.error); // "lr: Invalid input: expected number, received string"
 * ```
 */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.join(".") ||
    (issue.code === "unrecognized_keys" ? issue.keys.join(",") : "(value)");
  return issue.message.startsWith(`${path}:`) ? issue.message : `${path}: ${issue.message}`;
}

/**
 * Parses `value` with `schema`, or throws `new ErrorClass("<what>: <first issue>")`.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const OptionsSchema = z.object({ batchSize: z.number().int().positive() });
 * const o = parseWith(OptionsSchema, { batchSize: 64 }, "Invalid batch options", TypeError); // { batchSize: 64 }
 * // parseWith(OptionsSchema, { batchSize: 0 }, …) throws TypeError "Invalid batch options: batchSize: …"
 * ```
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  ErrorClass: new (message: string) => Error = TypeError,
): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ErrorClass(`${what}: ${firstIssue(parsed.error)}`);
  return parsed.data;
}

/**
 * Options that are each valid but do not fit together, or not with what was found (the backend
 * chosen, the checkpoints loaded). `key` is the option at fault; option names in the message
 * are written in backquotes (`` `backend` ``), so that a CLI can show them as its flags.
 *
 * @example
 * ```ts
 * const e = new OptionsError("tta", "applies to `protocol` ours only");
 * e.message; // "tta: applies to `protocol` ours only"; thrown where the options are checked
 * ```
 */
export class OptionsError extends Error {
  override name = "OptionsError";
  constructor(readonly key: string, readonly detail: string) {
    super(`${key}: ${detail}`);
  }
}

/** True when `name` is an own key of `table` (never an inherited one such as "toString"). */
export function isKey<T extends object>(table: T, name: string): name is Extract<keyof T, string> {
  return Object.hasOwn(table, name);
}

/** `expected one of a, b or c`, the tail of every bad-name message. */
export function expectedOneOf(choices: readonly string[]): string {
  return choices.length <= 1
    ? `expected ${choices[0] ?? "nothing"}`
    : `expected one of ${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
}

/**
 * The entry of `table` named `name`, or a `RangeError` naming `what` and the valid choices.
 *
 * @example
 * ```ts
 * const presets = { tiny: 1, small: 2 };
 * lookup(presets, "small", "preset"); // 2
 * try { lookup(presets, "toString", "preset"); } catch (e) { console.log((e as Error).message); }
 * // preset: expected one of tiny or small, got "toString"
 * ```
 */
export function lookup<T>(table: Record<string, T>, name: string, what: string): T {
  if (!isKey(table, name)) {
    throw new RangeError(`${what}: ${expectedOneOf(Object.keys(table))}, got "${name}"`);
  }
  return table[name];
}
