#!/bin/bash
out=/tmp/s12/bench/set2; mkdir -p $out
run() { # side size i
  local dir=/tmp/b12; [ "$1" = after ] && dir=/tmp/a12
  local f=$out/$1_$2_$3.txt
  echo "== $1 $2 $3 $(cd $dir && git rev-parse --short HEAD) start $(date -u +%H:%M:%S) loadavg $(cut -d' ' -f1-3 /proc/loadavg)" > $f
  (cd $dir && timeout 600 deno task bench:serve --checkpoints /tmp/ck12 --rounds 0 --size $2) >> $f 2>&1
  echo "rc=$? end $(date -u +%H:%M:%S) loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >> $f
}
for i in 1 2 3 4; do
  if [ $((i % 2)) = 1 ]; then a=before; b=after; else a=after; b=before; fi
  run $a 64x48 $i; run $b 64x48 $i; run $b 451x300 $i; run $a 451x300 $i
done
echo done > $out/DONE
