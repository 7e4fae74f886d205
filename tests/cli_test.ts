/** scripts/cli.ts: flags, help and checks derived from an options schema. */
import assert from "node:assert/strict";
import { z } from "zod";
import { optionsError, optionsHelp, parseOptions, UsageError } from "../scripts/cli.ts";

const Schema = z.strictObject({
  batchSize: z.number().int().min(1).default(64).meta({ arg: "N", help: "images per step" }),
  lr: z.number().positive().default(0.002),
  mode: z.enum(["max", "mean"]).default("max"),
  channels: z.union([z.literal("auto"), z.literal(1), z.literal(3)]).optional(),
  models: z.array(z.enum(["a", "b"])).optional().meta({ arg: "LIST" }),
  tags: z.array(z.string()).optional(),
  out: z.string().min(1).optional().meta({ arg: "DIR", help: "where (default: none)" }),
  resume: z.boolean().default(false).meta({ help: "go on" }),
}).superRefine((o, ctx) => {
  if (o.resume && o.out === undefined) {
    ctx.addIssue({ code: "custom", path: ["resume"], message: "needs `out`" });
  }
});

Deno.test("parseOptions: each flag's kind from its field; defaults; the schema's own checks", () => {
  assert.deepEqual(parseOptions(Schema, []).options, {
    batchSize: 64,
    lr: 0.002,
    mode: "max",
    resume: false,
  });
  const { options } = parseOptions(Schema, [
    "--batch-size=8",
    "--lr",
    "0.5",
    "--mode",
    "mean",
    "--channels",
    "3",
    "--models",
    "b,a",
    "--tags",
    "x,y z",
    "--out",
    "o",
    "--resume",
  ]);
  assert.deepEqual(options, {
    batchSize: 8,
    lr: 0.5,
    mode: "mean",
    channels: 3,
    models: ["b", "a"],
    tags: ["x", "y z"],
    out: "o",
    resume: true,
  });
  assert.equal(parseOptions(Schema, ["--channels", "auto"]).options.channels, "auto");
  // The object-level check names its flag and the other option as a flag too.
  assert.throws(
    () => parseOptions(Schema, ["--resume"]),
    /^UsageError: --resume: needs --out \(got true\)$/,
  );
});

Deno.test("parseOptions: bad values are one-line usage errors naming the flag and the bound", () => {
  const cases: [string[], RegExp][] = [
    [["--batch-size=0"], /^--batch-size: expected an integer ≥ 1, got "0"$/],
    [["--batch-size", "2.5"], /^--batch-size: expected an integer ≥ 1, got "2.5"$/],
    [["--batch-size="], /^--batch-size: expected an integer ≥ 1, got ""$/],
    [["--lr", "0"], /^--lr: expected a number > 0, got "0"$/],
    [["--lr", "Infinity"], /^--lr: expected a number > 0, got "Infinity"$/],
    [["--mode", "toString"], /^--mode: expected one of max or mean, got "toString"$/],
    [["--channels", "2"], /^--channels: expected one of auto, 1 or 3, got "2"$/],
    [["--models", "a,constructor"], /^--models: expected one of a or b, got "constructor"$/],
    [["--out="], /^--out: .* \(got ""\)$/],
    [["--bogus"], /bogus/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseOptions(Schema, args), (e: Error) => {
      assert.ok(e instanceof UsageError, `${args}: ${e}`);
      assert.match(e.message, message);
      assert.ok(!e.message.includes("\n"), e.message);
      return true;
    });
  }
});

Deno.test("parseOptions: prepare sees only what was given; --help returns the defaults", () => {
  const seen: Record<string, unknown>[] = [];
  const prepare = (given: Record<string, unknown>) => {
    seen.push(given);
    return { mode: "mean", ...given };
  };
  assert.equal(parseOptions(Schema, [], prepare).options.mode, "mean");
  assert.equal(parseOptions(Schema, ["--mode", "max"], prepare).options.mode, "max");
  assert.deepEqual(seen, [{}, { mode: "max" }]);
  // --help with a value that would not validate: the defaults, no error.
  const help = parseOptions(Schema, ["--help", "--resume"]);
  assert.deepEqual([help.help, help.options.resume], [true, false]);
});

Deno.test("optionsHelp: one line per flag with its choices and default, wrapped at 100", () => {
  const text = optionsHelp(Schema);
  const lines = text.split("\n");
  assert.ok(lines.every((l) => l.length <= 100), text);
  assert.match(text, /^ {2}--batch-size N {2,}images per step \(default 64\)$/m);
  assert.match(text, /^ {2}--lr X {2,}\(default 0\.002\)$/m);
  assert.match(text, /^ {2}--mode NAME {2,}max \| mean \(default max\)$/m);
  assert.match(text, /^ {2}--channels NAME {2,}auto \| 1 \| 3$/m);
  assert.match(text, /^ {2}--out DIR {2,}where \(default: none\)$/m);
  assert.match(text, /^ {2}--resume {2,}go on$/m);
  assert.equal(lines.at(-1)!.trim().replace(/ +/, " "), "--help this text");
  // Flags in the fields' order, and each flag once.
  const flags = lines.map((l) => l.match(/^ {2}(--[a-z-]+)/)?.[1]).filter(Boolean);
  assert.deepEqual(flags, [
    "--batch-size",
    "--lr",
    "--mode",
    "--channels",
    "--models",
    "--tags",
    "--out",
    "--resume",
    "--help",
  ]);
});

Deno.test("optionsError: a zod issue as the flag, the message and the value given", () => {
  const r = z.object({ weightDecay: z.number().max(1) }).safeParse({ weightDecay: 2 });
  assert.ok(!r.success);
  assert.match(
    optionsError(r.error, { weightDecay: 2 }).message,
    /^--weight-decay: .*1.* \(got 2\)$/,
  );
});
