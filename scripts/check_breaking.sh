#!/usr/bin/env bash
# make breaking: buf breaking (WIRE_JSON rules) of proto/ against the last released proto, so an agent and a relay of different versions still understand each other.
#
# The base is CMDOP_PROTO_BASE when set (any git revision), else the newest tag v*, else `main`
# when this is another commit, else the commit before this one. Its proto/ is exported with
# git archive, so worktrees and shallow copies of the tree need no .git directory for buf.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

base=${CMDOP_PROTO_BASE:-}
if [ -z "$base" ]; then
  base=$(git tag --list 'v*' --sort=-v:refname 2>/dev/null | head -n 1)
fi
if [ -z "$base" ]; then
  main=$(git rev-parse --verify --quiet main 2>/dev/null || true)
  if [ -n "$main" ] && [ "$main" != "$(git rev-parse HEAD)" ]; then
    base=main
  elif git rev-parse --verify --quiet HEAD~1 >/dev/null; then
    base=HEAD~1
  fi
fi
if [ -z "$base" ] || ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
  echo "buf breaking: no earlier revision to compare proto/ with (${base:-none}); nothing to check"
  exit 0
fi

against=$(mktemp -d "${TMPDIR:-/tmp}/cmdop-proto-base.XXXXXX")
trap 'rm -rf "$against"' EXIT
if ! git archive "$base" proto 2>/dev/null | tar -x -C "$against"; then
  echo "buf breaking: $base has no proto/; nothing to check"
  exit 0
fi

echo "buf breaking: proto/ against $base ($(git rev-parse --short "$base"))"
if ! "$root/scripts/deno" run -A --quiet node_modules/@bufbuild/buf/bin/buf breaking proto \
  --against "$against/proto"; then
  echo "hint: agents and relays are upgraded one at a time: add fields and messages, never" >&2
  echo "      renumber, retype or remove them (reserve the number and name instead)" >&2
  exit 1
fi
