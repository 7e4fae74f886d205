/**
 * What every entry point in scripts/ shares: flags, help and validation derived from a task's
 * options schema (`parseOptions`, `optionsHelp`), a number check for values read outside one
 * (serve's `PORT`), and `runMain`, which turns a thrown error into one line on stderr and an
 * exit code (2 for bad usage, 1 for a failure).
 *
 * A task's options are one zod object: in lib/ for the tasks lib/ runs (lib/train/options.ts,
 * lib/eval/options.ts), in the script for the scripts' own (serve, bench, equivariance, …):
 * each field's key gives its flag (`batchSize` → `--batch-size`), its type the flag's kind
 * (boolean, number, integer, one of a list, a comma-separated list, text), its `.default()` the
 * default, and its `.meta({ help, arg })` the help line; the schema then validates what the
 * flags gave. The same schema validates the options file that an experiment cell hands to
 * lib/experiment/task.ts, so a flag is written once.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { z } from "zod";
import { expectedOneOf, firstIssue, OptionsError } from "../lib/validate.ts";

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

/** Option names in backquotes (`` `backend` ``, see OptionsError) written as flags. */
function asFlags(text: string): string {
  return text.replace(/`([A-Za-z][A-Za-z0-9]*)`/g, (_, key) => flagName(key));
}

/** A zod error on an options object as a usage error naming the flag and the value given. */
export function optionsError(error: z.ZodError, raw: Record<string, unknown>): UsageError {
  const key = String(error.issues[0].path[0] ?? "");
  const message = asFlags(firstIssue(error).slice(key.length + 2));
  return new UsageError(`${flagName(key)}: ${message} (got ${JSON.stringify(raw[key])})`);
}

/** What an options field's `.meta()` says of its flag. */
export interface FlagMeta {
  /**
   * The help text; `{choices}` and `{default}` stand for the generated parts, which are
   * otherwise put before (`a | b | c: …`) and after (`… (default a)`) it.
   */
  help?: string;
  /** The value's placeholder in the help (`N`, `DIR`, `NAME`). */
  arg?: string;
}

/** One flag as derived from an options field (its JSON Schema, input side). */
interface Flag {
  key: string;
  flag: string;
  kind: "boolean" | "integer" | "number" | "choice" | "list" | "text";
  /** For "choice", and for the members of a "list" of choices. */
  choices?: (string | number)[];
  /** The smallest number accepted, and whether it is itself excluded. */
  min?: { value: number; exclusive: boolean };
  default?: unknown;
  help: string;
  arg: string;
}

type JsonField = {
  type?: string;
  enum?: (string | number)[];
  const?: string | number;
  anyOf?: JsonField[];
  items?: JsonField;
  minimum?: number;
  exclusiveMinimum?: number;
  default?: unknown;
} & FlagMeta;

function choicesOf(field: JsonField): (string | number)[] | undefined {
  if (field.enum) return field.enum;
  if (field.anyOf?.every((f) => f.const !== undefined)) return field.anyOf.map((f) => f.const!);
  return undefined;
}

/** The flags of an options schema, in its fields' order. */
function flagsOf(schema: z.ZodType): Flag[] {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, JsonField>;
  };
  return Object.entries(json.properties ?? {}).map(([key, field]): Flag => {
    const choices = choicesOf(field);
    const itemChoices = field.items && choicesOf(field.items);
    const kind = field.type === "boolean"
      ? "boolean"
      : field.type === "integer" || field.type === "number"
      ? field.type
      : choices
      ? "choice"
      : field.type === "array"
      ? "list"
      : "text";
    const min = field.exclusiveMinimum !== undefined
      ? { value: field.exclusiveMinimum, exclusive: true }
      : field.minimum !== undefined
      ? { value: field.minimum, exclusive: false }
      : undefined;
    return {
      key,
      flag: flagName(key).slice(2),
      kind,
      choices: kind === "list" ? itemChoices : choices,
      min,
      default: field.default,
      help: field.help ?? "",
      arg: field.arg ?? (kind === "choice" ? "NAME" : kind === "list" ? "A[,B]" : "X"),
    };
  });
}

/** A flag's text as the value its field takes, or a usage error saying what was expected. */
function flagValue(f: Flag, text: string): unknown {
  const choice = (t: string) => {
    const match = f.choices!.find((c) => String(c) === t);
    if (match === undefined) {
      throw new UsageError(`--${f.flag}: ${expectedOneOf(f.choices!.map(String))}, got "${t}"`);
    }
    return match;
  };
  if (f.kind === "choice") return choice(text);
  if (f.kind === "list") return text.split(",").map((t) => f.choices ? choice(t) : t);
  if (f.kind !== "integer" && f.kind !== "number") return text;
  const n = Number(text);
  const tooSmall = f.min && (f.min.exclusive ? n <= f.min.value : n < f.min.value);
  if (
    text.trim() === "" || !Number.isFinite(n) || (f.kind === "integer" && !Number.isInteger(n)) ||
    tooSmall
  ) {
    const what = f.kind === "integer" ? "an integer" : "a number";
    const bound = f.min ? ` ${f.min.exclusive ? ">" : "≥"} ${f.min.value}` : "";
    throw new UsageError(`--${f.flag}: expected ${what}${bound}, got "${text}"`);
  }
  return n;
}

/**
 * Parses argv against a task's options schema: each flag converted to its field's type (a
 * one-line usage error naming the flag when it is not one), `prepare` given the options the
 * flags set (to add defaults that depend on them, e.g. `--quick`'s), then the whole validated
 * by the schema. With `--help`, `options` are the defaults.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const Schema = z.object({ batchSize: z.number().int().min(1).default(64) });
 * parseOptions(Schema, ["--batch-size", "8"]).options; // { batchSize: 8 }
 * ```
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  args: string[],
  prepare: (given: Record<string, unknown>) => Record<string, unknown> = (given) => given,
): { help: boolean; options: z.output<S> } {
  const flags = flagsOf(schema);
  const config: ParseArgsOptionsConfig = { help: { type: "boolean" } };
  for (const f of flags) config[f.flag] = { type: f.kind === "boolean" ? "boolean" : "string" };
  const values = parseFlags(args, config) as Record<string, string | boolean | undefined>;
  const given: Record<string, unknown> = {};
  for (const f of flags) {
    const v = values[f.flag];
    if (v !== undefined) given[f.key] = typeof v === "boolean" ? v : flagValue(f, v);
  }
  const help = values.help === true;
  const raw = prepare(help ? {} : given);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw optionsError(parsed.error, raw);
  return { help, options: parsed.data };
}

/** Word-wraps `text` to `width` columns, keeping its own line breaks. */
function wrap(text: string, width: number): string[] {
  return text.split("\n").flatMap((paragraph) => {
    const lines: string[] = [];
    let line = "";
    for (const word of paragraph.split(" ")) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    return [...lines, line];
  });
}

/**
 * The flag lines of a task's help, from its options schema: `--flag ARG` and the field's help
 * with its choices and default, wrapped to 100 columns; `--help` last.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * optionsHelp(z.object({ seed: z.number().int().default(1).meta({ help: "data order", arg: "N" }) }));
 * // "  --seed N  data order (default 1)\n  --help    this text"
 * ```
 */
export function optionsHelp(schema: z.ZodType): string {
  const flags = flagsOf(schema);
  const left = (f: Flag) => `  --${f.flag}${f.kind === "boolean" ? "" : ` ${f.arg}`}`;
  const column = Math.min(24, Math.max(...flags.map((f) => left(f).length)) + 2);
  const rows = flags.map((f) => {
    const choices = f.choices?.join(" | ") ?? "";
    const shown = f.default === undefined || f.default === false ? undefined : String(f.default);
    let text = f.help;
    if (choices && !text.includes("{choices}")) text = text ? `{choices}: ${text}` : "{choices}";
    if (shown !== undefined && !text.includes("{default}")) text += " (default {default})";
    text = text.replaceAll("{choices}", choices).replaceAll("{default}", shown ?? "").trim();
    return [left(f), text] as const;
  });
  rows.push(["  --help", "this text"]);
  return rows.flatMap(([l, text]) => {
    const lines = wrap(text, 100 - column);
    const first = l.length + 1 > column ? [l, ""] : [l.padEnd(column) + lines.shift()];
    return [...first, ...lines.map((t) => " ".repeat(column) + t)].filter((x) => x.trim());
  }).join("\n");
}

/**
 * Runs a script's main and exits: its return value, 2 on a {@linkcode UsageError} (or an
 * OptionsError from lib/, its option shown as the flag), 1 on any
 * other error, each as one line on stderr.
 */
export async function runMain(main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (thrown) {
    const e = thrown instanceof OptionsError
      ? new UsageError(`${flagName(thrown.key)}: ${asFlags(thrown.detail)}`)
      : thrown;
    const usage = e instanceof UsageError;
    console.error(`error: ${(e as Error).message ?? String(e)}`);
    if (usage) console.error("Run with --help for the flags.");
    code = usage ? 2 : 1;
  }
  Deno.exit(code);
}
