#!/bin/bash
# Like run2.sh, but each pair waits (up to 120 s) for a 1-minute load average under 2.5.
out=/tmp/s12/bench/set3; mkdir -p $out
run() { # side size i
  local dir=/tmp/b12; [ "$1" = after ] && dir=/tmp/a12
  local f=$out/$1_$2_$3.txt
  echo "== $1 $2 $3 $(cd $dir && git rev-parse --short HEAD) start $(date -u +%H:%M:%S) loadavg $(cut -d' ' -f1-3 /proc/loadavg)" > $f
  (cd $dir && timeout 600 deno task bench:serve --checkpoints /tmp/ck12 --rounds 0 --size $2) >> $f 2>&1
  echo "rc=$? end $(date -u +%H:%M:%S) loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >> $f
}
quiet() { for k in $(seq 1 24); do awk '{exit !($1 < 2.5)}' /proc/loadavg && return; sleep 5; done; }
for i in 1 2 3 4 5 6; do
  if [ $((i % 2)) = 1 ]; then a=before; b=after; else a=after; b=before; fi
  for size in 64x48 451x300; do quiet; run $a $size $i; run $b $size $i; done
done
echo done > $out/DONE
