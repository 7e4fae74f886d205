#!/usr/bin/env bash
# Stages a running study's state for a commit, so that a fresh clone resumes it: for each cell
# that is not done, its resumable checkpoint (ckpt/<model>/) and the best one so far
# (ckpt/<model>-best/), which the study's .gitignore otherwise keeps out; for each done cell, its
# checkpoints are taken out of the index again (only ckpt/<model>/metrics.jsonl stays). Stop the
# runner first (Ctrl-C: the cells save at their next batch), then:
#
#   bash bench/study_save.sh docs/results/study/fashion-mnist-reference && git commit -m "…"
#
# A checkpoint of the reference preset is 3.4 MB (weights 1.1 MB + Adam's moments 2.3 MB).
set -euo pipefail
dir=${1:?usage: bash bench/study_save.sh STUDY_DIR}
[ -f "$dir/experiment.json" ] || { echo "error: $dir/experiment.json not found: expected a study directory" >&2; exit 2; }
git add "$dir"
for cell in "$dir"/*/; do
  cell=${cell%/}
  [ -d "$cell/ckpt" ] || continue
  if [ -f "$cell/done.json" ]; then
    git rm -r -q --cached --ignore-unmatch "$cell/ckpt" "$cell/selected" >/dev/null
    for m in "$cell"/ckpt/*/metrics.jsonl; do
      case $m in *-best/*) ;; *) [ -f "$m" ] && git add "$m" ;; esac
    done
  else
    for ck in "$cell"/ckpt/*/; do
      [ -f "$ck/meta.json" ] && git add -f "$ck"
    done
    echo "resume state staged: $cell"
  fi
done
