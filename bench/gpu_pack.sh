#!/usr/bin/env bash
# Packs, on a machine with network, what bench/gpu.sh needs on a GPU machine without one, into
# two git-ignored folders that the device tool carries beside the working tree (64 MiB in all):
#
#   .deno/deno.xz         the deno executable of this machine (95.6 MB; xz: 30.5 MB)
#   .deno/npm.tar.xz      a DENO_DIR holding only the npm packages the GPU run imports, pruned to
#                         the files Deno's Node resolution loads (tfjs' "main" *.node.js bundles
#                         and *.wasm; no ESM copies, minified bundles, maps or .d.ts)
#   .gl/*.deb             the Vulkan loader and the GL dispatch libraries (Debian bookworm amd64)
#                         that NVIDIA's Vulkan driver (libGLX_nvidia) links against
#
# Run it again after deno.json or deno.lock changes: the cache must match the lock file (gpu.sh
# says so in its report when it does not).
# Usage: bench/gpu_pack.sh            (from anywhere; writes into the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."

# The carried tree, folders included, must stay under the device tool's 64 MiB.
LIMIT=$((64 * 1024 * 1024))
# What the GPU run imports (workers included: they start from their own entry points).
ENTRIES=(scripts/bench.ts scripts/train.ts bench/gpu_check.ts lib/train/data_parallel_worker.ts)

command -v deno >/dev/null || { echo "gpu_pack: deno is not on PATH" >&2; exit 1; }
command -v xz >/dev/null || { echo "gpu_pack: xz is missing (apt-get install xz-utils)" >&2; exit 1; }
mkdir -p .deno .gl

bin=$(readlink -f "$(command -v deno)")
if [ ! -s .deno/deno.xz ] || [ "$bin" -nt .deno/deno.xz ]; then
  echo "gpu_pack: compressing $bin ($(stat -c %s "$bin") bytes) ..."
  xz -T0 -6 -c "$bin" >.deno/deno.xz.tmp && mv .deno/deno.xz.tmp .deno/deno.xz
fi
deno --version | head -1 >.deno/VERSION

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "gpu_pack: caching deno.json's npm packages and those of ${ENTRIES[*]} ..."
# Deno installs every npm package of the lock file's resolution before it runs anything (an
# offline run stops at the first missing one, imported or not): all of deno.json, then the graph.
DENO_DIR="$dir" deno install --quiet
DENO_DIR="$dir" deno cache --quiet "${ENTRIES[@]}"
sha256sum deno.lock | cut -d' ' -f1 >.deno/deno.lock.sha256
npm="$dir/npm/registry.npmjs.org"
# tfjs packages ship each build several times; Deno loads package.json "main" (dist/*.node.js).
for pkg in "$npm"/@tensorflow/*/*/; do
  find "$pkg" -mindepth 1 -maxdepth 1 ! -name dist ! -name package.json -exec rm -rf {} +
  find "$pkg/dist" -mindepth 1 -maxdepth 1 ! -name '*.node.js' ! -name '*.wasm' -exec rm -rf {} +
done
# Deno wants every package of the lock file's resolution present (an offline run stops at the
# first one missing), so the rest keep their folder and package.json and lose their contents:
# type declarations (for deno check only; the GPU run does not type-check) and sharp's builds
# for other platforms and musl (the GPU machine is x86-64 glibc).
for pkg in "$npm"/@types/*/*/ "$npm"/@webgpu/*/*/ "$npm"/@img/sharp-*/*/; do
  case "$pkg" in */sharp-linux-x64/* | */sharp-libvips-linux-x64/*) continue ;; esac
  find "$pkg" -mindepth 1 -maxdepth 1 ! -name package.json -exec rm -rf {} +
done
tar -C "$dir" -cf - npm | xz -T0 -6 >.deno/npm.tar.xz.tmp && mv .deno/npm.tar.xz.tmp .deno/npm.tar.xz

if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  echo "gpu_pack: downloading the Vulkan loader and GL dispatch packages ..."
  mkdir -p /tmp/amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  apt-get "${o[@]}" update -qq
  (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

tree=$(git ls-files -co --exclude-standard -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s}')
carried=$(du -cb .deno .gl | tail -1 | cut -f1)
total=$((tree + carried))
printf 'gpu_pack: .deno %s bytes, .gl %s bytes, working tree %s bytes: %s of %s MiB\n' \
  "$(du -cb .deno | tail -1 | cut -f1)" "$(du -cb .gl | tail -1 | cut -f1)" "$tree" \
  "$((total / 1048576))" 64
if [ "$total" -gt "$LIMIT" ]; then
  echo "gpu_pack: over the device tool's 64 MiB: carry less or shrink the tree" >&2
  exit 1
fi
