#!/usr/bin/env bash
# make demo: an embedded relay, an agent for this machine, and `cmdop connect` reaching it through the relay.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# Deno would otherwise look for a new version of itself at start.
export DENO_NO_UPDATE_CHECK=1
deno=${DENO:-}
if [ -z "$deno" ]; then
  if [ -x "$root/.tools/node_modules/.bin/deno" ]; then deno="$root/.tools/node_modules/.bin/deno"; else deno=deno; fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cmdop-demo.XXXXXX")
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
  echo "demo: stopped the relay and the agent, removed $work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cmdop() { "$deno" run -A --quiet "$root/main.ts" "$@"; }
# Bold headings on a terminal only: piped or logged output gets no escape codes.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

say "starting an embedded relay (state in $work/relay)"
# Started directly (not through the function) so that $! is deno itself and cleanup reaches it.
"$deno" run -A --quiet "$root/main.ts" relay serve --listen 127.0.0.1:0 --data "$work/relay" \
  >"$work/relay.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
  grep -q "listening on" "$work/relay.log" 2>/dev/null && break
  sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$work/relay.log" | head -n1)
[ -n "$url" ] || { echo "demo: the relay did not start:"; cat "$work/relay.log"; exit 1; }
echo "relay listening on $url"

say "creating workspace \"demo\""
ws=$(cmdop relay workspace create demo --data "$work/relay" --json)
field() { printf '%s' "$ws" | "$deno" eval --quiet "const j = JSON.parse(await new Response(Deno.stdin.readable).text()); console.log(j['$1'])"; }
api_key=$(field api_key)
enroll_token=$(field enroll_token)
echo "workspace created; api key ${api_key:0:8}…  enroll token ${enroll_token:0:8}…"

say "starting an agent for this machine ($(hostname))"
"$deno" run -A --quiet "$root/main.ts" agent run --server "$url" --enroll-token "$enroll_token" \
  --state "$work/agent" --display-name "this machine" >"$work/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
  grep -q "online as machine" "$work/agent.log" 2>/dev/null && break
  sleep 0.05
done
grep -q "online as machine" "$work/agent.log" || { echo "demo: the agent did not come online:"; cat "$work/agent.log"; exit 1; }

export CMDOP_SERVER="$url" CMDOP_API_KEY="$api_key" CMDOP_HOME="$work/home"

say "cmdop connect --list"
cmdop connect --list

say "cmdop connect exec this -- uname -a"
cmdop connect exec this -- uname -a

say "cmdop connect exec this --json -- sh -c 'echo hello; exit 3'"
cmdop connect exec this --json -- sh -c 'echo hello; exit 3' || echo "(exit code $?, the remote's)"

if [ -t 0 ] && [ -t 1 ] && [ -z "${CI:-}" ]; then
  say "cmdop connect  (the picker: type to filter, Enter to attach, Ctrl-D to leave a session, Ctrl-C to quit)"
  cmdop connect || true
else
  echo
  echo "demo: no terminal here, so the interactive picker is skipped."
fi
