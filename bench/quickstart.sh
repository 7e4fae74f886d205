#!/usr/bin/env bash
# Times the README's two quick-start commands as a new user meets them: a fresh clone of this
# checkout and an empty Deno cache (so npm packages are downloaded), once with oneDNN and once
# without (SYMLAB_NATIVE=0, as on a machine without libdnnl2). Writes a Markdown log.
#
#   bash bench/quickstart.sh docs/bench/quickstart.md
set -euo pipefail
out=${1:?usage: bench/quickstart.sh OUT.md}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
commit=$(git -C "$repo" rev-parse --short HEAD)
dirty=$(git -C "$repo" status --porcelain --untracked-files=no | grep -q . && echo " (with uncommitted changes)" || true)

{
  echo "# Quick start, timed"
  echo
  echo "\`bash bench/quickstart.sh\` at commit $commit$dirty, $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB;"
  echo "$(deno --version | head -n1); load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Each row: a fresh \`git clone\` and an empty \`DENO_DIR\` (npm packages downloaded)."
  echo
  echo "| oneDNN | command | wall time | result |"
  echo "| --- | --- | --- | --- |"
} > "$out"

run() { # label env... -- command...
  local label=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local dir="$work/$label"
  rm -rf "$dir"
  git clone -q "$repo" "$dir/repo"
  local start end status
  start=$(date +%s.%N)
  set +e
  (cd "$dir/repo" && env DENO_DIR="$dir/deno" NO_COLOR=1 "${envs[@]}" "$@") > "$dir/log" 2>&1
  status=$?
  set -e
  end=$(date +%s.%N)
  local secs result
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { s = b - a; printf "%dm%02ds", s / 60, s % 60 }')
  result=$(grep -E '^(ok|FAILED) \| [0-9]+ passed|^done in ' "$dir/log" | tail -n 1 | sed 's/|/\\|/g')
  echo "| $label | \`$*\` | $secs | exit $status: ${result:-see log} |" >> "$out"
  echo "$label: $* -> exit $status in $secs" >&2
}

run "with" SYMLAB_NATIVE=1 -- deno task train --quick
run "with" SYMLAB_NATIVE=1 -- deno task test
run "without" SYMLAB_NATIVE=0 -- deno task train --quick
run "without" SYMLAB_NATIVE=0 -- deno task test
echo >> "$out"
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)." >> "$out"
