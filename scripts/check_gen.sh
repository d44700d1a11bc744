#!/usr/bin/env bash
# make check-gen: regenerates the wire protocol code (gen/, src/protocol/lean/) into a temporary folder and fails naming each stale file.
#
# With an argument, the generated files judged are those under that folder instead of this
# checkout's (tests/build/check_gen_test.ts hands it a copy with a file edited by hand).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
tree=${1:-$root}
if [ ! -d "$tree" ]; then
  echo "error: \"$tree\" is not a folder" >&2
  exit 1
fi
fresh=$(mktemp -d "${TMPDIR:-/tmp}/cmdop-gen.XXXXXX")
trap 'rm -rf "$fresh"' EXIT

"$root/scripts/deno" run -A --quiet node_modules/@bufbuild/buf/bin/buf generate --output "$fresh"

# The out folders of buf.gen.yaml's plugins.
outs=(gen src/protocol/lean)
stale=0
for out in "${outs[@]}"; do
  if [ ! -d "$fresh/$out" ]; then
    echo "buf.gen.yaml no longer writes $out/: update scripts/check_gen.sh" >&2
    stale=1
    continue
  fi
  while IFS= read -r file; do
    if [ ! -f "$tree/$out/$file" ]; then
      echo "$out/$file is missing: proto/ generates it" >&2
      stale=1
    elif ! cmp -s "$fresh/$out/$file" "$tree/$out/$file"; then
      echo "$out/$file is stale: it differs from what proto/ generates" >&2
      stale=1
    fi
  done < <(cd "$fresh/$out" && find . -type f | sed 's|^\./||' | sort)
  if [ -d "$tree/$out" ]; then
    while IFS= read -r file; do
      if [ ! -f "$fresh/$out/$file" ]; then
        echo "$out/$file is stale: proto/ no longer generates it" >&2
        stale=1
      fi
    done < <(cd "$tree/$out" && find . -type f | sed 's|^\./||' | sort)
  fi
done

# The share page's files (xterm.js from npm, src/relay/web/page.js and page.css), as the relay
# serves them: judged in this checkout (a folder given as argument holds the protocol's only).
if [ "$tree" = "$root" ]; then
  "$root/scripts/deno" run --allow-read --allow-write --quiet scripts/gen_web_assets.ts "$fresh/web_assets.ts"
  if ! cmp -s "$fresh/web_assets.ts" src/relay/web/assets.generated.ts; then
    echo "src/relay/web/assets.generated.ts is stale: it differs from what scripts/gen_web_assets.ts writes" >&2
    stale=1
  fi
fi

if [ "$stale" -ne 0 ]; then
  echo "hint: run make gen and commit ${outs[*]} src/relay/web/assets.generated.ts" >&2
  exit 1
fi
echo "${outs[*]} and the share page's assets are up to date"
