#!/usr/bin/env bash
# symlab on a real GPU through Deno's WebGPU (issue 17), as one prepared run on a bare Linux
# x86-64 machine with an NVIDIA GPU and no network. docs/gpu.md says how to call it.
#
#  1. unpacks what travels with the tree (bench/gpu_pack.sh made it): the deno executable
#     (.deno/deno.xz), its npm packages (.deno/npm.tar.xz), the Vulkan loader and GL dispatch
#     libraries (.gl/*.deb, into a private prefix, never /), and points the loader at NVIDIA's
#     Vulkan driver (its ICD json, or one written for libGLX_nvidia.so.0);
#  2. prints the WebGPU adapter and checks invariance of the p4 / p4m models on it (≤ 1e-4);
#  3. deno task bench --backends webgpu, every model, the reference and paper presets;
#  4. PyTorch CUDA on the same trunks (reference preset) when torch sees a GPU;
#  5. trains each model one short epoch on the synthetic set with --backend webgpu;
#  6. writes $OUT/gpu_report.md (and the raw bench table and a log) as it goes, so a run cut
#     short still returns what it measured.
#
# Usage: bench/gpu.sh [--out DIR] [--smoke] [--allow-software] [--presets LIST] [--models LIST]
#          [--steps N] [--warmup N] [--train-preset P] [--train-limit N] [--eval-limit N]
#          [--budget SECONDS] [--webgpu-backend NAME] [--no-torch]
#   --smoke   test the script on a machine without a GPU: allow a software adapter (llvmpipe),
#             tiny preset, the symmetric model, 64 training images, budget 170 s
# Exit status: 0 every phase passed; 1 a phase failed or ran out of time; 2 no usable adapter.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

args="$*"
out=${OUT:-$ROOT/reports/gpu}
presets=reference,paper
models=""
steps=5
warmup=2
train_preset=reference
train_limit=1024
eval_limit=256
budget=420
allow_software=0
webgpu_backend=vulkan
torch=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    --smoke)
      allow_software=1 presets=tiny models=symmetric steps=1 warmup=1 train_preset=tiny
      train_limit=64 eval_limit=32 budget=170 webgpu_backend="" ;;
    --allow-software) allow_software=1 ;;
    --presets) presets=$2; shift ;;
    --models) models=$2; shift ;;
    --steps) steps=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --train-preset) train_preset=$2; shift ;;
    --train-limit) train_limit=$2; shift ;;
    --eval-limit) eval_limit=$2; shift ;;
    --budget) budget=$2; shift ;;
    --webgpu-backend) webgpu_backend=$2; shift ;;
    --no-torch) torch=0 ;;
    -h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown flag $1 (expected one of those in --help)" >&2; exit 2 ;;
  esac
  shift
done

start=$(date +%s)
deadline=$((start + budget))
# What the phases after the bench get: PyTorch (~20 s on a GPU) and the training epochs.
reserve=$((budget * 35 / 100))
cap() { local r=$(($(remaining))); echo $((r < $1 ? r : $1)); }
remaining() { echo $((deadline - $(date +%s))); }
work=${TMPDIR:-/tmp}/symlab-gpu
mkdir -p "$out" "$work"
report=$out/gpu_report.md
log=$out/gpu_log.txt
: >"$report"
: >"$log"
failures=()
say() { printf '%s\n' "$*" | tee -a "$report"; }
note() { printf '%s\n' "$*" | tee -a "$log" >&2; }
# Runs a phase with at most $1 seconds, its output into the log; returns its status (124: timeout).
phase() {
  local limit=$1 name=$2
  shift 2
  if [ "$limit" -lt 10 ]; then
    say "- **$name: skipped**, the time budget is spent."
    failures+=("$name (no time left)")
    return 124
  fi
  note "== $name (at most ${limit} s): $*"
  local t0=$(date +%s) rc
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  note "== $name: exit $rc after $(($(date +%s) - t0)) s"
  [ "$rc" -eq 0 ] || failures+=("$name (exit $rc$([ "$rc" -eq 124 ] && echo ", timed out after ${limit} s"))")
  return "$rc"
}

# ---- 1. what travels with the tree ----
bin=$work/bin
mkdir -p "$bin"
unxz_to() { # file.xz -> stdout, with xz or, where it is missing, Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}
if [ -s .deno/deno.xz ]; then
  [ -x "$bin/deno" ] && [ "$bin/deno" -nt .deno/deno.xz ] || { unxz_to .deno/deno.xz >"$bin/deno" && chmod +x "$bin/deno"; }
  export PATH=$bin:$PATH
fi
command -v deno >/dev/null || { echo "gpu.sh: no deno: run bench/gpu_pack.sh and carry .deno" >&2; exit 2; }
if [ -s .deno/npm.tar.xz ]; then
  export DENO_DIR=$work/deno_dir
  if [ ! -d "$DENO_DIR/npm" ] || [ .deno/npm.tar.xz -nt "$DENO_DIR/npm" ]; then
    rm -rf "$DENO_DIR" && mkdir -p "$DENO_DIR" && unxz_to .deno/npm.tar.xz | tar -C "$DENO_DIR" -xf -
    touch "$DENO_DIR/npm"
  fi
fi
export DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 NO_COLOR=1
stale=""
if [ -s .deno/deno.lock.sha256 ] && [ "$(sha256sum deno.lock | cut -d' ' -f1)" != "$(cat .deno/deno.lock.sha256)" ]; then
  stale="**deno.lock changed after bench/gpu_pack.sh packed the npm cache: without network, a package added since stops every deno command (\"Failed caching npm package\" in the log). Run bench/gpu_pack.sh again before the GPU session.**"
fi

# The Vulkan loader: the machine's own if ldconfig knows one, else the carried packages,
# unpacked into a private prefix (unpacking into / can break the image).
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' && ls .gl/*.deb >/dev/null 2>&1; then
  gl=$work/gl
  for f in .gl/*.deb; do dpkg-deb -x "$f" "$gl" 2>/dev/null || (cd "$gl" && ar p "$ROOT/$f" data.tar.xz | tar -xJf -); done
  export LD_LIBRARY_PATH=$gl/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
done
# NVIDIA's Vulkan driver: its ICD json where the driver mount keeps it (outside the loader's
# search path), else one written here for libGLX_nvidia.so.0, which holds the Vulkan driver.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  icd=""
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
    /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$f" ] && { icd=$f; break; }
  done
  if [ -z "$icd" ]; then
    glx=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ {print $NF; exit}')
    [ -z "$glx" ] && for d in /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu; do
      [ -e "$d/libGLX_nvidia.so.0" ] && glx=$d/libGLX_nvidia.so.0 && break
    done
    if [ -n "$glx" ]; then
      icd=$work/nvidia_icd.json
      printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' "$glx" >"$icd"
    fi
  fi
  [ -n "$icd" ] && export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
fi
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl" ] && [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl

# ---- the report's header ----
say "# symlab on a GPU through Deno's WebGPU ($(date -u '+%Y-%m-%d %H:%M UTC'))"
say ""
say "Command: \`bench/gpu.sh $args\` (presets $presets; models ${models:-all}; bench $steps steps after $warmup warm-up; training preset $train_preset, $train_limit images, 1 epoch; budget ${budget} s)."
say ""
say "- machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) memory"
if command -v nvidia-smi >/dev/null; then
  say "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
else
  say "- GPU: no nvidia-smi on this machine"
fi
say "- $(deno --version | head -1) ($(command -v deno)); DENO_DIR ${DENO_DIR:-default}"
[ -n "$stale" ] && say "- $stale"
say "- Vulkan loader: $(ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' && echo "the machine's" || echo "carried (.gl), LD_LIBRARY_PATH $LD_LIBRARY_PATH"); driver ICD: ${VK_DRIVER_FILES:-none found}"
say ""

# ---- 2. adapter and invariance ----
models_flag=()
[ -n "$models" ] && models_flag=(--models "$models")
check=(deno run -A bench/gpu_check.ts --presets "$presets" --out "$report" "${models_flag[@]}")
[ "$allow_software" = 1 ] && check+=(--allow-software)
backend_used=""
for b in ${webgpu_backend:+"$webgpu_backend"} ""; do
  if [ -n "$b" ]; then export DENO_WEBGPU_BACKEND=$b; else unset DENO_WEBGPU_BACKEND; fi
  phase "$(cap "$reserve")" "adapter + invariance (DENO_WEBGPU_BACKEND=${b:-unset})" "${check[@]}"
  rc=$?
  [ "$rc" -ne 2 ] && { backend_used=${b:-unset}; break; }
  unset 'failures[-1]' # no adapter with this backend: the next try says whether that matters
  [ -z "$b" ] && break
  say "No usable adapter with DENO_WEBGPU_BACKEND=$b; trying every backend wgpu knows."
  say ""
done
if [ -z "$backend_used" ]; then
  say "**No usable WebGPU adapter: nothing measured.** The log ($log) has the details."
  exit 2
fi

# ---- 3. bench ----
say "## deno task bench --backends webgpu"
say ""
# One bench per (preset, model), each with an equal share of the time the reserve leaves: a row
# cut short by the budget costs that row only. The rows are gathered into one table.
preset_list=(${presets//,/ })
model_list=(${models//,/ })
[ ${#model_list[@]} -gt 0 ] || model_list=($(deno eval 'import { MODEL_NAMES } from "./lib/model/models.ts"; console.log(MODEL_NAMES.join(" "))'))
bench_md=$out/bench_webgpu.md
: >"$bench_md"
pairs=$((${#preset_list[@]} * ${#model_list[@]}))
n=0
first=""
for p in "${preset_list[@]}"; do
  for m in "${model_list[@]}"; do
    f=$work/bench_${p}_$m.md
    rm -f "$f"
    if phase "$(((($(remaining) - reserve)) / (pairs - n)))" "bench $p $m" deno task bench \
      --backends webgpu --presets "$p" --models "$m" --steps "$steps" --warmup "$warmup" --no-torch --out "$f"; then
      if [ -z "$first" ]; then
        first=$f
        sed -n '1,/^|---/p' "$f" >>"$bench_md" # the header and the table's head
      fi
      grep "^| $m | $p |" "$f" >>"$bench_md"
    else
      echo "| $m | $p | did not finish (see gpu_log.txt) |" >>"$bench_md"
    fi
    n=$((n + 1))
  done
done
[ -n "$first" ] && { echo; sed -n '/^|---/,$p' "$first" | sed '1,/^$/d'; } >>"$bench_md"
sed -e 's/^## /### /' "$bench_md" >>"$report"
say ""
say "(One \`deno task bench --backends webgpu --presets P --models M\` per row; the Command line above is the first row's.)"
say ""

# ---- 4. PyTorch CUDA ----
if [ "$torch" = 1 ]; then
  say "## PyTorch CUDA, the same trunks (reference preset)"
  say ""
  phase "$(cap 60)" "pytorch cuda" bash -c 'python3 bench/torch_cuda.py 20 >"$1"' _ "$work/torch.md" &&
    tee -a "$report" <"$work/torch.md"
  say ""
fi

# ---- 5. one short training epoch per model ----
say "## One training epoch per model on the synthetic set (--backend webgpu, preset $train_preset)"
say ""
ckpt=$work/checkpoints
rm -rf "$ckpt"
n=0
for m in "${model_list[@]}"; do
  # An equal share of what is left for each model still to train.
  phase "$(($(remaining) / (${#model_list[@]} - n)))" "train $m" deno task train --model "$m" \
    --dataset synthetic --backend webgpu --preset "$train_preset" --epochs 1 --limit "$train_limit" \
    --eval-limit "$eval_limit" --out "$ckpt"
  n=$((n + 1))
done
say "| model | train loss | train acc | test acc | rotated acc | perturbed acc | train img/s |"
say "| --- | --- | --- | --- | --- | --- | --- |"
for f in "$ckpt"/*/metrics.jsonl; do
  [ -f "$f" ] || continue
  m=$(basename "$(dirname "$f")")
  case "$m" in *-best) continue ;; esac
  # The epoch's line of metrics.jsonl, as one table row.
  deno eval 'const e = JSON.parse(Deno.readTextFileSync(Deno.args[0]).trim().split("\n").at(-1));
    const f = (k, d = 3) => typeof e[k] === "number" ? e[k].toFixed(d) : "–";
    console.log(`| ${Deno.args[1]} | ${f("trainLoss")} | ${f("trainAcc")} | ${f("testAcc")} | ${f("rotatedAcc")} | ${f("perturbedAcc")} | ${f("imgPerSec", 1)} |`);' "$f" "$m" | tee -a "$report"
done
say ""

# ---- 6. summary ----
say "## Summary"
say ""
say "WebGPU backend: DENO_WEBGPU_BACKEND=$backend_used; $(($(date +%s) - start)) s in all."
if [ ${#failures[@]} -eq 0 ]; then
  say "Every phase passed."
  status=0
else
  for f in "${failures[@]}"; do say "- failed: $f"; done
  status=1
fi
# The device tool returns files up to 16 MiB: keep the log's end.
if [ "$(stat -c %s "$log")" -gt 15000000 ]; then tail -c 15000000 "$log" >"$log.tmp" && mv "$log.tmp" "$log"; fi
exit "$status"
