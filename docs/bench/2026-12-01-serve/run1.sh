#!/bin/bash
# Alternates before (ea5ec74 worktree) and after (a worktree at f2af7c4+) bench:serve runs on the
# same checkpoints (/tmp/ck12) and the same generated PNG, in one sitting.
out=/tmp/s12/bench
run() { # side size i
  local dir=/tmp/b12; [ "$1" = after ] && dir=/tmp/a12
  local f=$out/$1_$2_$3.txt
  echo "== $1 $2 $3 $(cd $dir && git rev-parse --short HEAD) start $(date -u +%H:%M:%S) loadavg $(cut -d' ' -f1-3 /proc/loadavg)" > $f
  (cd $dir && timeout 600 deno task bench:serve --checkpoints /tmp/ck12 --rounds 0 --size $2) >> $f 2>&1
  echo "rc=$? end $(date -u +%H:%M:%S) loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >> $f
}
for i in 1 2 3; do run before 64x48 $i; run after 64x48 $i; done
for i in 1 2; do run after 451x300 $i; run before 451x300 $i; done
echo done > $out/DONE
