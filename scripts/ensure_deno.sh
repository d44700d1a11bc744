#!/usr/bin/env bash
# Makes a Deno 2.9 available to cmdop's build: the one in .tools/, else one on PATH, else deno@2.9.6 from npm into .tools/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wanted=2.9.6
local_deno="$root/.tools/node_modules/.bin/deno"

# Prints "2.9" for a deno binary, nothing when it does not run.
major_minor() {
  "$1" --version 2>/dev/null | awk 'NR == 1 { split($2, v, "."); print v[1] "." v[2] }'
}

if [ -x "$local_deno" ]; then
  [ "$(major_minor "$local_deno")" = "${wanted%.*}" ] && exit 0
  echo "ensure_deno: .tools/ holds another Deno than ${wanted%.*}: reinstalling deno@$wanted" >&2
elif command -v deno >/dev/null 2>&1; then
  [ "$(major_minor deno)" = "${wanted%.*}" ] && exit 0
  echo "ensure_deno: deno on PATH is $(major_minor deno), cmdop needs ${wanted%.*}: installing deno@$wanted into .tools/" >&2
else
  echo "ensure_deno: deno is not on PATH: installing deno@$wanted into .tools/" >&2
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "error: cmdop needs Deno ${wanted%.*}, and npm is not available to install deno@$wanted into .tools/" >&2
  echo "hint: install Deno $wanted (or Node.js with npm) and run make again" >&2
  exit 1
fi

npm install --prefix "$root/.tools" --save-exact --no-audit --no-fund --loglevel=error "deno@$wanted" >&2
if [ "$(major_minor "$local_deno")" != "${wanted%.*}" ]; then
  echo "error: npm installed deno@$wanted, but $local_deno does not run" >&2
  exit 1
fi
