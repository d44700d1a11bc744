#!/usr/bin/env bash
# make check-gen: regenerates the wire protocol code into a temporary folder and fails naming each stale file of gen/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
fresh=$(mktemp -d "${TMPDIR:-/tmp}/cmdop-gen.XXXXXX")
trap 'rm -rf "$fresh"' EXIT

"$root/scripts/deno" run -A --quiet node_modules/@bufbuild/buf/bin/buf generate --output "$fresh"

stale=0
while IFS= read -r file; do
  if [ ! -f "gen/$file" ]; then
    echo "gen/$file is missing: proto/ generates it" >&2
    stale=1
  elif ! cmp -s "$fresh/gen/$file" "gen/$file"; then
    echo "gen/$file is stale: it differs from what proto/ generates" >&2
    stale=1
  fi
done < <(cd "$fresh/gen" && find . -type f | sed 's|^\./||' | sort)
while IFS= read -r file; do
  if [ ! -f "$fresh/gen/$file" ]; then
    echo "gen/$file is stale: proto/ no longer generates it" >&2
    stale=1
  fi
done < <(cd gen && find . -type f | sed 's|^\./||' | sort)

if [ "$stale" -ne 0 ]; then
  echo "hint: run make gen and commit gen/" >&2
  exit 1
fi
echo "gen/ is up to date"
