#!/usr/bin/env bash
# Runs the cmdop client sandboxed: files only under CMDOP_HOME (default ~/.cmdop), the network, and the environment it reads.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# `deno task` starts tasks in the project folder; the client works in the caller's.
if [ -n "${INIT_CWD:-}" ]; then cd "$INIT_CWD"; fi

# The same resolution as src/config/paths.ts: CMDOP_HOME, else $HOME/.cmdop, else $USERPROFILE/.cmdop.
home=${CMDOP_HOME:-}
if [ -z "$home" ]; then
  user_home=${HOME:-${USERPROFILE:-}}
  if [ -z "$user_home" ]; then
    echo "error: cannot tell where the cmdop config folder is" >&2
    echo "hint: set CMDOP_HOME (or HOME) to a folder cmdop may write to" >&2
    exit 1
  fi
  home="$user_home/.cmdop"
fi
# Deno takes permission paths literally (no ~ expansion) and resolves relative ones against the
# working folder, as the client does with a relative CMDOP_HOME.
case "$home" in /*) ;; *) home="$PWD/$home" ;; esac

# The program's own folder is readable too: with --unstable-lazy-dynamic-imports (below) Deno
# reads each module when it is first imported, not the whole program's graph at every start
# (~6 ms of each `cmdop connect exec`, bench/README.md), and a lazily read module needs the grant.
readable=$home,$root
# A custom CA bundle named by the user may sit anywhere: that one file is readable too.
if [ -n "${CMDOP_CA_FILE:-}" ]; then
  case "$CMDOP_CA_FILE" in /*) readable+=",$CMDOP_CA_FILE" ;; *) readable+=",$PWD/$CMDOP_CA_FILE" ;; esac
fi
# So may a share link's file named by --link-file, and an agent's state file named by
# --machine-credential or CMDOP_MACHINE_CREDENTIAL, that one file each, read only (commander
# takes the last flag; the remote command after -- is not cmdop's).
link_file=
machine_file=${CMDOP_MACHINE_CREDENTIAL:-}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --) break ;;
    --link-file) link_file=${args[i + 1]:-} && i=$((i + 1)) ;;
    --link-file=*) link_file=${args[i]#--link-file=} ;;
    --machine-credential) machine_file=${args[i + 1]:-} && i=$((i + 1)) ;;
    --machine-credential=*) machine_file=${args[i]#--machine-credential=} ;;
  esac
done
if [ -n "$link_file" ] && [ "$link_file" != "-" ]; then
  case "$link_file" in /*) readable+=",$link_file" ;; *) readable+=",$PWD/$link_file" ;; esac
fi
if [ -n "$machine_file" ]; then
  case "$machine_file" in /*) readable+=",$machine_file" ;; *) readable+=",$PWD/$machine_file" ;; esac
fi

# cmdop connect cp: a local source is readable (a folder with everything below it); a local
# destination's folder (the destination itself when it is an existing folder) is readable and
# writable, since each file is written to a temporary name beside its final one and renamed.
# HOST:PATH, :PATH (a colon before any slash, as scp reads it) and - add nothing. The same
# reading as copyPaths() in scripts/dist_main.ts.
writable=$home
words=() copy_paths=()
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --) words+=("${args[@]:i+1}") && break ;;
    -k | --api-key | -s | --server | --workspace | --machine-credential | --link-file) i=$((i + 1)) ;;
    -) words+=("-") ;;
    -*) ;;
    *) words+=("${args[i]}") ;;
  esac
done
is_local() {
  [ "$1" != "-" ] || return 1
  case "$1" in *:*) ;; *) return 0 ;; esac
  local before=${1%%:*}
  [[ "$before" == */* ]]
}
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
if [ "${#words[@]}" -eq 4 ] && [ "${words[0]}" = connect ] && [ "${words[1]}" = cp ]; then
  if is_local "${words[2]}"; then
    copy_paths+=("$(absolute "${words[2]}")")
    readable+=",${copy_paths[-1]}"
  fi
  if is_local "${words[3]}"; then
    destination=$(absolute "${words[3]}")
    if [ -d "$destination" ]; then folder=$destination; else folder=$(dirname "$destination"); fi
    copy_paths+=("$folder")
    readable+=",$folder"
    writable+=",$folder"
  fi
fi

# Deno splits permission lists at commas, with no escape.
for path in "$root" "$home" "${CMDOP_CA_FILE:-}" "$link_file" "$machine_file" "${copy_paths[@]}"; do
  if [[ "$path" == *,* ]]; then
    echo "error: cmdop cannot be granted a path with a comma in it: \"$path\"" >&2
    exit 1
  fi
done

# The variables the client may read (its own, commander's, @inquirer/*'s, Node's colour detection),
# shared with the compiled binaries; any other variable reads as unset (--ignore-env).
env_vars=$(tr -d '[:space:]"[]' <"$root/scripts/client_env.json")

exec "$root/scripts/deno" run --quiet --no-prompt --config "$root/deno.json" --unstable-lazy-dynamic-imports \
  --allow-read="$readable" --allow-write="$writable" --allow-net \
  --allow-env="$env_vars" --ignore-env \
  "$root/main.ts" "$@"
