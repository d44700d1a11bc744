#!/usr/bin/env bash
# make dist: cmdop binaries for Linux, macOS and Windows (x86_64, aarch64) in dist/, built with deno compile.
#
# deno compile downloads its base runtime (denort) for each target from Deno's release host.
# DENORT_BIN=/path/to/denort builds the host's target from a local copy instead (deno applies
# DENORT_BIN to every target, so it is passed to the host's build only). TARGETS="…" narrows the list.
# Permissions of the binaries: docs/permissions.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
deno="$root/scripts/deno"

all_targets="x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-msvc"
read -r -a targets <<<"${TARGETS:-$all_targets}"
# "deno 2.9.6 (stable, release, x86_64-unknown-linux-gnu)" -> x86_64-unknown-linux-gnu
host=$("$deno" --version | sed -nE '1s/.*, ([^,)]+)\)$/\1/p')
version=$("$deno" eval 'console.log(JSON.parse(Deno.readTextFileSync("deno.json")).version)')

# The grant of the whole binary: what relay and agent need. Client verbs run in a worker holding
# only CMDOP_HOME, the network and their variables (scripts/dist_main.ts).
permissions=(
  --no-prompt --unstable-worker-options
  --allow-read --allow-write --allow-net --allow-env --allow-run --allow-ffi --allow-sys
)

# Type checked once here, so that each target's compile can skip it.
"$deno" check --quiet scripts/dist_main.ts scripts/dist_client_worker.ts

# The relay and agent verbs' modules are imported with specifiers built at run time
# (src/cli/server_verbs.ts), which deno compile does not follow: each is embedded by name.
server_modules=()
while read -r module; do server_modules+=(--include "src/cli/$module"); done < <(
  sed -nE 's#^  [a-zA-Z]+: "\./(commands/(relay|agent)/[a-z_]+\.ts)",$#\1#p' src/cli/server_verbs.ts
)
if [ "${#server_modules[@]}" -eq 0 ]; then
  echo "error: no relay or agent module found in src/cli/server_verbs.ts" >&2
  exit 1
fi

# npm packages come from Deno's cache, only those the program imports: node_modules/ also holds
# buf for every platform (~500 MB), which the binaries must not carry.
mkdir -p dist
built=()
no_runtime=()
failed=()
for target in "${targets[@]}"; do
  out="dist/cmdop-$version-$target"
  case "$target" in *windows*) out+=".exe" ;; esac
  log=$(mktemp "${TMPDIR:-/tmp}/cmdop-dist.XXXXXX")
  echo "== $target -> $out"
  if [ "$target" = "$host" ]; then runtime=(env); else runtime=(env -u DENORT_BIN); fi
  if "${runtime[@]}" "$deno" compile --quiet --no-check --target "$target" --output "$out" "${permissions[@]}" \
    --node-modules-dir=none --exclude-unused-npm --include scripts/dist_client_worker.ts "${server_modules[@]}" \
    scripts/dist_main.ts 2>"$log"; then
    built+=("$out")
  elif grep -qE 'Setting up base binary|denort' "$log"; then
    no_runtime+=("$target")
    # Why: the download's error, or a DENORT_BIN that is not there.
    sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -m 1 -oE 'error sending request.*|Could not find denort.*' |
      sed "s/^/  $target: /" >&2
    rm -f "$out"
  else
    cat "$log" >&2
    failed+=("$target")
  fi
  rm -f "$log"
done

if [ "${#built[@]}" -gt 0 ]; then
  (cd dist && sha256sum "${built[@]#dist/}" >SHA256SUMS)
  printf 'built %s\n' "${built[@]}"
fi
if [ "${#no_runtime[@]}" -gt 0 ]; then
  cat >&2 <<MSG
error: deno compile could not get its base runtime (denort $("$deno" --version | awk 'NR==1{print $2}')) for: ${no_runtime[*]}
  It downloads it from Deno's release host, which this machine cannot reach, and npm carries no denort build.
  Set DENORT_BIN=/path/to/denort (a denort of the same version for $host) to build the $host binary:
    make dist DENORT_BIN=/path/to/denort TARGETS=$host
  or run make dist where that host is reachable (the release workflow, on tags v*).
MSG
fi
if [ "${#failed[@]}" -gt 0 ]; then echo "error: deno compile failed for: ${failed[*]}" >&2; fi
[ "${#no_runtime[@]}" -eq 0 ] && [ "${#failed[@]}" -eq 0 ]
