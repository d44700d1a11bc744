#!/usr/bin/env bash
# make install: copies cmdop (its code, node_modules and Deno 2.9) to PREFIX/lib/cmdop and puts the `cmdop` command in PREFIX/bin.
#
# PREFIX defaults to /usr/local (~/.local suits one user); DESTDIR prefixes both for packaging.
# The `cmdop` command runs `relay …` and `agent …` with their grants and every other verb as the
# sandboxed client (docs/permissions.md), always with DENO_NO_UPDATE_CHECK=1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
prefix=${PREFIX:-/usr/local}
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
lib="$prefix/lib/cmdop"
dest_lib="${DESTDIR:-}$lib"
dest_bin="${DESTDIR:-}$prefix/bin"

deno_bin="$root/.tools/node_modules/deno/deno"
if [ ! -x "$deno_bin" ]; then deno_bin=$(command -v deno || true); fi
if [ -z "$deno_bin" ] || ! "$deno_bin" --version 2>/dev/null | grep -q '^deno 2\.9\.'; then
  echo "error: no Deno 2.9 to install with cmdop" >&2
  echo "hint: run make deps first (it installs Deno 2.9.6 into .tools/)" >&2
  exit 1
fi
if [ ! -d node_modules/@connectrpc ]; then
  echo "error: node_modules/ is not populated" >&2
  echo "hint: run make deps first" >&2
  exit 1
fi

# Built beside the old copy and swapped in, so a running relay never sees half a program.
staging="$dest_lib.new.$$"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/scripts" "$staging/.tools/node_modules/.bin" "$dest_bin"
cp -R main.ts deno.json deno.lock README.md src gen docs deploy "$staging/"
cp scripts/deno scripts/cmdop_client.sh scripts/client_env.json "$staging/scripts/"
cp "$deno_bin" "$staging/.tools/node_modules/.bin/deno"
# Development-only packages (buf's 96 MB binary, TypeScript for protoc-gen-es) stay behind.
tar -C "$root" --exclude='node_modules/.deno/@bufbuild+buf*' \
  --exclude='node_modules/.deno/typescript@*' -cf - node_modules | tar -C "$staging" -xf -
find "$staging" -name '*_test.ts' -delete
chmod -R u=rwX,go=rX "$staging"

rm -rf "$dest_lib.old"
if [ -e "$dest_lib" ]; then mv "$dest_lib" "$dest_lib.old"; fi
mv "$staging" "$dest_lib"
rm -rf "$dest_lib.old"

# The relay and agent grants are deno.json's relay and agent tasks'.
cat >"$dest_bin/cmdop.new" <<SCRIPT
#!/bin/sh
# cmdop (installed by make install from $root): relay and agent with their grants, every other verb as the sandboxed client.
lib='$lib'
export DENO_NO_UPDATE_CHECK=1
deno="\$lib/scripts/deno"
case "\${1:-}" in
  relay) exec "\$deno" run --quiet --no-prompt --config "\$lib/deno.json" --allow-read --allow-write \\
    --allow-net --allow-env --allow-sys --allow-ffi "\$lib/main.ts" "\$@" ;;
  agent) exec "\$deno" run --quiet --no-prompt --config "\$lib/deno.json" --allow-run --allow-ffi \\
    --allow-read --allow-write --allow-net --allow-env --allow-sys "\$lib/main.ts" "\$@" ;;
  *) exec "\$lib/scripts/cmdop_client.sh" "\$@" ;;
esac
SCRIPT
chmod 755 "$dest_bin/cmdop.new"
mv "$dest_bin/cmdop.new" "$dest_bin/cmdop"
echo "installed $prefix/bin/cmdop (program in $lib)"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "note: $prefix/bin is not on PATH" ;; esac
