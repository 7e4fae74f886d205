import assert from "node:assert/strict";
import { formatDuration, Progress } from "../lib/progress.ts";

Deno.test("formatDuration: hours and minutes, minutes and seconds, seconds, ? when unknown", () => {
  assert.deepEqual(
    [formatDuration(3725), formatDuration(185), formatDuration(12.4), formatDuration(NaN)],
    ["1h02m", "3m05s", "12s", "?"],
  );
});

Deno.test("Progress off a terminal: a line per tenth with rate and ETA; a caller's ETA wins", () => {
  const lines: string[] = [];
  const bar = new Progress("eval", 20, { tty: false, write: (s) => lines.push(s) });
  for (let i = 1; i <= 20; i++) bar.update(i, i * 10, "", i < 20 ? 3725 : 0);
  // Steps 1, 2, 4, 6, …, 20: the first of each tenth, and the last.
  assert.equal(lines.length, 11, lines.join(""));
  assert.match(lines[0], /^eval 1\/20 +[\d.]+ img\/s ETA 1h02m\n$/);
  assert.match(lines.at(-1)!, /^eval 20\/20 +[\d.]+ img\/s ETA 0s\n$/);
  // Without one, the ETA is the elapsed time per step times the steps left.
  const own: string[] = [];
  const plain = new Progress("train", 4, { tty: false, write: (s) => own.push(s), unit: "step" });
  plain.update(4, 4, "loss 0.1");
  assert.match(own[0], /^train 4\/4 loss 0\.1 [\d.]+ step\/s ETA 0s\n$/);
});
